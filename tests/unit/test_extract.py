"""Reading extracts: CSV, XLSX and Parquet become the same text cells, or a clear refusal."""

from __future__ import annotations

import csv
import json
import re
import zipfile
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path

import openpyxl
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipelines.ngo.folder import NgoHome
from pipelines.ngo.submit import submit
from pipelines.standard.periods import Period
from pipelines.validation.extract import ExtractError, normalise_header, read_extract


def _cells(path: Path) -> list[dict[str, str | None]]:
    frame = read_extract(path).frame
    return [
        {k: (None if pd.isna(v) else str(v)) for k, v in row.items()}
        for row in frame.to_dict("records")
    ]


@pytest.mark.parametrize(
    ("header", "name"),
    [
        ("Whānau Name", "whanau_name"),
        (" Client ID ", "client_id"),
        ("CLIENT-ID", "client_id"),
        ("\ufeffepisode_id", "episode_id"),
        ("Start  Date", "start_date"),
        ("Manawatū", "manawatu"),
    ],
)
def test_headers_are_normalised_case_space_hyphen_and_macron_free(header: str, name: str) -> None:
    """Tests that header spellings a spreadsheet produces all read as the standard's name."""
    assert normalise_header(header) == name


def test_a_csv_with_bom_and_crlf_reads_like_a_plain_one(tmp_path: Path) -> None:
    """Tests that a UTF-8 BOM and Windows line endings change neither headers nor cells."""
    plain, windows = tmp_path / "plain.csv", tmp_path / "windows.csv"
    plain.write_bytes("Client ID,Region\nC1,Ōtautahi\nC2,\n".encode())
    windows.write_bytes(b"\xef\xbb\xbf" + "Client ID,Region\r\nC1,Ōtautahi\r\nC2,\r\n".encode())
    assert (
        _cells(plain)
        == _cells(windows)
        == [
            {"client_id": "C1", "region": "Ōtautahi", "_row": "2"},
            {"client_id": "C2", "region": None, "_row": "3"},
        ]
    )
    assert read_extract(windows).headers == {"client_id": "Client ID", "region": "Region"}


def test_a_quoted_line_break_stays_inside_its_cell(tmp_path: Path) -> None:
    """Tests that a line break inside quotes is part of the value and rows keep their numbers."""
    path = tmp_path / "quoted.csv"
    path.write_text('a,b\n"first\nsecond",1\nlast,2\n', encoding="utf-8")
    assert _cells(path) == [
        {"a": "first\nsecond", "b": "1", "_row": "2"},
        {"a": "last", "b": "2", "_row": "3"},
    ]


def test_ragged_rows_are_refused_by_row_number_without_their_text(tmp_path: Path) -> None:
    """Tests that rows with too few or too many cells are refused by file.shape with their
    (spreadsheet) row numbers, and that neither message nor fix quotes the rows."""
    path = tmp_path / "ragged.csv"
    path.write_text(
        'a,b,c\n1,2,3\nsecret-4,secret-5\n"x\ny",8,9\nsecret-6,7,8,9\n', encoding="utf-8"
    )
    with pytest.raises(
        ExtractError, match=r"2 row\(s\) do not have the header's 3 columns"
    ) as info:
        read_extract(path)
    assert info.value.rule == "file.shape"
    assert info.value.rows == (3, 5)
    assert "secret" not in f"{info.value.message} {info.value.fix} {info.value}"


def test_latin1_csv_is_refused_as_not_utf8(tmp_path: Path) -> None:
    """Tests that a CSV saved as Latin-1 is refused by file.encoding, whether the first non-UTF-8
    byte is near the top or far down the file."""
    near = tmp_path / "near.csv"
    near.write_bytes("region,notes\nWhangārei,café\n".encode("latin-1", errors="replace"))
    far = tmp_path / "far.csv"
    far.write_bytes(b"a,b\n" + b"xxxx,yyyy\n" * 10_000 + "café,1\n".encode("latin-1"))
    for path in (near, far):
        with pytest.raises(ExtractError, match="is not UTF-8 text") as info:
            read_extract(path)
        assert info.value.rule == "file.encoding"


def test_a_character_cut_by_the_first_block_is_not_an_encoding_error(tmp_path: Path) -> None:
    """Tests that a multi-byte character split across the first 64 KiB read stays valid."""
    path = tmp_path / "long.csv"
    # 90 KB of three-byte characters, under the cell length limit; 64 KiB falls inside one.
    path.write_bytes(b"a,bc\n" + ("€" * 30_000).encode() + b",1\n")
    extract = read_extract(path)
    assert extract.rows == 1
    assert extract.frame.loc[0, "a"] == "€" * 30_000


