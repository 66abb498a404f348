"""XLSX workbooks: the zip directory held to the limits before any part is opened, then every row
of the first sheet read, whatever the sheet says its size is.

An XLSX file is a zip of XML parts, and deflate lets a few megabytes hold
gigabytes of XML. The directory says how large each part is, so the parts are
counted and measured there first; Python's zip reader then refuses any part
that expands to more than its directory entry said. XML parts that declare a
document type are refused too: Excel never writes one, and it is how XML
entities multiply a small part into a huge one.

A sheet's ``<dimension>`` element is a hint that export tools often leave
stale, and openpyxl's read-only mode stops where it says the sheet ends. The
hint is discarded (``reset_dimensions``), so every row is read; rows that are
blank are skipped and counted, so the coordinator is told.
"""

from __future__ import annotations

import io
import re
import warnings
import zipfile
from collections.abc import Iterator
from typing import Any

import pyarrow as pa

from pipelines.standard import limits
from pipelines.validation.findings import MAX_ROWS_LISTED
from pipelines.validation.headers import check_headers, check_width
from pipelines.validation.source import ExtractError, Source, over_limit
from pipelines.validation.text import cell_text

_CENTRAL_ENTRY = b"PK\x01\x02"
_PROLOG_BYTES = 65536
_PROLOG = re.compile(rb"\s*(?:<\?.*?\?>|<!--.*?-->)", re.DOTALL)  # declaration, PIs, comments
_ROOT = re.compile(rb"<[A-Za-z_:]")
_FLUSH_ROWS = 65536  # rows gathered as Python values before they become Arrow text
_RESAVE = (
    "Save the workbook again from Excel as .xlsx with only the extract on its first sheet, "
    "or export the extract as CSV UTF-8."
)


def _unreadable(name: str) -> ExtractError:
    return ExtractError(
        "file.readable",
        f"{name} could not be read as an Excel workbook.",
        "Save it from Excel again as .xlsx, or as CSV UTF-8.",
    )


def check_workbook(source: Source) -> None:
    """Refuse a workbook whose zip directory breaks a limit, or whose XML declares entities,
    having decompressed at most the first 64 KB of each part."""
    data, name = source.data, source.name
    # Counted before the directory is parsed: parsing it costs memory per entry. A signature
    # inside a stored part would be over-counted, never under-counted.
    parts = data.count(_CENTRAL_ENTRY)
    if parts > limits.WORKBOOK_PARTS.value:
        raise over_limit(limits.WORKBOOK_PARTS, f"{name} has {parts:,} parts", _RESAVE)
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            entries = archive.infolist()
            for entry in entries:
                if entry.file_size > limits.WORKBOOK_PART_BYTES.value:
                    raise over_limit(
                        limits.WORKBOOK_PART_BYTES,
                        f"One part of {name} expands to "
                        f"{limits.WORKBOOK_PART_BYTES.measure(entry.file_size)}",
                        _RESAVE,
                    )
            expanded = sum(e.file_size for e in entries)
            if expanded > limits.WORKBOOK_COMPRESSION_RATIO.value * len(data):
                raise over_limit(
                    limits.WORKBOOK_COMPRESSION_RATIO,
                    f"{name} expands to {expanded / len(data):,.0f} times its size",
                    _RESAVE,
                )
            for entry in entries:
                with archive.open(entry) as part:
                    head = part.read(_PROLOG_BYTES)
                _check_prolog(name, head, complete=len(head) == entry.file_size)
    except ExtractError:
        raise
    except Exception:  # a damaged zip fails in a dozen ways; each means the same to the NGO
        raise _unreadable(name) from None


def _check_prolog(name: str, head: bytes, *, complete: bool) -> None:
    """Refuse an XML part whose prolog declares a document type, or runs on past 64 KB."""
    text = head.removeprefix(b"\xef\xbb\xbf").replace(b"\x00", b"")  # UTF-16 ASCII, as bytes
    if text.startswith((b"\xff\xfe", b"\xfe\xff")):
        text = text[2:]
    if not text.lstrip().startswith(b"<"):
        return  # not XML (a picture, say): nothing parses it as XML
    pos = 0
    while (match := _PROLOG.match(text, pos)) and match.end() > pos:
        pos = match.end()
    rest = text[pos:].lstrip()
    if _ROOT.match(rest):
        return  # the root element: no declaration can come after it
    if rest.startswith(b"<!") and not rest.startswith(b"<!--"):
        raise ExtractError(
            "file.readable",
            f"{name} holds XML with a document type declaration, which Excel never writes.",
            "Save the workbook again from Excel as .xlsx, or export the extract as CSV UTF-8.",
        )
    if not complete:
        raise _unreadable(name)  # a prolog longer than 64 KB: no spreadsheet writes one


