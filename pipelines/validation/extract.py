"""Read an NGO extract (CSV, XLSX or Parquet) into a frame of text, losing nothing.

Every cell is read as text, whatever the file format, so that a wrong type is
reported as a broken rule on a row rather than crashing the reader. Headers
are normalised (case, spaces, hyphens) because the standard says column names
are case-insensitive. Nothing here ever puts a cell value into a message: a
problem is described by its column, its rule and its row number.
"""

from __future__ import annotations

import csv
import io
import math
import re
import unicodedata
import zipfile
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

MAX_FILE_BYTES = 100 * 1024 * 1024
"""Documented size limit of one extract file. The largest NGO's quarter is a few MB."""

_ROW_NUMBER = "_row"


class ExtractError(Exception):
    """The file cannot be read as a table. ``rule`` names what is wrong; ``fix`` says what to do."""

    def __init__(self, rule: str, message: str, fix: str, rows: tuple[int, ...] = ()) -> None:
        super().__init__(message)
        self.rule = rule
        self.message = message
        self.fix = fix
        self.rows = rows


@dataclass(frozen=True)
class Extract:
    """An extract as text: one row per data row, ``_row`` holding its row number."""

    frame: pd.DataFrame
    columns: tuple[str, ...]
    headers: dict[str, str]
    file_format: str
    row_numbering: str

    @property
    def rows(self) -> int:
        return len(self.frame)


def normalise_header(text: str) -> str:
    """``" Client ID "``, ``CLIENT-ID`` and ``Whānau Name`` become ``client_id`` … ``whanau_name``."""
    text = unicodedata.normalize("NFKD", str(text).replace("\ufeff", "").strip().lower())
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    return re.sub(r"[\s\-]+", "_", text)


def _format_of(path: Path, head: bytes) -> str:
    suffix = path.suffix.lower()
    if head.startswith(b"PAR1"):
        return "parquet"
    if head.startswith(b"PK\x03\x04"):
        return "xlsx"
    if suffix in (".xlsx", ".xlsm"):
        raise ExtractError(
            "file.readable",
            f"{path.name} is named as an Excel workbook but is not one.",
            "Save the extract from Excel again as .xlsx, or as CSV UTF-8.",
        )
    if suffix == ".parquet":
        raise ExtractError(
            "file.readable",
            f"{path.name} is named as a Parquet file but is not one.",
            "Export the extract again as Parquet, or as CSV UTF-8.",
        )
    if suffix == ".xls":
        raise ExtractError(
            "file.readable",
            f"{path.name} is an old-style Excel (.xls) file.",
            "Save it from Excel as .xlsx or as CSV UTF-8.",
        )
    return "csv"


def read_extract(path: Path) -> Extract:
    """Read ``path`` as text cells with normalised headers, or raise :class:`ExtractError`."""
    if not path.is_file():
        raise ExtractError("file.readable", f"There is no file at {path}.", "Check the file name.")
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise ExtractError(
            "file.size",
            f"{path.name} is {size / 1024 / 1024:.0f} MB; the limit is "
            f"{MAX_FILE_BYTES // 1024 // 1024} MB per file.",
            "Check that the file holds one NGO's quarter only; a quarter of even the largest "
            "NGO is a few MB. Contact the hub's stewards if yours is genuinely larger.",
        )
    with path.open("rb") as fh:
        head = fh.read(65536)
    if not head.replace(b"\xef\xbb\xbf", b"").strip():
        raise ExtractError(
            "file.has_rows",
            f"{path.name} is empty.",
            "Export the extract again; the file has no content.",
        )
    kind = _format_of(path, head)
    if kind == "parquet":
        return _read_parquet(path)
    if kind == "xlsx":
        return _read_xlsx(path)
    return _read_csv(path, head)


def _check_headers(raw: list[str]) -> tuple[list[str], dict[str, str]]:
    names = [normalise_header(h) for h in raw]
    seen: dict[str, str] = {}
    for name, original in zip(names, raw, strict=True):
        if not name:
            raise ExtractError(
                "file.header",
                "The header row has a column with no name.",
                "Give every column a heading, or delete empty columns.",
            )
        if name in seen:
            raise ExtractError(
                "file.header",
                f"Two columns in the header both read as {name!r}.",
                "Column names are case-insensitive; rename or remove one of them.",
            )
        seen[name] = str(original)
    return names, seen


def _head_text(path: Path, head: bytes) -> str:
    """The first block as text; bytes that are not UTF-8 are refused before any sniffing,
    so that binary content is never misread as a CSV with an odd delimiter."""
    try:
        return head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.reason == "unexpected end of data" and exc.end == len(head):
            return head[: exc.start].decode("utf-8")  # a character cut by the end of the block
        raise ExtractError(
            "file.encoding",
            f"{path.name} is not UTF-8 text.",
            "Save it as 'CSV UTF-8 (comma delimited)'.",
        ) from None


