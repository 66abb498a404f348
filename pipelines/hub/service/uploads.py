"""Reading an upload's body as a stream: the manifest part, then the payload part, nothing else.

The body is never held whole: the manifest (bounded by ``manifest_bytes``) is
read first and checked, then the payload flows chunk by chunk into the
receiver's staging file. Everything is bounded before it is decoded: the body
as a whole, each part's headers, the number of parts. A body that stalls is
refused after ``idle_timeout_s`` without a byte, and any upload after
``deadline_s``; a body cut short (the connection dropped) leaves nothing.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from typing import Any

from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header

from pipelines.hub.service.receive import UploadRefused
from pipelines.standard.api import MANIFEST_PART, PAYLOAD_PART
from pipelines.standard.limits import FILE_BYTES, MANIFEST_BYTES

OVERHEAD_BYTES = 64 * 1024
"""What a body may hold besides the manifest and the payload: part headers and boundaries."""
BODY_BYTES = FILE_BYTES.value + MANIFEST_BYTES.value + OVERHEAD_BYTES
"""The most an upload's body may be; a declared ``Content-Length`` above it is refused unread."""
DRAIN_BYTES = 8 * 1024 * 1024
"""How much of a refused upload is still read, so the client can read the answer."""

Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]


def boundary_of(content_type: str | None) -> bytes:
    """The multipart boundary of a ``Content-Type`` header, or :class:`UploadRefused` (415)."""
    kind, options = parse_options_header((content_type or "")[:512])
    boundary = options.get(b"boundary", b"")
    if kind != b"multipart/form-data" or not 1 <= len(boundary) <= 70:
        raise UploadRefused(
            415,
            "not_multipart",
            f"An upload is multipart/form-data with two parts, '{MANIFEST_PART}' then "
            f"'{PAYLOAD_PART}'; `outcomes submit --hub` and `outcomes outbox send` send it so.",
        )
    return boundary


def _bad(message: str) -> UploadRefused:
    return UploadRefused(400, "bad_upload", message)


class MultipartUpload:
    """One upload's body, read part by part as it arrives."""

    def __init__(
        self,
        receive: Receive,
        boundary: bytes,
        *,
        idle_timeout_s: float,
        deadline_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._receive = receive
        self._idle = idle_timeout_s
        self._clock = clock
        self._deadline = clock() + deadline_s
        self._events: deque[tuple[str, bytes]] = deque()
        self._header = [bytearray(), bytearray()]
        self._headers: dict[bytes, bytes] = {}
        self._ended = False  # the body has no more bytes
        self.received = 0
        self._parser = MultipartParser(
            boundary,
            {
                "on_part_begin": self._on_part_begin,
                "on_header_field": lambda d, s, e: self._header[0].extend(d[s:e]),
                "on_header_value": lambda d, s, e: self._header[1].extend(d[s:e]),
                "on_header_end": self._on_header_end,
                "on_headers_finished": self._on_headers_finished,
                "on_part_data": lambda d, s, e: self._events.append(("data", bytes(d[s:e]))),
                "on_part_end": lambda: self._events.append(("part_end", b"")),
                "on_end": lambda: self._events.append(("end", b"")),
            },
            max_header_count=8,
            max_header_size=1024,
        )
        self._parts = 0

    # --- parser callbacks ----------------------------------------------------------------------

    def _on_part_begin(self) -> None:
        self._headers = {}
        self._parts += 1

    def _on_header_end(self) -> None:
        self._headers[bytes(self._header[0]).strip().lower()] = bytes(self._header[1]).strip()
        self._header = [bytearray(), bytearray()]

    def _on_headers_finished(self) -> None:
        _, options = parse_options_header(self._headers.get(b"content-disposition", b""))
        self._events.append(("part", options.get(b"name", b"")))

    # --- reading ------------------------------------------------------------------------------

    async def _pump(self) -> None:
        """Read the next piece of the body into the parser."""
        chunk = await self._read()
        try:
            self._parser.write(chunk)
        except MultipartParseError:
            raise _bad(
                "The upload is not well-formed multipart/form-data; send it with "
                "`outcomes submit --hub` or `outcomes outbox send`."
            ) from None

    async def _read(self) -> bytes:
        """The next piece of the body, within the timeouts and the body's limit."""
        if self._ended:
            raise _bad(
                "The upload ended before its last part was complete: it was cut short on the "
                "way. Nothing was kept; send the package again."
            )
        left = self._deadline - self._clock()
        try:
            message = await asyncio.wait_for(
                self._receive(), timeout=max(0.0, min(self._idle, left))
            )
        except TimeoutError:
            raise UploadRefused(
                408,
                "too_slow",
                "The upload stalled: the hub stopped waiting for the rest of it. Nothing was "
                "kept; send the package again (outcomes outbox send).",
            ) from None
        if message["type"] == "http.disconnect":
            raise _bad("The connection dropped during the upload. Nothing was kept.")
        chunk = message.get("body", b"")
        self._ended = not message.get("more_body", False)
        self.received += len(chunk)
        if self.received > BODY_BYTES:
            raise UploadRefused(
                413,
                "too_large",
                f"The upload is over {BODY_BYTES:,} bytes ({FILE_BYTES} and the manifest).",
            )
        return bytes(chunk)

    async def _next(self) -> tuple[str, bytes]:
        while not self._events:
            await self._pump()
        return self._events.popleft()

    async def _part(self, wanted: str, position: str) -> None:
        kind, name = await self._next()
        if kind == "end":
            raise _bad(
                f"The upload has no '{wanted}' part: the {position} part must be '{wanted}'."
            )
        if kind != "part" or name != wanted.encode():
            raise _bad(
                f"The {position} part of an upload must be '{wanted}' (the parts are "
                f"'{MANIFEST_PART}' then '{PAYLOAD_PART}')."
            )

    async def manifest(self) -> bytes:
        """The manifest part's bytes, at most ``manifest_bytes`` of them."""
        await self._part(MANIFEST_PART, "first")
        data = bytearray()
        while (event := await self._next())[0] == "data":
            data += event[1]
            if len(data) > MANIFEST_BYTES.value:
                raise UploadRefused(413, "too_large", f"The manifest is over {MANIFEST_BYTES}.")
        return bytes(data)

    async def payload(self) -> AsyncIterator[bytes]:
        """The payload part's bytes as they arrive; ends once the body is complete."""
        await self._part(PAYLOAD_PART, "second")
        while (event := await self._next())[0] == "data":
            yield event[1]
        kind, _ = await self._next()
        if kind != "end":
            raise _bad(
                f"An upload has two parts, '{MANIFEST_PART}' then '{PAYLOAD_PART}'; this one "
                "has more. Nothing was kept."
            )
        while not self._ended:  # what follows the closing boundary is read and ignored
            await self._pump()

    async def drain(self, limit: int = DRAIN_BYTES) -> None:
        """Read (and drop) what is left of a refused body, up to ``limit`` bytes, so the client
        finishes sending and reads the answer; a body that stalls or is larger is left unread."""
        start = self.received
        self._idle = min(self._idle, 5.0)
        try:
            while not self._ended and self.received - start <= limit:
                await self._read()
        except UploadRefused:
            return
