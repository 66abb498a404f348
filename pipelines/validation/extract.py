"""Read an NGO extract (CSV, XLSX or Parquet) into a frame of text: the whole file, or a refusal.

Every cell is read as text, whatever the file format, so that a wrong type is
reported as a broken rule on a row rather than crashing the reader. Headers
are normalised (case, spaces, hyphens) because the standard says column names
are case-insensitive. A file is read whole or refused: no reader trusts what
a file says about its own size, every row is read, and rows that are blank are
skipped and counted so the coordinator is told. Every input is held to the
limits in :mod:`pipelines.standard.limits` before it is decoded.

Nothing here ever puts a cell value into a message: a problem is described by
its column, its rule and its row number.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from pipelines.standard import limits
from pipelines.validation.findings import MAX_ROWS_LISTED
from pipelines.validation.headers import check_headers, check_width, normalise_header
from pipelines.validation.source import (
    CELL_FIX,
    ExtractError,
    Source,
    check_file_size,
    over_limit,
    read_source,
)

__all__ = ["Extract", "ExtractError", "Source", "normalise_header", "read_extract", "read_source"]

_ROW_NUMBER = "_row"
_HEAD = 65536


@dataclass(frozen=True)
class Extract:
    """An extract as text: one row per data row, ``_row`` holding its row number.

    ``blank_rows_skipped`` counts the rows below the header with no value in
    any cell; they are not in ``frame`` and not in ``rows``.
    """

    frame: pd.DataFrame = field(repr=False)  # rows never reach a log line through a repr
    columns: tuple[str, ...]
    headers: dict[str, str]
    file_format: str
    row_numbering: str
    blank_rows_skipped: int = 0

    @property
    def rows(self) -> int:
        return len(self.frame)


def _format_of(name: str, head: bytes) -> str:
    suffix = Path(name).suffix.lower()
    if head.startswith(b"PAR1"):
        return "parquet"
    if head.startswith(b"PK\x03\x04"):
        return "xlsx"
    if suffix in (".xlsx", ".xlsm"):
        raise ExtractError(
            "file.readable",
            f"{name} is named as an Excel workbook but is not one.",
            "Save the extract from Excel again as .xlsx, or as CSV UTF-8.",
        )
    if suffix == ".parquet":
        raise ExtractError(
            "file.readable",
            f"{name} is named as a Parquet file but is not one.",
            "Export the extract again as Parquet, or as CSV UTF-8.",
        )
    if suffix == ".xls":
        raise ExtractError(
            "file.readable",
            f"{name} is an old-style Excel (.xls) file.",
            "Save it from Excel as .xlsx or as CSV UTF-8.",
        )
    return "csv"


def read_extract(file: Path | Source) -> Extract:
    """Read a file (by path, or already read by :func:`read_source`) as text cells with
    normalised headers, or raise :class:`ExtractError`."""
    source = read_source(file) if isinstance(file, Path) else file
    check_file_size(source.name, len(source.data))
    head = source.data[:_HEAD]
    if not head.replace(b"\xef\xbb\xbf", b"").strip():
        raise ExtractError(
            "file.has_rows",
            f"{source.name} is empty.",
            "Export the extract again; the file has no content.",
        )
    kind = _format_of(source.name, head)
    blank = 0
    if kind == "parquet":
        from pipelines.validation.columnar import read_parquet

        raw, columns = read_parquet(source)
        numbers = pa.array(range(1, (len(columns[0]) if columns else 0) + 1), type=pa.int64())
        numbering = "data"
    elif kind == "xlsx":
        from pipelines.validation.workbook import read_workbook

        raw, columns, numbers, blank = read_workbook(source)
        numbering = "spreadsheet"
    else:
        raw, columns = _read_csv(source, head)
        numbers = pa.array(range(2, (len(columns[0]) if columns else 0) + 2), type=pa.int64())
        numbering = "spreadsheet"
    names, headers = check_headers(raw)
    frame, more_blank = _to_text_frame(names, columns, numbers)
    return Extract(frame, tuple(names), headers, kind, numbering, blank + more_blank)


def _check_utf8(source: Source) -> None:
    """Refuse a file that is not UTF-8 anywhere in it, before any sniffing (so binary content is
    never misread as a CSV with an odd delimiter) and before parsing (Arrow's handling of a
    ragged row would otherwise fail on it outside any error handling). Checked by Arrow in
    place: no copy of the file is made."""
    size = len(source.data)
    offsets = pa.array([0, size], type=pa.int64()).buffers()[1]
    text = pa.Array.from_buffers(pa.large_string(), 1, [None, offsets, pa.py_buffer(source.data)])
    try:
        text.validate(full=True)
    except pa.ArrowInvalid:
        raise _not_utf8(source.name) from None


def _head_text(head: bytes) -> str:
    """The first block as text (the whole file is UTF-8, but the block may cut a character)."""
    try:
        return head.decode("utf-8")
    except UnicodeDecodeError as exc:
        return head[: exc.start].decode("utf-8")


def _not_utf8(name: str) -> ExtractError:
    return ExtractError(
        "file.encoding", f"{name} is not UTF-8 text.", "Save it as 'CSV UTF-8 (comma delimited)'."
    )


def _csv_header(source: Source, head: bytes) -> list[str]:
    name = source.name
    if b"\x00" in head:
        raise ExtractError(
            "file.readable",
            f"{name} is a binary file, not CSV text.",
            "Export the extract as CSV UTF-8, XLSX or Parquet.",
        )
    _check_utf8(source)
    text_head = _head_text(head).lstrip("\ufeff")
    first_line = text_head.splitlines()[0] if text_head.splitlines() else ""
    try:
        header = next(csv.reader(io.StringIO(first_line)), [])
    except csv.Error:
        raise _not_csv(name) from None
    if not "".join(header).strip():
        raise ExtractError(
            "file.header",
            f"The first line of {name} is blank; it must hold the column headings.",
            "Put the header in row 1, with no blank lines above it.",
        )
    if len(header) <= 1:
        for delimiter, label in ((";", "semicolons"), ("\t", "tabs"), ("|", "vertical bars")):
            if delimiter in first_line:
                raise ExtractError(
                    "file.delimiter",
                    f"{name} separates its columns with {label}, not commas.",
                    "Save it as 'CSV UTF-8 (comma delimited)'.",
                )
    return header


def _not_csv(name: str) -> ExtractError:
    return ExtractError(
        "file.readable",
        f"{name} could not be read as CSV.",
        "Export the extract again as CSV UTF-8 with one header row.",
    )


def _read_csv(source: Source, head: bytes) -> tuple[list[str], list[pa.ChunkedArray]]:
    """Every record of the CSV (blank ones too, so row numbers stay the sheet's), as text."""
    header = _csv_header(source, head)
    check_width(len(header))
    labels = [f"c{i}" for i in range(len(header))]  # names are checked later, for every format
    invalid: list[int] = []
    counts = {"invalid": 0}

    def on_invalid(row: Any) -> str:
        counts["invalid"] += 1
        if len(invalid) < MAX_ROWS_LISTED:
            invalid.append(row.number or 0)
        return "skip" if counts["invalid"] <= MAX_ROWS_LISTED else "error"  # enough to refuse

    batches: list[pa.RecordBatch] = []
    rows = 0
    try:
        reader = pacsv.open_csv(
            pa.BufferReader(source.data),
            read_options=pacsv.ReadOptions(
                use_threads=False, column_names=labels, skip_rows=1, block_size=1 << 22
            ),
            parse_options=pacsv.ParseOptions(
                invalid_row_handler=on_invalid, ignore_empty_lines=False
            ),
            convert_options=pacsv.ConvertOptions(
                column_types=dict.fromkeys(labels, pa.string()),
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )
        for batch in reader:
            rows += batch.num_rows
            _check_size(source.name, rows + counts["invalid"], len(header))
            batches.append(batch)
    except pa.ArrowInvalid as exc:
        if counts["invalid"] > MAX_ROWS_LISTED:
            pass  # refused below, by row number
        # Arrow's own messages can quote row contents; never pass them on.
        elif "utf8" in str(exc).lower():
            raise _not_utf8(source.name) from None
        else:
            raise _not_csv(source.name) from None
    except (pa.ArrowException, OSError, ValueError):
        raise _not_csv(source.name) from None
    if counts["invalid"]:
        many = counts["invalid"] > MAX_ROWS_LISTED
        count = f"More than {MAX_ROWS_LISTED:,}" if many else str(counts["invalid"])
        raise ExtractError(
            "file.shape",
            f"{count} row(s) do not have the header's {len(header)} columns.",
            "Check for commas inside values that are not in quotes, or for line breaks inside cells.",
            rows=tuple(n for n in invalid if n),
        )
    schema = pa.schema([pa.field(label, pa.string()) for label in labels])
    table = pa.Table.from_batches(batches, schema=schema)
    return header, list(table.columns)


def _check_size(name: str, rows: int, columns: int) -> None:
    """Refuse as soon as the rows read so far (blank ones included) pass a limit."""
    for limit, amount in ((limits.ROWS, rows), (limits.CELLS, rows * columns)):
        if amount > limit.value:
            raise over_limit(limit, f"{name} has more than {limit.amount}")


def _to_text_frame(
    names: list[str], columns: list[pa.ChunkedArray], numbers: pa.Array
) -> tuple[pd.DataFrame, int]:
    """Trim every cell; empty cells become nulls; drop and count the rows with no value at all;
    refuse a cell over the length limit; add the row number column."""
    trimmed: dict[str, Any] = {}
    for name, column in zip(names, columns, strict=True):
        text = pc.utf8_trim_whitespace(column)
        trimmed[name] = pc.if_else(pc.equal(text, ""), pa.scalar(None, pa.string()), text)
    trimmed[_ROW_NUMBER] = numbers
    table = pa.table(trimmed)
    blank = 0
    if names:
        filled = pc.invert(_all_null(table, names))
        blank = len(table) - int(pc.sum(filled).as_py() or 0)
        if blank:
            table = table.filter(filled)
    _check_cell_length(table, names)
    return table.to_pandas(), blank


def _all_null(table: pa.Table, names: list[str]) -> pa.ChunkedArray:
    mask = pc.is_null(table.column(names[0]))
    for name in names[1:]:
        mask = pc.and_(mask, pc.is_null(table.column(name)))
    return mask


def _check_cell_length(table: pa.Table, names: list[str]) -> None:
    limit = limits.CELL_CHARACTERS
    for name in names:
        lengths = pc.utf8_length(table.column(name))
        if (pc.max(lengths).as_py() or 0) > limit.value:
            first = pc.index(pc.greater(lengths, limit.value), True).as_py()
            row = table.column(_ROW_NUMBER)[first].as_py()
            raise over_limit(
                limit,
                f"Row {row:,}, column {name!r} has a cell of more than {limit.value:,} characters",
                CELL_FIX,
            )