def test_xlsx_dates_and_whole_floats_read_as_iso_dates_and_integers(tmp_path: Path) -> None:
    """Tests that Excel's real dates, midnight datetimes, whole floats and booleans read as the
    text the standard expects, that blank rows are skipped and row numbers are sheet rows."""
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["Start Date", "Sessions", "Ratio", "Consent", "Note"])
    sheet.append([date(2025, 7, 1), 3.0, 2.5, True, None])
    sheet.append([None, None, None, None, None])
    sheet.append([datetime(2025, 7, 2, 0, 0), 12, 0.25, False, "x"])
    path = tmp_path / "book.xlsx"
    book.save(path)
    extract = read_extract(path)
    assert extract.file_format == "xlsx"
    assert extract.row_numbering == "spreadsheet"
    assert _cells(path) == [
        {"start_date": "2025-07-01", "sessions": "3", "ratio": "2.5", "consent": "true",
         "note": None, "_row": "2"},
        {"start_date": "2025-07-02", "sessions": "12", "ratio": "0.25", "consent": "false",
         "note": "x", "_row": "4"},
    ]  # fmt: skip


def test_parquet_typed_columns_read_as_text(tmp_path: Path) -> None:
    """Tests that Parquet integers, dates, midnight timestamps, booleans, whole floats and
    dictionary strings read as the standard's text, rows numbered from 1."""
    table = pa.table(
        {
            "Sessions": pa.array([3, None], pa.int64()),
            "start_date": pa.array([date(2025, 7, 1), date(2025, 8, 2)], pa.date32()),
            "end_date": pa.array([datetime(2025, 9, 1), None], pa.timestamp("us")),
            "consent_aggregate": pa.array([True, False]),
            "score": pa.array([4.0, float("nan")], pa.float64()),
            "region": pa.array(["Otago", "Otago"]).dictionary_encode(),
        }
    )
    path = tmp_path / "extract.parquet"
    pq.write_table(table, path)
    extract = read_extract(path)
    assert (extract.file_format, extract.row_numbering) == ("parquet", "data")
    assert _cells(path) == [
        {"sessions": "3", "start_date": "2025-07-01", "end_date": "2025-09-01",
         "consent_aggregate": "true", "score": "4", "region": "Otago", "_row": "1"},
        {"sessions": None, "start_date": "2025-08-02", "end_date": None,
         "consent_aggregate": "false", "score": None, "region": "Otago", "_row": "2"},
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("name", "content", "rule", "message"),
    [
        ("e.xlsx", b"client_id\nC1\n", "file.readable", "named as an Excel workbook"),
        ("e.parquet", b"client_id\nC1\n", "file.readable", "named as a Parquet file"),
        ("e.xls", b"client_id\nC1\n", "file.readable", "old-style Excel"),
        ("e.csv", b"a,A\n1,2\n", "file.header", "both read as 'a'"),
        ("e.csv", b"a,,c\n1,2,3\n", "file.header", "a column with no name"),
        ("e.csv", b"\xef\xbb\xbf \n\n", "file.has_rows", "is empty"),
        ("e.csv", b"\nC1,E1\n", "file.header", "first line of e.csv is blank"),
    ],
)
def test_files_that_are_not_tables_are_refused_with_a_rule(
    tmp_path: Path, name: str, content: bytes, rule: str, message: str
) -> None:
    """Tests that misnamed workbooks and Parquet, old .xls, duplicate or blank headers, a blank
    first line (whose rows would have no columns to go in) and blank files are refused with a rule id and a message that says which."""
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(ExtractError, match=message) as info:
        read_extract(path)
    assert info.value.rule == rule
    assert info.value.fix


# --- every row read, and counted by something other than the reader ---------------------------


def _rewrite_part(path: Path, part: str, change: Callable[[bytes], bytes]) -> None:
    """Rewrite one part inside a workbook's zip, as an export tool with its own ideas would."""
    with zipfile.ZipFile(path) as source:
        entries = [(info, source.read(info)) for info in source.infolist()]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as target:
        for info, data in entries:
            target.writestr(info, change(data) if info.filename == part else data)


def _sheet_rows(path: Path) -> tuple[int, int]:
    """(rows with a value, last row number) of the first sheet, counted in its XML with
    zipfile and a regular expression: nothing of openpyxl's reading is involved."""
    with zipfile.ZipFile(path) as book:
        xml = book.read("xl/worksheets/sheet1.xml")
    rows = re.findall(rb'<row r="(\d+)"[^>]*?(?:/>|>(.*?)</row>)', xml, re.DOTALL)
    valued = [int(r) for r, body in rows if re.search(rb"<v>|<t[ >]", body)]
    return len(valued), max(int(r) for r, _ in rows)


def _stale_workbook(path: Path, dimension: bytes) -> None:
    """166 data rows and 3 blank rows, then the sheet's <dimension> rewritten to ``dimension``."""
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["Client ID", "Sessions"])
    for i in range(166):
        sheet.append([f"C{i:04d}", i % 7])
        if i in (10, 11, 100):
            sheet.append([None, None])
    sheet.cell(row=200, column=1).number_format = "0"  # a formatted, empty row far below
    book.save(path)
    _rewrite_part(
        path,
        "xl/worksheets/sheet1.xml",
        lambda xml: re.sub(rb'<dimension ref="[^"]*"', b'<dimension ref="' + dimension + b'"', xml),
    )


