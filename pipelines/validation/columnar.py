"""Parquet files held to the limits before a column is expanded, then read as text.

Parquet stores a repeated value once (dictionaries, run lengths), so a 1 MB
file can hold twenty million rows or gigabytes of text. Nothing is decoded
until what the file says about itself has been checked, cheapest first:

1. the footer's length, from the file's last eight bytes, before it is parsed;
2. the footer: rows, columns, cells, row groups, and how large each column
   chunk is uncompressed (or, for numbers and dates, once decoded);
3. every page header, for the size it claims (Arrow allocates that much);
4. the text columns, read as dictionaries (indices and distinct values, whose
   size step 2 and 3 bounded), which gives the exact size of their text and
   the length of their longest cell without expanding either.

:func:`check_parquet_limits` is what the hub calls on a sanitised payload
before DuckDB or pandas decodes it; :func:`read_parquet` is the NGO side's
reader, which calls it first.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from pipelines.standard import limits
from pipelines.validation.headers import check_headers, check_width
from pipelines.validation.parquet_pages import DamagedPage, pages_expand_to
from pipelines.validation.source import (
    CELL_FIX,
    ExtractError,
    Source,
    check_file_size,
    over_limit,
    read_source,
)
from pipelines.validation.text import arrow_to_text, not_one_value

_MAGIC = b"PAR1"
_WIDTH = {"BOOLEAN": 1, "INT32": 4, "INT64": 8, "INT96": 12, "FLOAT": 4, "DOUBLE": 8}
"""Bytes a value of each fixed-width physical type decodes to (booleans: a byte, generously)."""
_OFFSET = 4  # bytes a text value costs beyond its characters: its offset


def _unreadable(name: str) -> ExtractError:
    return ExtractError(
        "file.readable",
        f"{name} could not be read as Parquet.",
        "Export the extract again as Parquet, or as CSV UTF-8.",
    )


def check_parquet_limits(source: Path | Source) -> None:
    """Raise :class:`ExtractError` unless the Parquet file is within every limit, reading no more
    than its footer, page headers and dictionaries. ``rule`` is ``file.size`` (with ``limit``
    set) for a limit, ``file.readable`` or ``file.header`` for a file that is not sound."""
    source = read_source(source) if isinstance(source, Path) else source
    check_file_size(source.name, len(source.data))
    parquet = _open(source)
    _check_parquet(source, parquet)


def _open(source: Source) -> pq.ParquetFile:
    data = source.data
    if len(data) < 12 or not data.startswith(_MAGIC) or not data.endswith(_MAGIC):
        raise _unreadable(source.name)
    footer = int.from_bytes(data[-8:-4], "little")
    if footer > limits.PARQUET_FOOTER_BYTES.value:
        raise over_limit(
            limits.PARQUET_FOOTER_BYTES,
            f"The footer of {source.name} is {limits.PARQUET_FOOTER_BYTES.measure(footer)}",
        )
    if footer + 12 > len(data):
        raise _unreadable(source.name)
    try:
        return pq.ParquetFile(
            pa.BufferReader(data),
            thrift_string_size_limit=limits.PARQUET_FOOTER_BYTES.value,
            schema_depth_limit=16,
        )
    except (pa.ArrowException, OSError, ValueError):
        raise _unreadable(source.name) from None


def _check_parquet(source: Source, parquet: pq.ParquetFile) -> None:
    """Check everything the footer, page headers and dictionaries say, cheapest first."""
    meta = parquet.metadata
    check_width(meta.num_columns)
    try:
        schema = parquet.schema_arrow
    except (pa.ArrowException, ValueError):
        raise _unreadable(source.name) from None
    check_headers(schema.names)
    for field in schema:
        if pa.types.is_nested(field.type) or pa.types.is_union(field.type):
            raise not_one_value(field.name, field.type)
    rows = max(meta.num_rows, *(_group_rows(meta, i) for i in range(meta.num_row_groups)), 0)
    _check_rows(source.name, rows, meta.num_columns, meta.num_row_groups)
    decoded = _footer_and_pages(source, meta)
    text = [f.name for f in schema if _is_text(f.type)]
    if text:
        decoded += _text_bytes(source, text, meta.num_row_groups)
    if decoded > limits.PARQUET_DECODED_BYTES.value:
        raise over_limit(
            limits.PARQUET_DECODED_BYTES,
            f"{source.name} decodes to {limits.PARQUET_DECODED_BYTES.measure(decoded)}",
        )


def _group_rows(meta: pq.FileMetaData, i: int) -> int:
    group = meta.row_group(i)
    values = (int(group.column(j).num_values) for j in range(group.num_columns))
    return max(int(group.num_rows), *values, 0)


def _check_rows(name: str, rows: int, columns: int, groups: int) -> None:
    if rows > limits.ROWS.value:
        raise over_limit(limits.ROWS, f"{name} has {rows:,} rows")
    if rows * columns > limits.CELLS.value:
        raise over_limit(
            limits.CELLS, f"{name} has {rows * columns:,} cells ({rows:,} rows × {columns} columns)"
        )
    if groups > limits.PARQUET_ROW_GROUPS.value:
        raise over_limit(
            limits.PARQUET_ROW_GROUPS,
            f"{name} has {groups:,} row groups",
            "Write the file again with larger row groups: most tools' defaults are fine.",
        )


def _footer_and_pages(source: Source, meta: pq.FileMetaData) -> int:
    """What every column chunk decodes to at least, by its footer entry and its page headers;
    text is counted here by its offsets only (its characters come from the dictionaries)."""
    total = 0
    for i in range(meta.num_row_groups):
        group = meta.row_group(i)
        for j in range(group.num_columns):
            chunk = group.column(j)
            # Writers leave the dictionary page's offset unset, or 0, when there is none.
            offsets = [o for o in (chunk.dictionary_page_offset, chunk.data_page_offset) if o]
            try:
                if not offsets:
                    raise DamagedPage("a column chunk without pages")
                pages = pages_expand_to(source.data, min(offsets), chunk.total_compressed_size)
            except DamagedPage:
                raise _unreadable(source.name) from None
            width = _WIDTH.get(chunk.physical_type, _OFFSET)
            if chunk.physical_type == "FIXED_LEN_BYTE_ARRAY":
                width = max(meta.schema.column(j).length, 1)
            total += max(chunk.total_uncompressed_size, pages, chunk.num_values * width)
            if total > limits.PARQUET_DECODED_BYTES.value:
                raise over_limit(
                    limits.PARQUET_DECODED_BYTES,
                    f"{source.name} decodes to more than {limits.PARQUET_DECODED_BYTES.measure(total)}",
                )
    return total


def _is_text(kind: pa.DataType) -> bool:
    """Text or bytes, or a dictionary of them (as Arrow's own schema in the file may say)."""
    if pa.types.is_dictionary(kind):
        return _is_text(kind.value_type)
    return bool(
        pa.types.is_string(kind)
        or pa.types.is_large_string(kind)
        or pa.types.is_binary(kind)
        or pa.types.is_large_binary(kind)
    )


def _text_bytes(source: Source, names: list[str], groups: int) -> int:
    """The characters' bytes of the text columns, from their dictionaries; refuses a cell over
    the cell length limit. Nothing is expanded: a dictionary's value is counted once per use."""
    try:
        parquet = pq.ParquetFile(pa.BufferReader(source.data), read_dictionary=names)
        total = 0
        for i in range(groups):
            group = parquet.read_row_group(i, columns=names, use_threads=False)
            for name, column in zip(names, group.columns, strict=True):
                for chunk in column.chunks:
                    total += _dictionary_bytes(source.name, name, chunk)
                if total > limits.PARQUET_DECODED_BYTES.value:
                    return total
    except (pa.ArrowException, OSError, ValueError):
        raise _unreadable(source.name) from None
    return total


def _dictionary_bytes(file: str, name: str, chunk: pa.Array) -> int:
    if isinstance(chunk, pa.DictionaryArray):
        values, indices = chunk.dictionary, chunk.indices
    else:  # read as plain text after all: count it as it is
        values, indices = chunk, None

    def per_cell(lengths: pa.Array) -> pa.Array:
        return lengths if indices is None else pc.take(lengths, indices)

    sizes = per_cell(pc.binary_length(values))
    limit = limits.CELL_CHARACTERS
    # A cell has no more characters than bytes: count characters only when bytes are over.
    if (pc.max(sizes).as_py() or 0) > limit.value and (
        pc.max(per_cell(_characters(values))).as_py() or 0
    ) > limit.value:
        raise over_limit(
            limit,
            f"Column {name!r} of {file} has a cell of more than {limit.value:,} characters",
            CELL_FIX,
        )
    return int(pc.sum(sizes).as_py() or 0)


def _characters(values: pa.Array) -> pa.Array:
    try:
        return pc.utf8_length(values.cast(pa.string()))
    except pa.ArrowInvalid:  # not UTF-8 text: count bytes, which is what a reader would refuse
        return pc.binary_length(values)


def read_parquet(source: Source) -> tuple[list[str], list[pa.ChunkedArray]]:
    """The Parquet file's column names and its columns as text, each checked against the limits
    before it is decoded."""
    parquet = _open(source)
    _check_parquet(source, parquet)
    try:
        table = parquet.read(use_threads=False)
    except (pa.ArrowException, OSError, ValueError):
        raise _unreadable(source.name) from None
    names = table.column_names
    return names, [arrow_to_text(table.column(i), n) for i, n in enumerate(names)]
