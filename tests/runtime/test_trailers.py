"""The trailers of a chunked message's last bytes (runtime/trailers.py), as a streamed
response's mid-stream error arrives; served end to end in tests/frontdoors/test_streaming.py."""

from __future__ import annotations

from samrun.runtime.trailers import chunked_trailers, error_body

HEAD = b"POST /r HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"


def test_trailers_after_the_last_chunk_are_read_whatever_the_data_holds() -> None:
    data = b"x\r\n0\r\nFake: no\r\n\r\n"  # chunk data that looks like an end
    message = (
        HEAD + b"%x\r\n%s\r\n" % (len(data), data) + b"0;ext=1\r\nA-Type: Boom\r\nB: x:y\r\n\r\n"
    )
    assert chunked_trailers(message) == {"a-type": "Boom", "b": "x:y"}
    assert chunked_trailers(HEAD + b"0\r\nA: 1\r\n\r\n") == {"a": "1"}  # no data at all
    assert chunked_trailers(HEAD + b"3\r\nabc\r\n0\r\n\r\n") == {}  # none
    assert chunked_trailers(b"3\r\nabc\r\n0\r\nA: 1\r\n") == {}  # not ended


def test_error_body_is_base64_or_taken_as_it_is() -> None:
    assert error_body("eyJhIjogMX0=") == b'{"a": 1}'
    assert error_body("not base64!") == b"not base64!"