def _read_csv(path: Path, head: bytes) -> Extract:
    if b"\x00" in head:
        raise ExtractError(
            "file.readable",
            f"{path.name} is a binary file, not CSV text.",
            "Export the extract as CSV UTF-8, XLSX or Parquet.",
        )
    text_head = _head_text(path, head).lstrip("\ufeff")
    first_line = text_head.splitlines()[0] if text_head.splitlines() else ""
    header = next(csv.reader(io.StringIO(first_line)), [])
    if len(header) <= 1:
        for delimiter, label in ((";", "semicolons"), ("\t", "tabs"), ("|", "vertical bars")):
            if delimiter in first_line:
                raise ExtractError(
                    "file.delimiter",
                    f"{path.name} separates its columns with {label}, not commas.",
                    "Save it as 'CSV UTF-8 (comma delimited)'.",
                )
    names, headers = _check_headers(header)
    invalid: list[tuple[int, int, int]] = []

    def on_invalid(row: Any) -> str:
        invalid.append((row.number or 0, row.expected_columns, row.actual_columns))
        return "skip"

    try:
        table = pacsv.read_csv(
            path,
            read_options=pacsv.ReadOptions(
                use_threads=False, column_names=names, skip_rows=1, block_size=1 << 22
            ),
            parse_options=pacsv.ParseOptions(invalid_row_handler=on_invalid),
            convert_options=pacsv.ConvertOptions(
                column_types=dict.fromkeys(names, pa.string()),
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )
    except pa.ArrowInvalid as exc:
        # Arrow's own messages can quote row contents; never pass them on.
        if "UTF8" in str(exc) or "utf8" in str(exc).lower():
            raise ExtractError(
                "file.encoding",
                f"{path.name} is not UTF-8 text.",
                "Save it as 'CSV UTF-8 (comma delimited)'.",
            ) from None
        raise ExtractError(
            "file.readable",
            f"{path.name} could not be read as CSV.",
            "Export the extract again as CSV UTF-8 with one header row.",
        ) from None
    if invalid:
        rows = tuple(n for n, _, _ in invalid if n)
        expected = invalid[0][1]
        raise ExtractError(
            "file.shape",
            f"{len(invalid)} row(s) do not have the header's {expected} columns.",
            "Check for commas inside values that are not in quotes, or for line breaks inside cells.",
            rows=rows,
        )
    numbers = pa.array(range(2, table.num_rows + 2), type=pa.int64())
    return Extract(_to_text_frame(table, numbers), tuple(names), headers, "csv", "spreadsheet")


def _read_parquet(path: Path) -> Extract:
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except (pa.ArrowException, OSError):
        raise ExtractError(
            "file.readable",
            f"{path.name} could not be read as Parquet.",
            "Export the extract again as Parquet, or as CSV UTF-8.",
        ) from None
    names, headers = _check_headers(table.column_names)
    table = table.rename_columns(names)
    columns = [_arrow_to_text(table.column(i)) for i in range(table.num_columns)]
    table = pa.table(columns, names=names)
    numbers = pa.array(range(1, table.num_rows + 1), type=pa.int64())
    return Extract(_to_text_frame(table, numbers), tuple(names), headers, "parquet", "data")


def _arrow_to_text(column: pa.ChunkedArray) -> pa.ChunkedArray:
    kind = column.type
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        return column.cast(pa.string())
    if pa.types.is_dictionary(kind):
        return _arrow_to_text(column.cast(kind.value_type))
    if pa.types.is_boolean(kind):
        return pc.if_else(column, "true", "false")
    if pa.types.is_timestamp(kind):
        column = column.cast(pa.date32()) if _all_midnight(column) else column
    if pa.types.is_floating(kind):
        return pa.chunked_array([[_float_text(v) for v in column.to_pylist()]], type=pa.string())
    return column.cast(pa.string())


def _all_midnight(column: pa.ChunkedArray) -> bool:
    valid = column.drop_null()
    if len(valid) == 0:
        return True
    return bool(pc.all(pc.equal(valid, pc.floor_temporal(valid, unit="day"))).as_py())


def _float_text(value: float | None) -> str | None:
    if value is None or math.isnan(value):
        return None
    return str(int(value)) if float(value).is_integer() else repr(value)


def _cell_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        if (value.hour, value.minute, value.second, value.microsecond) == (0, 0, 0, 0):
            return value.date().isoformat()
        return value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float):
        return _float_text(value)
    return str(value)


def _read_xlsx(path: Path) -> Extract:
    import openpyxl

    try:
        workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError):
        raise ExtractError(
            "file.readable",
            f"{path.name} could not be read as an Excel workbook.",
            "Save it from Excel again as .xlsx, or as CSV UTF-8.",
        ) from None
    try:
        sheet = workbook.worksheets[0]
        rows = sheet.iter_rows(values_only=True)
        header_row = next(rows, None)
        if header_row is None or all(v is None for v in header_row):
            raise ExtractError(
                "file.has_rows",
                f"The first sheet of {path.name} is empty.",
                "Put the extract on the first sheet, with its header in row 1.",
            )
        width = len(header_row)
        while width and header_row[width - 1] is None:
            width -= 1
        names, headers = _check_headers([_cell_text(v) or "" for v in header_row[:width]])
        cells: list[list[str | None]] = [[] for _ in names]
        numbers: list[int] = []
        for number, row in enumerate(rows, start=2):
            values = [_cell_text(v) for v in row[:width]]
            if all(v is None or not v.strip() for v in values):
                continue
            values += [None] * (width - len(values))
            for i, value in enumerate(values):
                cells[i].append(value)
            numbers.append(number)
    finally:
        workbook.close()
    table = pa.table([pa.array(c, type=pa.string()) for c in cells], names=names)
    return Extract(
        _to_text_frame(table, pa.array(numbers, type=pa.int64())),
        tuple(names),
        headers,
        "xlsx",
        "spreadsheet",
    )


def _to_text_frame(table: pa.Table, numbers: pa.Array) -> pd.DataFrame:
    """Trim every cell; empty cells become nulls; add the row number column."""
    columns = {}
    for name in table.column_names:
        trimmed = pc.utf8_trim_whitespace(table.column(name))
        columns[name] = pc.if_else(pc.equal(trimmed, ""), pa.scalar(None, pa.string()), trimmed)
    columns[_ROW_NUMBER] = numbers
    return pa.table(columns).to_pandas()