class _Columns:
    """Cells gathered column by column, turned into Arrow text every ``_FLUSH_ROWS`` rows."""

    def __init__(self, width: int) -> None:
        self.width = width
        self.pending: list[list[str | None]] = [[] for _ in range(self.width)]
        self.chunks: list[list[pa.Array]] = [[] for _ in range(self.width)]
        self.numbers: list[int] = []

    def add(self, number: int, values: list[str | None]) -> None:
        for column, value in zip(self.pending, values, strict=True):
            column.append(value)
        self.numbers.append(number)
        if len(self.pending[0]) >= _FLUSH_ROWS:
            self.flush()

    def flush(self) -> None:
        for i, column in enumerate(self.pending):
            self.chunks[i].append(pa.array(column, type=pa.string()))
            self.pending[i] = []

    def arrays(self) -> list[pa.ChunkedArray]:
        self.flush()
        return [pa.chunked_array(c, type=pa.string()) for c in self.chunks]


def read_workbook(source: Source) -> tuple[list[str], list[pa.ChunkedArray], pa.Array, int]:
    """The first sheet's header, its data rows as text, their sheet row numbers, and how many
    blank rows were skipped."""
    check_workbook(source)
    import openpyxl  # slow to import; only workbooks need it

    # openpyxl warns about what it leaves out (data validation, stylesheets); none of it is
    # data, and a warning printed with a module path reads like a fault to the coordinator.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            book = openpyxl.load_workbook(io.BytesIO(source.data), read_only=True, data_only=True)
        except Exception:  # damaged XML, missing parts, bad values: all "not a readable workbook"
            raise _unreadable(source.name) from None
        try:
            return _read_first_sheet(source.name, book)
        except ExtractError:
            raise
        except Exception:
            raise _unreadable(source.name) from None
        finally:
            book.close()


def _read_first_sheet(
    name: str, book: Any
) -> tuple[list[str], list[pa.ChunkedArray], pa.Array, int]:
    if not book.worksheets:
        raise _unreadable(name)
    sheet = book.worksheets[0]
    sheet.reset_dimensions()  # the sheet's own <dimension> may be stale: read to its last row
    rows: Iterator[tuple[Any, ...]] = sheet.iter_rows(values_only=True)
    header_row = next(rows, None)
    if header_row is None or all(_blank(v) for v in header_row):
        raise ExtractError(
            "file.has_rows",
            f"The first sheet of {name} is empty.",
            "Put the extract on the first sheet, with its header in row 1.",
        )
    width = len(header_row)
    while width and _blank(header_row[width - 1]):
        width -= 1
    check_width(width)
    raw = [cell_text(v) or "" for v in header_row[:width]]
    check_headers(raw)
    columns = _Columns(width)
    blank, beyond_count = 0, 0
    beyond: list[int] = []
    for number, row in enumerate(rows, start=2):
        _check_size(name, number - 1, width)
        values = [cell_text(v) for v in row[:width]]
        values += [None] * (width - len(values))
        if any(not _blank(v) for v in row[width:]):
            beyond_count += 1
            if len(beyond) < MAX_ROWS_LISTED:
                beyond.append(number)
        if all(v is None or not v.strip() for v in values):
            blank += 1
            continue
        columns.add(number, values)
    if beyond_count:
        raise ExtractError(
            "file.shape",
            f"{beyond_count} row(s) have values to the right of the header's last column "
            f"(column {width}).",
            "Give those columns a heading in row 1, or delete the values to the right of "
            "the last heading.",
            rows=tuple(beyond),
        )
    return raw, columns.arrays(), pa.array(columns.numbers, type=pa.int64()), blank


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _check_size(name: str, rows: int, width: int) -> None:
    """Refuse as soon as the rows read so far (blank ones included) pass a limit."""
    for limit, amount in ((limits.ROWS, rows), (limits.CELLS, rows * width)):
        if amount > limit.value:
            raise over_limit(limit, f"The first sheet of {name} has more than {limit.amount}")
