"""Fuzzing: whatever bytes a reader is given, it returns a table within the limits or refuses
with an ExtractError, never any other exception, and no message quotes a cell.

Property-based tests (Hypothesis) over arbitrary bytes and over structured but
hostile inputs: CSV text with quotes, BOMs, NULs and other encodings; random
zips; damaged workbooks and Parquet files; Parquet columns of every Arrow type;
and cells for the direct-identifier scanner. Every data cell the generators
write may hold PLANTED, which no message may contain. (Header names are
quoted by design: "Two columns both read as 'region'" tells the coordinator
which heading to fix.)

The limits are lowered while fuzzing, so that small inputs reach them and
"within the limits" is checked on every accepted table. Runs are derandomised
and keep no example database, so CI sees the same examples every time.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, suppress
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from unittest import mock

import numpy as np
import openpyxl
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipelines.standard import limits
from pipelines.standard.contract import load_contract
from pipelines.standard.limits import Limit
from pipelines.validation.columnar import check_parquet_limits
from pipelines.validation.extract import Extract, ExtractError, Source, read_extract
from pipelines.validation.identifiers import find_direct_identifiers
from pipelines.validation.parquet_pages import DamagedPage, pages_expand_to

PLANTED = "QZX-PLANT-81"
"""Written into data cells; must never appear in a message."""

FUZZ = settings(
    max_examples=100,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

SMALL = {
    "FILE_BYTES": 64 * 1024,
    "ROWS": 40,
    "COLUMNS": 8,
    "CELLS": 200,
    "CELL_CHARACTERS": 60,
    "COLUMN_NAME_CHARACTERS": 24,
    "WORKBOOK_PART_BYTES": 256 * 1024,
    "WORKBOOK_PARTS": 40,
    "PARQUET_ROW_GROUPS": 6,
    "PARQUET_FOOTER_BYTES": 16 * 1024,
    "PARQUET_DECODED_BYTES": 64 * 1024,
}


@contextmanager
def small_limits() -> Iterator[None]:
    """Every limit lowered, so that fuzzed inputs of a few KB reach them."""
    with ExitStack() as stack:
        for attribute, value in SMALL.items():
            real = getattr(limits, attribute)
            stack.enter_context(
                mock.patch.object(limits, attribute, Limit(real.name, value, real.unit))
            )
        yield


def read_or_refuse(data: bytes, name: str) -> Extract | None:
    """Read ``data`` under the lowered limits; the table if accepted (checked to be within the
    limits), ``None`` if refused (checked to be a clean refusal). Anything else fails."""
    with small_limits():
        try:
            extract = read_extract(Source(name, data))
        except ExtractError as error:
            check_refusal(error)
            return None
        check_within_limits(extract)
    return extract


def check_refusal(error: ExtractError) -> None:
    text = f"{error.message} {error.fix} {error}"
    assert PLANTED not in text
    assert error.rule.startswith("file.")
    assert error.message
    assert error.fix
    assert "Traceback" not in text
    if error.limit is not None:
        assert error.rule == "file.size"
        assert str(error.limit) in error.message


def check_within_limits(extract: Extract) -> None:
    assert extract.rows + extract.blank_rows_skipped <= limits.ROWS.value
    assert len(extract.columns) <= limits.COLUMNS.value
    assert all(len(c) <= limits.COLUMN_NAME_CHARACTERS.value for c in extract.columns)
    for column in extract.columns:
        lengths = extract.frame[column].dropna().map(len)
        assert lengths.empty or lengths.max() <= limits.CELL_CHARACTERS.value
        assert all(isinstance(v, str) for v in extract.frame[column].dropna())
    assert extract.frame["_row"].is_monotonic_increasing


# --- any bytes at all --------------------------------------------------------------------------

NAMES = st.sampled_from(["e.csv", "e.xlsx", "e.parquet", "e.xls", "e.txt", "e"])
MAGIC = st.sampled_from([b"", b"PAR1", b"PK\x03\x04", b"\xef\xbb\xbf", b"a,b\n", b"PK\x05\x06"])


@FUZZ
@given(head=MAGIC, body=st.binary(max_size=4096), name=NAMES)
def test_any_bytes_are_read_or_refused(head: bytes, body: bytes, name: str) -> None:
    """Tests that arbitrary bytes, under any name and after any format's magic number, give a
    table within the limits or an ExtractError, never another exception."""
    read_or_refuse(head + body, name)


# --- CSV text ------------------------------------------------------------------------------------

HEADERS = st.lists(
    st.sampled_from(["client_id", "Client ID", "region", "REGION", "a", "b", "", " ", "x" * 30]),
    min_size=1,
    max_size=6,
)
CELLS = st.one_of(
    st.text(max_size=12),
    st.sampled_from(['"', '""', ",", "\n", "\r\n", "\r", "\x00", "\ufeff", " ", "é", "\t", ";"]),
    st.just(PLANTED),
    st.text(alphabet="0123456789-+() @.", max_size=14),
)


@st.composite
def csv_files(draw: st.DrawFn) -> bytes:
    header = draw(HEADERS)
    rows = draw(st.lists(st.lists(CELLS, max_size=7), max_size=12))
    rows.append([PLANTED] * len(header))
    newline = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    if draw(st.booleans()):  # a well-formed writer
        out = io.StringIO()
        writer = csv.writer(out, lineterminator=newline)
        writer.writerow(header)
        writer.writerows(rows)
        text = out.getvalue()
    else:  # a careless one: nothing quoted
        text = newline.join(",".join(r) for r in [header, *rows]) + newline
    encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "latin-1", "cp1252"]))
    data = text.encode(encoding, errors="replace")
    cut = draw(st.integers(min_value=0, max_value=len(data)))
    return data[:cut] if draw(st.booleans()) else data


@FUZZ
@given(data=csv_files())
def test_hostile_csv_text_is_read_or_refused_without_quoting_a_cell(data: bytes) -> None:
    """Tests that CSV text with stray quotes, delimiters, line breaks, NULs, BOMs, cut short or
    in other encodings is read within the limits or refused, never quoting a data cell."""
    read_or_refuse(data, "extract.csv")


@FUZZ
@given(data=csv_files())
def test_an_accepted_csv_accounts_for_every_record(data: bytes) -> None:
    """Tests that whenever a CSV is accepted, its rows plus its blank rows are every record the
    csv module finds below the header: nothing dropped silently."""
    extract = read_or_refuse(data, "extract.csv")
    if extract is None:
        return
    text = data.decode("utf-8-sig")
    records = list(csv.reader(io.StringIO(text, newline="")))
    assert extract.rows + extract.blank_rows_skipped == len(records) - 1


# --- workbooks -----------------------------------------------------------------------------------


def _workbook(rows: list[list[Any]]) -> bytes:
    book = openpyxl.Workbook()
    for row in rows:
        book.active.append(row)
    raw = io.BytesIO()
    book.save(raw)
    return raw.getvalue()


VALID_XLSX = _workbook(
    [
        ["client_id", "start_date", "sessions", "note"],
        [PLANTED, date(2025, 7, 1), 3, PLANTED],
        ["C2", datetime(2025, 7, 2, 9, 30), 2.5, None],
        [None, None, None, None],
        ["C3", date(2025, 8, 1), True, "=1+1"],
    ]
)
PARTS = [
    "[Content_Types].xml",
    "_rels/.rels",
    "xl/workbook.xml",
    "xl/_rels/workbook.xml.rels",
    "xl/worksheets/sheet1.xml",
    "xl/sharedStrings.xml",
    "xl/styles.xml",
    "docProps/core.xml",
]
XMLISH = st.one_of(
    st.binary(max_size=300),
    st.sampled_from(
        [
            b"",
            b"<?xml version='1.0'?>",
            b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
            b'<sheetData><row r="99999999"><c r="ZZZZ1"><v>' + PLANTED.encode() + b"</v></c>"
            b"</row></sheetData></worksheet>",
            b"<!DOCTYPE x [<!ENTITY a 'b'>]><x>&a;</x>",
            b"<Types><Default Extension='xml' ContentType='x'/></Types>",
            b"\xff\xfe<\x00a\x00/\x00>\x00",
        ]
    ),
)


@st.composite
def random_zips(draw: st.DrawFn) -> bytes:
    raw = io.BytesIO()
    method = draw(st.sampled_from([zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED]))
    with zipfile.ZipFile(raw, "w", method) as archive:
        names = draw(st.lists(st.sampled_from([*PARTS, "x", "../x"]), max_size=8, unique=True))
        for name in names:
            archive.writestr(name, draw(XMLISH))
    return raw.getvalue()


@st.composite
def damaged_workbooks(draw: st.DrawFn) -> bytes:
    data = bytearray(VALID_XLSX)
    how = draw(st.sampled_from(["cut", "flip", "replace", "drop"]))
    if how == "cut":
        return bytes(data[: draw(st.integers(0, len(data)))])
    if how == "flip":
        for _ in range(draw(st.integers(1, 8))):
            data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
        return bytes(data)
    target = draw(st.sampled_from(PARTS[:7]))
    out = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(VALID_XLSX)) as source,
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as copy,
    ):
        for info in source.infolist():
            content = source.read(info)
            if info.filename == target:
                if how == "drop":
                    continue
                content = draw(XMLISH)
            copy.writestr(info, content)
    return out.getvalue()


@settings(FUZZ, max_examples=60)
@given(data=random_zips())
def test_random_zips_are_read_or_refused(data: bytes) -> None:
    """Tests that zips of workbook-like parts holding random bytes, broken or entity-laden XML
    are read within the limits or refused, whatever name they carry."""
    read_or_refuse(data, "extract.xlsx")


@settings(FUZZ, max_examples=120)
@given(data=damaged_workbooks())
def test_damaged_workbooks_are_read_or_refused_without_quoting_a_cell(data: bytes) -> None:
    """Tests that a valid workbook cut short, with flipped bytes, or with a part replaced or
    missing is read within the limits or refused, never quoting a data cell."""
    read_or_refuse(data, "extract.xlsx")


# --- Parquet -----------------------------------------------------------------------------------


def _column(kind: str, n: int, draw: st.DrawFn) -> pa.Array:
    ints = draw(st.lists(st.integers(-(2**40), 2**40) | st.none(), min_size=n, max_size=n))
    texts = draw(st.lists(CELLS | st.none(), min_size=n, max_size=n))
    if kind == "int":
        return pa.array(ints, pa.int64())
    if kind == "float":
        floats = draw(
            st.lists(st.floats(allow_nan=True, allow_infinity=True), min_size=n, max_size=n)
        )
        return pa.array(floats, pa.float64())
    if kind == "bool":
        return pa.array([None if i is None else i % 2 == 0 for i in ints], pa.bool_())
    if kind == "text":
        return pa.array(texts, pa.string())
    if kind == "large_text":
        return pa.array(texts, pa.large_string())
    if kind == "dictionary":
        return pa.array(texts, pa.string()).dictionary_encode()
    if kind == "bytes":
        return pa.array(draw(st.lists(st.binary(max_size=8), min_size=n, max_size=n)), pa.binary())
    if kind == "date":
        return pa.array(
            [None if i is None else date(2025, 1, 1) + timedelta(days=i % 9999) for i in ints]
        )
    if kind == "timestamp":
        return pa.array([None if i is None else i for i in ints], pa.timestamp("us"))
    if kind == "decimal":
        return pa.array(
            [None if i is None else Decimal(i) / 100 for i in ints], pa.decimal128(18, 2)
        )
    if kind == "duration":
        return pa.array(ints, pa.duration("s"))
    if kind == "list":
        return pa.array([None if i is None else [i] for i in ints], pa.list_(pa.int64()))
    if kind == "struct":
        return pa.array([{"t": t} for t in texts], pa.struct([("t", pa.string())]))
    return pa.nulls(n)


KINDS = ["int", "float", "bool", "text", "large_text", "dictionary", "bytes", "date",
         "timestamp", "decimal", "duration", "list", "struct", "null"]  # fmt: skip


@st.composite
def parquet_files(draw: st.DrawFn) -> bytes:
    n = draw(st.integers(0, 30))
    kinds = draw(st.lists(st.sampled_from(KINDS), min_size=1, max_size=5))
    names = draw(
        st.lists(st.sampled_from(["client_id", "Client_ID", "region", "n", "", "x" * 30]),
                 min_size=len(kinds), max_size=len(kinds))
    )  # fmt: skip
    try:
        table = pa.table([_column(k, n, draw) for k in kinds], names=names)
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
        table = pa.table({"client_id": [PLANTED] * n})
    raw = io.BytesIO()
    pq.write_table(
        table,
        raw,
        row_group_size=draw(st.integers(1, 40)),
        compression=draw(st.sampled_from(["none", "snappy", "zstd", "gzip"])),
        use_dictionary=draw(st.booleans()),
    )
    return raw.getvalue()


@st.composite
def damaged_parquet(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(parquet_files()))
    if draw(st.booleans()):
        return bytes(data[: draw(st.integers(0, len(data)))])
    for _ in range(draw(st.integers(1, 8))):
        data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
    return bytes(data)


@settings(FUZZ, max_examples=120)
@given(data=parquet_files())
def test_parquet_of_every_type_is_read_or_refused(data: bytes) -> None:
    """Tests that Parquet files of every Arrow type (lists, structures, bytes that are not text,
    NaN and infinity included), in any row groups and compression, are read within the limits
    or refused by column name and type, never quoting a cell."""
    read_or_refuse(data, "extract.parquet")


@settings(FUZZ, max_examples=150)
@given(data=damaged_parquet())
def test_damaged_parquet_is_read_or_refused(data: bytes) -> None:
    """Tests that a Parquet file cut short or with flipped bytes (footer, page headers, data) is
    read within the limits or refused, by the NGO's reader and by the hub's check alike."""
    read_or_refuse(data, "extract.parquet")
    with small_limits():
        try:
            check_parquet_limits(Source("data.parquet", data))
        except ExtractError as error:
            check_refusal(error)


@FUZZ
@given(data=st.binary(max_size=600), start=st.integers(-8, 700), length=st.integers(-8, 700))
def test_page_headers_of_any_bytes_give_a_size_or_a_damaged_page(
    data: bytes, start: int, length: int
) -> None:
    """Tests that the page-header scanner, on any bytes and any span, returns a size or raises
    DamagedPage, never another exception or a hang."""
    with suppress(DamagedPage):
        assert pages_expand_to(data, start, length) >= 0


# --- the direct-identifier scanner -----------------------------------------------------------------

LOOKALIKES = st.one_of(
    st.text(max_size=40),
    st.from_regex(r"0\d{1,2}[ -]?\d{3}[ -]?\d{3,4}", fullmatch=True),  # phone-like
    st.from_regex(r"[A-Z]{3}\d{4}", fullmatch=True),  # NHI-like
    st.from_regex(r"\d{2,3}-\d{3}-\d{3}", fullmatch=True),  # IRD-like
    st.from_regex(r"[a-z.]{1,8}@[a-z]{1,6}\.[a-z]{2,3}", fullmatch=True),  # email-like
    st.from_regex(r"\d{1,2}/\d{1,2}/(19|20)\d{2}", fullmatch=True),  # date-like
    st.just(PLANTED),
    st.none(),
)
COLUMNS = ["client_id", "episode_id", "region", "programme", "sessions", "start_date",
           "notes", "Full Name", "phone", "x"]  # fmt: skip


@st.composite
def frames(draw: st.DrawFn) -> pd.DataFrame:
    n = draw(st.integers(0, 25))
    names = draw(st.lists(st.sampled_from(COLUMNS), min_size=1, max_size=5, unique=True))
    frame = pd.DataFrame(
        {c: draw(st.lists(LOOKALIKES, min_size=n, max_size=n)) for c in names}, dtype=object
    )
    frame["_row"] = np.arange(2, n + 2)
    if draw(st.booleans()):
        frame["_submission"] = draw(
            st.lists(st.sampled_from(["s1", "s2", None]), min_size=n, max_size=n)
        )
    return frame


@settings(FUZZ, max_examples=150)
@given(frame=frames(), dataset=st.sampled_from(["episodes", "assessments"]))
def test_the_identifier_scanner_finds_or_not_and_never_quotes_a_value(
    frame: pd.DataFrame, dataset: str
) -> None:
    """Tests that find_direct_identifiers, on any cells (identifier look-alikes, any Unicode,
    nulls), in single or batch mode, returns findings that name columns and rows only."""
    findings = find_direct_identifiers(frame, load_contract(dataset))
    for finding in findings:
        assert PLANTED not in repr(finding)
        assert finding.column in frame.columns
        assert all(isinstance(r, int) for r in finding.rows)
        assert set(finding.rows) <= set(frame["_row"])


def test_the_generators_reach_acceptance_as_well_as_refusal() -> None:
    """Tests that the structured generators are not all refusals: a plain CSV, the valid
    workbook and a plain Parquet file are accepted under the lowered limits."""
    for data, name in [
        (f"client_id,n\n{PLANTED},1\n".encode(), "e.csv"),
        (VALID_XLSX, "e.xlsx"),
        (_parquet_bytes(pa.table({"client_id": [PLANTED], "n": [1]})), "e.parquet"),
    ]:
        extract = read_or_refuse(data, name)
        assert extract is not None, name
        assert extract.rows >= 1, name


def _parquet_bytes(table: pa.Table) -> bytes:
    raw = io.BytesIO()
    pq.write_table(table, raw)
    return raw.getvalue()
