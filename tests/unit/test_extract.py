"""Reading extracts: CSV, XLSX and Parquet become the same text cells, or a clear refusal."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import openpyxl
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

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
    path.write_bytes(b"a,bc\n" + ("ā" * 40_000).encode() + b",1\n")
    extract = read_extract(path)
    assert extract.rows == 1
    assert extract.frame.loc[0, "a"] == "ā" * 40_000


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
    ],
)
def test_files_that_are_not_tables_are_refused_with_a_rule(
    tmp_path: Path, name: str, content: bytes, rule: str, message: str
) -> None:
    """Tests that misnamed workbooks and Parquet, old .xls, duplicate or blank headers and
    blank files are refused with a rule id and a message that says which."""
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(ExtractError, match=message) as info:
        read_extract(path)
    assert info.value.rule == rule
    assert info.value.fix
