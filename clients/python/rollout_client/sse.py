"""A minimal Server-Sent Events parser (the WHATWG event-stream format).

Only what the controller's `/v1/flags/stream` needs, but parsed by the spec rather than by
line-prefix guessing, so comments, multi-line `data`, CRLF line ends and a field without a
space after the colon all work with any proxy in between.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator, List, Optional, Protocol


class LineReader(Protocol):
    def readline(self) -> bytes: ...


@dataclass(frozen=True)
class Event:
    event: str
    data: str
    id: Optional[str]
    retry: Optional[int] = None


def iter_events(stream: LineReader) -> Iterator[Event]:
    """Yield events from a byte stream until EOF.

    An incomplete event at EOF is dropped, as the spec requires: a half-received change
    must never be applied. `readline()` must return b"" only at EOF.
    """
    event_type = ""
    data: List[str] = []
    last_id: Optional[str] = None
    retry: Optional[int] = None
    saw_field = False
    first = True
    while True:
        raw = stream.readline()
        if not raw:
            return
        if not raw.endswith(b"\n") and not raw.endswith(b"\r"):
            return  # EOF in the middle of a line: the event is incomplete
        line = raw.decode("utf-8", errors="replace").rstrip("\r\n")
        if first:
            first = False
            if line.startswith("\ufeff"):
                line = line[1:]
        if line == "":
            if saw_field and data:
                yield Event(event_type or "message", "\n".join(data), last_id, retry)
            event_type, data, retry, saw_field = "", [], None, False
            continue
        if line.startswith(":"):
            continue  # comment, e.g. ": keepalive"
        name, sep, value = line.partition(":")
        if sep and value.startswith(" "):
            value = value[1:]
        saw_field = True
        if name == "event":
            event_type = value
        elif name == "data":
            data.append(value)
        elif name == "id":
            if "\x00" not in value:
                last_id = value
        elif name == "retry":
            if value.isdigit():
                retry = int(value)
