"""What a Parquet column chunk's page headers say its pages expand to, read without decoding a page.

Arrow allocates each page at the size its header declares before it checks
anything else, and nothing ties that size to the footer: a damaged or hostile
file can declare a tiny column in its footer and a 2 GB page in its data.
Summing the page headers' own sizes lets the caller hold them to the limits
before Arrow reads a page.

The headers are Thrift compact-protocol structs. Only the two sizes are kept;
every other field is skipped by its type, so this needs no Parquet schema.
"""

from __future__ import annotations

from collections.abc import Sequence

_STOP, _TRUE, _FALSE, _BYTE, _I16, _I32, _I64, _DOUBLE, _BINARY, _LIST, _SET, _MAP, _STRUCT = range(
    13
)
_UNCOMPRESSED_SIZE, _COMPRESSED_SIZE = 2, 3  # PageHeader field ids
_MAX_DEPTH = 16


class DamagedPage(ValueError):
    """A page header cannot be read: the file is damaged (or made to look like Parquet)."""


def pages_expand_to(data: bytes, start: int, length: int) -> int:
    """The sum of the uncompressed sizes that the page headers in ``data[start:start+length]``
    declare; :class:`DamagedPage` if the headers do not tile that span exactly."""
    end = start + length
    if start < 0 or length < 0 or end > len(data):
        raise DamagedPage("column chunk outside the file")
    total, pos = 0, start
    while pos < end:
        sizes: dict[int, int] = {}
        pos = _struct(data, pos, 0, sizes)
        uncompressed = sizes.get(_UNCOMPRESSED_SIZE, -1)
        compressed = sizes.get(_COMPRESSED_SIZE, -1)
        if uncompressed < 0 or compressed < 0:
            raise DamagedPage("page header without its sizes")
        total += uncompressed
        pos += compressed
    if pos != end:
        raise DamagedPage("pages overrun their column chunk")
    return total


def _varint(data: Sequence[int], pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if pos >= len(data) or shift > 63:
            raise DamagedPage("truncated number")
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7


def _zigzag(value: int) -> int:
    return (value >> 1) ^ -(value & 1)


def _struct(data: bytes, pos: int, depth: int, wanted: dict[int, int] | None = None) -> int:
    """Skip one struct from ``pos``; record its top-level i32 fields in ``wanted``."""
    if depth > _MAX_DEPTH:
        raise DamagedPage("structs nested too deep")
    field = 0
    while True:
        if pos >= len(data):
            raise DamagedPage("truncated struct")
        head = data[pos]
        pos += 1
        if head == _STOP:
            return pos
        kind, delta = head & 0x0F, head >> 4
        if delta:
            field += delta
        else:
            raw, pos = _varint(data, pos)
            field = _zigzag(raw)
        if wanted is not None and kind == _I32:
            raw, pos = _varint(data, pos)
            wanted[field] = _zigzag(raw)
        else:
            pos = _skip(data, pos, kind, depth)


def _skip(data: bytes, pos: int, kind: int, depth: int, in_collection: bool = False) -> int:
    if kind in (_TRUE, _FALSE):
        return pos + 1 if in_collection else pos  # a struct field's boolean lives in its type
    if kind == _BYTE:
        return pos + 1
    if kind in (_I16, _I32, _I64):
        return _varint(data, pos)[1]
    if kind == _DOUBLE:
        return pos + 8
    if kind == _BINARY:
        size, pos = _varint(data, pos)
        return pos + size
    if kind in (_LIST, _SET):
        if pos >= len(data):
            raise DamagedPage("truncated list")
        head = data[pos]
        size, element = head >> 4, head & 0x0F
        pos += 1
        if size == 15:
            size, pos = _varint(data, pos)
        return _skip_items(data, pos, [element], size, depth)
    if kind == _MAP:
        size, pos = _varint(data, pos)
        if size == 0:
            return pos
        if pos >= len(data):
            raise DamagedPage("truncated map")
        types = data[pos]
        return _skip_items(data, pos + 1, [types >> 4, types & 0x0F], size, depth)
    if kind == _STRUCT:
        return _struct(data, pos, depth + 1)
    raise DamagedPage("unknown field type")


def _skip_items(data: bytes, pos: int, kinds: list[int], count: int, depth: int) -> int:
    width = {_TRUE: 1, _FALSE: 1, _BYTE: 1, _DOUBLE: 8}
    if all(kind in width for kind in kinds):
        return pos + count * sum(width[kind] for kind in kinds)
    for _ in range(count):  # every item takes at least a byte, so a lying count runs out of data
        for kind in kinds:
            if pos >= len(data):
                raise DamagedPage("truncated collection")
            pos = _skip(data, pos, kind, depth + 1, in_collection=True)
    return pos
