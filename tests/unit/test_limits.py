"""Every limit is defined once with its reason, listed in the README, and named by the refusal
that enforces it, for every format it applies to."""

from __future__ import annotations

import ast
import io
import zipfile
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path

import openpyxl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipelines.standard import limits
from pipelines.standard.contract import load_contract
from pipelines.standard.handover import Manifest, arrow_schema
from pipelines.standard.limits import LIMITS, Limit
from pipelines.validation.columnar import check_parquet_limits
from pipelines.validation.extract import ExtractError, Source, read_extract, read_source

ROOT = Path(__file__).resolve().parents[2]
PLANTED = "Planted-Cell-7Q4Z"
"""A value that must never appear in a message, whatever the message refuses."""


def _limit_docstrings() -> dict[str, str]:
    """Each module-level ``Limit(...)`` assignment of limits.py and the docstring under it."""
    tree = ast.parse((ROOT / "pipelines" / "standard" / "limits.py").read_text(encoding="utf-8"))
    found: dict[str, str] = {}
    body = tree.body
    for node, after in zip(body, [*body[1:], None], strict=True):
        if (
            isinstance(node, ast.Assign)
            and isinstance(node.value, ast.Call)
            and getattr(node.value.func, "id", "") == "Limit"
        ):
            name = node.value.args[0]
            assert isinstance(name, ast.Constant)
            doc = after.value if isinstance(after, ast.Expr) else None
            found[str(name.value)] = (
                str(doc.value)
                if isinstance(doc, ast.Constant) and isinstance(doc.value, str)
                else ""
            )
    return found


def test_every_limit_is_defined_once_with_a_docstring_giving_its_reason() -> None:
    """Tests that every Limit in limits.py is in LIMITS under a unique name, and that each has a
    docstring of at least two sentences (what it bounds, and why its value)."""
    docs = _limit_docstrings()
    assert sorted(docs) == sorted(limit.name for limit in LIMITS)
    assert len({limit.name for limit in LIMITS}) == len(LIMITS)
    for name, doc in docs.items():
        assert doc.count(".") >= 2, f"{name} needs a docstring saying what it bounds and why"


def test_the_readme_lists_every_limit_with_its_value() -> None:
    """Tests that the README's section on limits names every limit and states its value."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for limit in LIMITS:
        assert f"`{limit.name}`" in readme, limit.name
        assert limit.amount in readme, f"{limit.name}: {limit.amount}"


def test_a_limit_reads_as_its_name_and_value() -> None:
    """Tests that a limit is written the way refusals name it: name in backticks, then value."""
    assert str(limits.ROWS) == "the limit `rows_per_submission` (1,000,000 rows)"
    assert str(limits.FILE_BYTES) == "the limit `file_bytes` (100 MB)"
    assert limits.FILE_BYTES.measure(200 * 1024 * 1024) == "200 MB"
    assert limits.FILE_BYTES.measure(100 * 1024 * 1024 + 1) == "104,857,601 bytes"


def test_a_limit_must_be_positive() -> None:
    """Tests that a limit of zero is refused on construction with a precise message."""
    with pytest.raises(ValueError, match="limit rows must be positive, got 0"):
        Limit("rows", 0, "rows")


def test_the_largest_manifest_within_the_limits_fits_the_manifest_limit() -> None:
    """Tests that the largest manifest the protocol accepts (the most columns, each with the
    longest name, the longest texts) is under manifest_bytes, and parses."""
    contract = load_contract("assessments")
    largest = Manifest(
        ngo_id="n" * 40,
        period="2026-Q3",
        dataset="assessments",
        contract=contract.tag,
        contract_version=contract.version,
        sha256="0" * 64,
        rows=limits.ROWS.value,
        submitted_on=date(2026, 10, 1),
        columns=("c" * limits.COLUMN_NAME_CHARACTERS.value,) * limits.COLUMNS.value,
        dropped_columns=limits.COLUMNS.value,
        submitted_at=datetime(2026, 10, 1, tzinfo=UTC),
        tool="t" * 200,
    )
    data = largest.to_json()
    assert len(data) < limits.MANIFEST_BYTES.value
    assert Manifest.parse(data) == largest


# --- each limit, enforced and named ---------------------------------------------------------


def _csv(rows: list[list[str]]) -> bytes:
    return "".join(",".join(r) + "\n" for r in rows).encode()


def _xlsx(rows: list[list[str]]) -> bytes:
    book = openpyxl.Workbook()
    for row in rows:
        book.active.append(row)
    raw = io.BytesIO()
    book.save(raw)
    return raw.getvalue()


def _parquet(rows: list[list[str]], **options: object) -> bytes:
    header, body = rows[0], rows[1:]
    table = pa.table({h: [r[i] for r in body] for i, h in enumerate(header)})
    raw = io.BytesIO()
    pq.write_table(table, raw, **options)  # type: ignore[arg-type]
    return raw.getvalue()


WRITERS: dict[str, Callable[[list[list[str]]], bytes]] = {
    "csv": _csv,
    "xlsx": _xlsx,
    "parquet": _parquet,
}


def _table(rows: int, columns: int = 2) -> list[list[str]]:
    header = [f"col_{j}" for j in range(columns)]
    return [header, *([PLANTED] * columns for _ in range(rows))]


def _refusal(data: bytes, kind: str) -> ExtractError:
    with pytest.raises(ExtractError) as info:
        read_extract(Source(f"extract.{kind}", data))
    return info.value


def _check_named(error: ExtractError, limit: Limit) -> None:
    assert error.rule == "file.size"
    assert error.limit == limit
    assert str(limit) in error.message
    assert error.fix
    assert PLANTED not in f"{error.message} {error.fix} {error}"


CASES: list[tuple[str, int, str, Callable[[], bytes]]] = [
    *[("rows_per_submission", 5, k, lambda k=k: WRITERS[k](_table(6))) for k in WRITERS],
    *[("columns_per_submission", 3, k, lambda k=k: WRITERS[k](_table(2, 4))) for k in WRITERS],
    *[("cells_per_submission", 10, k, lambda k=k: WRITERS[k](_table(4, 3))) for k in WRITERS],
    *[("cell_characters", 10, k, lambda k=k: WRITERS[k](_table(2))) for k in WRITERS],
    *[
        ("column_name_characters", 4, k, lambda k=k: WRITERS[k]([["client_id"], ["x"]]))
        for k in WRITERS
    ],
    *[("file_bytes", 50, k, lambda k=k: WRITERS[k](_table(5))) for k in WRITERS],
    ("workbook_part_bytes", 2000, "xlsx", lambda: _xlsx(_table(40))),
    ("workbook_compression_ratio", 2, "xlsx", lambda: _xlsx(_table(2))),
    ("workbook_parts", 5, "xlsx", lambda: _xlsx(_table(2))),
    ("parquet_row_groups", 2, "parquet", lambda: _parquet(_table(3), row_group_size=1)),
    ("parquet_footer_bytes", 100, "parquet", lambda: _parquet(_table(3))),
    ("parquet_decoded_bytes", 200, "parquet", lambda: _parquet(_table(20))),
]


@pytest.mark.parametrize(
    ("name", "value", "kind", "make"), CASES, ids=[f"{c[0]}-{c[2]}" for c in CASES]
)
def test_each_limit_refuses_a_file_over_it_by_name(
    monkeypatch: pytest.MonkeyPatch,
    name: str,
    value: int,
    kind: str,
    make: Callable[[], bytes],
) -> None:
    """Tests that a file over a (lowered) limit is refused by file.size with the limit's name and
    value in the message, for every format the limit applies to, quoting no cell."""
    data = make()
    attribute, limit = next(
        (a, v) for a, v in vars(limits).items() if isinstance(v, Limit) and v.name == name
    )
    lowered = Limit(limit.name, value, limit.unit)
    monkeypatch.setattr(limits, attribute, lowered)
    _check_named(_refusal(data, kind), lowered)


def test_the_same_files_are_accepted_within_the_limits() -> None:
    """Tests that the files the limit tests refuse are accepted under the real limits, so each
    refusal above is the limit's doing."""
    for _, _, kind, make in CASES:
        extract = read_extract(Source(f"extract.{kind}", make()))
        assert extract.rows > 0


