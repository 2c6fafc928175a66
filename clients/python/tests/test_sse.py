"""The event-stream parser on the awkward but legal inputs a proxy may produce."""

from __future__ import annotations

import io

from rollout_client.sse import Event, iter_events


def parse(raw: bytes) -> list:
    return list(iter_events(io.BytesIO(raw)))


def test_events_comments_and_ids() -> None:
    raw = (b": keepalive\n\n"
           b"event: snapshot\nid: 12\ndata: {\"version\": 12}\n\n"
           b": keepalive\n"
           b"event: change\nid: 13\ndata: {\"version\": 13}\n\n")
    assert parse(raw) == [
        Event("snapshot", '{"version": 12}', "12"),
        Event("change", '{"version": 13}', "13"),
    ]


def test_crlf_no_space_and_multiline_data() -> None:
    raw = b"event:change\r\nid:7\r\ndata:a\r\ndata: b\r\n\r\n"
    assert parse(raw) == [Event("change", "a\nb", "7")]


def test_id_carries_over_and_default_event_type() -> None:
    raw = b"id: 3\ndata: x\n\ndata: y\n\n"
    assert parse(raw) == [Event("message", "x", "3"), Event("message", "y", "3")]


def test_incomplete_event_at_eof_is_dropped() -> None:
    assert parse(b"event: change\nid: 5\ndata: {\"half\": 1}\n") == []
    assert parse(b"event: change\nid: 5\ndata: {\"half\"") == []


def test_bom_and_retry() -> None:
    raw = "\ufeffretry: 1000\ndata: z\n\n".encode()
    assert parse(raw) == [Event("message", "z", None, 1000)]


def test_a_line_over_the_cap_ends_the_stream_with_an_error() -> None:
    import pytest
    from rollout_client.sse import StreamTooLong

    class Endless:
        """A line that never ends; counts what the parser asked for."""

        def __init__(self) -> None:
            self.asked = 0

        def readline(self, size: int = -1) -> bytes:
            assert 0 < size < 2 * 1024 * 1024, "the parser never asks for an unbounded line"
            self.asked += 1
            return b"x" * size

    events = iter_events(Endless())
    with pytest.raises(StreamTooLong):
        next(events)
    # Complete events before the long line are delivered first.
    got = []
    with pytest.raises(StreamTooLong):
        for e in iter_events(io.BytesIO(b"data: ok\n\ndata: " + b"y" * 40 + b"\n\n"), max_line=32):
            got.append(e)
    assert got == [Event("message", "ok", None)]
    # A line of exactly the cap, with CRLF, is fine.
    line = b"data: " + b"z" * 26
    assert parse_capped(line + b"\r\n\r\n", 32) == [Event("message", "z" * 26, None)]


def test_an_event_over_the_cap_ends_the_stream_with_an_error() -> None:
    import pytest
    from rollout_client.sse import StreamTooLong

    with pytest.raises(StreamTooLong):
        parse_capped(b"data: 0123456789\n" * 100 + b"\n", 16)


def parse_capped(raw: bytes, max_line: int) -> list:
    return list(iter_events(io.BytesIO(raw), max_line=max_line))