@pytest.mark.parametrize("dimension", [b"A1:B10", b"A1", b"A1:XFD1048576"])
def test_an_xlsx_is_read_whole_whatever_its_dimension_says(
    tmp_path: Path, dimension: bytes
) -> None:
    """Tests that a workbook whose <dimension> understates its size (as stale exports do), or
    overstates it, is read to its last row: the accepted rows equal the rows with a value
    counted in the sheet's XML, and every other row below the header is a counted blank row."""
    path = tmp_path / "book.xlsx"
    _stale_workbook(path, dimension)
    with zipfile.ZipFile(path) as book:
        assert b'<dimension ref="' + dimension + b'"' in book.read("xl/worksheets/sheet1.xml")
    valued, last = _sheet_rows(path)
    extract = read_extract(path)
    assert extract.rows == valued - 1 == 166
    assert extract.blank_rows_skipped == last - valued  # rows 2..last that hold no value
    assert extract.frame["_row"].iloc[-1] == 170  # the last data row keeps its sheet number


def test_a_csv_is_read_whole_and_blank_rows_are_counted(tmp_path: Path) -> None:
    """Tests that the accepted rows of a CSV with empty lines, comma-only lines, a quoted line
    break and CRLF endings equal the non-blank records the csv module counts, that the blank
    ones are counted, and that each row keeps the record number a spreadsheet would show."""
    lines = ["Client ID,Region", "C1,Otago", "", ",", '"C2","two\r\nlines"', " , ", "C3,", "", ""]
    text = "\r\n".join(lines)
    path = tmp_path / "extract.csv"
    path.write_bytes(text.encode())
    with path.open(newline="", encoding="utf-8") as fh:
        records = list(csv.reader(fh))[1:]
    filled = [i + 2 for i, r in enumerate(records) if any(c.strip() for c in r)]
    extract = read_extract(path)
    assert extract.rows == len(filled) == 3
    assert extract.blank_rows_skipped == len(records) - len(filled) == 4
    assert extract.frame["_row"].tolist() == filled == [2, 5, 7]


def test_a_parquet_file_is_read_whole_across_row_groups(tmp_path: Path) -> None:
    """Tests that the accepted rows of a Parquet file of several row groups, with rows of nothing
    but nulls, equal its footer's row count less those blank rows, each numbered by position."""
    values = [None if i % 50 == 0 else f"C{i}" for i in range(1, 1001)]
    table = pa.table({"client_id": values, "sessions": [None if v is None else 1 for v in values]})
    path = tmp_path / "extract.parquet"
    pq.write_table(table, path, row_group_size=128)
    metadata = pq.ParquetFile(path).metadata
    assert metadata.num_row_groups == 8
    blank = sum(v is None for v in values)
    extract = read_extract(path)
    assert extract.rows + extract.blank_rows_skipped == metadata.num_rows == 1000
    assert extract.blank_rows_skipped == blank == 20
    assert 50 not in set(extract.frame["_row"])


def test_values_right_of_the_header_are_refused_not_dropped(tmp_path: Path) -> None:
    """Tests that an XLSX row with a value beyond the header's last column is refused by
    file.shape with its row number (it used to be cut off silently), quoting no value."""
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["client_id", "region"])
    sheet.append(["C1", "Otago"])
    sheet.append(["C2", "Otago", None, "secret-stray-note"])
    path = tmp_path / "book.xlsx"
    book.save(path)
    with pytest.raises(ExtractError, match="to the right of the header's last column") as info:
        read_extract(path)
    assert (info.value.rule, info.value.rows) == ("file.shape", (3,))
    assert "secret" not in f"{info.value.message} {info.value.fix}"


def test_the_coordinator_is_told_how_many_blank_rows_were_skipped(
    tmp_path: Path,
    ngo_home: NgoHome,
    to_csv: Callable[..., bytes],
    episode_rows: Callable[..., list[dict[str, str]]],
) -> None:
    """Tests that an accepted submission's headline, report.json and report.html say how many
    blank rows were skipped besides the rows accepted."""
    data = to_csv(episode_rows(4))
    lines = data.split(b"\n")
    path = tmp_path / "episodes.csv"
    path.write_bytes(b"\n".join([*lines[:3], b"", b",,,,,,,,,,,,", *lines[3:]]))
    period = Period.parse("2025-Q3")
    outcome = submit(path, home=ngo_home, ngo_id="ngo-0042", period=period, dataset="episodes")
    assert outcome.status == "accepted", outcome.message
    assert outcome.message.endswith("(4 rows; 2 blank rows skipped).")
    assert outcome.report_dir is not None
    body = json.loads((outcome.report_dir / "report.json").read_text(encoding="utf-8"))
    assert (body["rows"], body["blank_rows_skipped"]) == (4, 2)
    assert "2 blank rows skipped" in (outcome.report_dir / "report.html").read_text("utf-8")