def test_the_hub_check_accepts_a_sanitised_payload_and_refuses_one_over_a_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Tests that check_parquet_limits passes a payload written as the hand-over writes it, and
    refuses it, naming the limit, once the rows limit is lowered below its row count."""
    contract = load_contract("episodes")
    schema = arrow_schema(contract)
    table = pa.table(
        {f.name: pa.array([None] * 3, type=f.type) for f in schema}, schema=schema
    ).set_column(0, schema.field(0), pa.array([PLANTED] * 3, type=schema.field(0).type))
    path = tmp_path / "data.parquet"
    pq.write_table(table, path, compression="zstd")
    check_parquet_limits(path)

    lowered = Limit(limits.ROWS.name, 2, "rows")
    monkeypatch.setattr(limits, "ROWS", lowered)
    with pytest.raises(ExtractError) as info:
        check_parquet_limits(path)
    _check_named(info.value, lowered)


def test_an_xlsx_with_a_document_type_is_refused_before_it_is_parsed() -> None:
    """Tests that a workbook part declaring XML entities (how a tiny part expands into a huge one)
    is refused as unreadable, without the entities being expanded."""
    raw = io.BytesIO(_xlsx(_table(2)))
    out = io.BytesIO()
    with zipfile.ZipFile(raw) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for entry in source.infolist():
            data = source.read(entry)
            if entry.filename == "xl/worksheets/sheet1.xml":
                laughs = [b'<!ENTITY e0 "' + PLANTED.encode() + b'">'] + [
                    b'<!ENTITY e%d "%s">' % (i, b"&e%d;" % (i - 1) * 10) for i in range(1, 9)
                ]
                data = (
                    b"<?xml version='1.0'?>\n<!DOCTYPE worksheet ["
                    + b"".join(laughs)
                    + b"]>"
                    + data
                )
            target.writestr(entry, data)
    error = _refusal(out.getvalue(), "xlsx")
    assert error.rule == "file.readable"
    assert "document type declaration" in error.message
    assert PLANTED not in f"{error.message} {error.fix}"


def test_a_manifest_over_its_limit_is_refused_unread(tmp_path: Path) -> None:
    """Tests that read_source with the manifest limit (as the hub reads a manifest.json) refuses
    a manifest over manifest_bytes by name, and reads one under it whole."""
    path = tmp_path / "manifest.json"
    path.write_bytes(b" " * (limits.MANIFEST_BYTES.value + 1))
    with pytest.raises(ExtractError) as info:
        read_source(path, limit=limits.MANIFEST_BYTES)
    _check_named(info.value, limits.MANIFEST_BYTES)
    path.write_bytes(b'{"rows": 1}')
    assert read_source(path, limit=limits.MANIFEST_BYTES).data == b'{"rows": 1}'
