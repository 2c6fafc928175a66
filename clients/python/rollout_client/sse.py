"""A minimal Server-Sent Events parser (the WHATWG event-stream format).

Only what the controller's `/v1/flags/stream` needs, but parsed by the spec rather than by
line-prefix guessing, so comments, multi-line `data`, CRLF line ends and a field without a
space after the colon all work with any proxy in between.

A line longer than `MAX_LINE` bytes (or an event whose data passes `MAX_EVENT`) raises
`StreamTooLong`: the caller drops the stream and reconnects, keeping its last table; memory
never grows without bound.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator, List, Optional, Protocol


MAX_LINE = 1024 * 1024
MAX_EVENT = 4 * MAX_LINE


class LineReader(Protocol):
    def readline(self, size: int = -1) -> bytes: ...


class StreamTooLong(ValueError):
    """The event stream has a line (or an event) over the cap."""


@dataclass(frozen=True)
class Event:
    event: str
    data: str
    id: Optional[str]
    retry: Optional[int] = None


def iter_events(stream: LineReader, max_line: int = MAX_LINE) -> Iterator[Event]:
    """Yield events from a byte stream until EOF.

    An incomplete event at EOF is dropped, as the spec requires: a half-received change
    must never be applied. `readline(size)` must return b"" only at EOF, and at most `size`
    bytes. A line over `max_line` bytes (an event over 4 times that) raises StreamTooLong.
    """
    data_len = 0
    event_type = ""
    data: List[str] = []
    last_id: Optional[str] = None
    retry: Optional[int] = None
    saw_field = False
    first = True
    while True:
        # The line, its end (up to 2 bytes: CRLF) and one byte more, to tell "too long".
        raw = stream.readline(max_line + 3)
        if not raw:
            return
        if len(raw.rstrip(b"\r\n")) > max_line:
            raise StreamTooLong(f"the event stream has a line longer than {max_line} bytes")
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
            event_type, data, retry, saw_field, data_len = "", [], None, False, 0
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
            data_len += len(value) + 1
            if data_len > 4 * max_line:
                raise StreamTooLong(f"the event stream has an event longer than {4 * max_line} bytes")
            data.append(value)
        elif name == "id":
            if "\x00" not in value:
                last_id = value
        elif name == "retry":
            if value.isdigit():
                retry = int(value)
