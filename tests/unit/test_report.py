"""Validation reports name columns, rules and rows, and never hold a value from the file."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest

from pipelines.standard.contract import load_contract
from pipelines.standard.periods import Period
from pipelines.validation.extract import read_extract
from pipelines.validation.identifiers import find_direct_identifiers
from pipelines.validation.prepare import Context, contract_view, prepare
from pipelines.validation.report import Report, rows_text, write_report
from pipelines.validation.validate import findings_from, run_suite

Rows = list[dict[str, str]]
PLANTED = {
    "programme": "Planted-Programme-7731",
    "sessions": "sessions-planted-4412",
    "client_id": "x" * 70,
    "start_date": "2025-13-45",
    "Full Name": "Hemi Planted-Surname",
    "notes": "call 021 555 0199 or hemi.planted@example.org, NHI ZZZ0024, IRD 49-091-850",
}


def _report(tmp_path: Path, source: Path) -> tuple[Report, Path]:
    """Validate ``source`` as the NGO side does and write the report; return it and its folder."""
    contract = load_contract("episodes")
    extract = read_extract(source)
    identifiers = find_direct_identifiers(extract.frame, contract)
    view, dropped = contract_view(extract.frame, contract)
    present = frozenset(c for c in view.columns if not c.startswith("_"))
    prepared = prepare(view, contract, Context(Period.parse("2025-Q3"), date(2025, 10, 15)))
    findings = findings_from(run_suite(prepared, contract, present, batch=False), contract)
    report = Report(
        status="refused",
        stage="ngo",
        ngo_id="ngo-0042",
        period="2025-Q3",
        dataset="episodes",
        contract=contract.tag,
        file=source.name,
        file_format=extract.file_format,
        row_numbering=extract.row_numbering,
        rows=extract.rows,
        failures=tuple(findings),
        identifiers=tuple(identifiers),
        dropped_columns=dropped,
    )
    folder = tmp_path / "report"
    write_report(report, folder)
    return report, folder


def test_a_report_of_broken_rows_holds_none_of_their_values(
    tmp_path: Path, episode_rows: Callable[..., Rows], write_csv: Callable[..., Path]
) -> None:
    """Tests that report.json and report.html for rows with bad enum, number, length, date and
    every kind of identifier name the rules and columns, and contain no planted value."""
    rows = episode_rows()
    for row in rows:
        row["Full Name"] = "Someone Else"
        row["notes"] = "weekly"
    for column, value in PLANTED.items():
        rows[1][column] = value
    report, folder = _report(tmp_path, write_csv("episodes.csv", rows))

    rules = {f.rule for f in report.failures}
    assert {
        "programme.accepted_values",
        "sessions.integer",
        "client_id.max_length",
        "start_date.date",
    } <= rules
    kinds = {(f.column, f.kind) for f in report.identifiers}
    assert {("full_name", "person_name"), ("notes", "phone"), ("notes", "email")} <= kinds
    assert {("notes", "nhi"), ("notes", "ird")} <= kinds
    texts = [(folder / name).read_text(encoding="utf-8") for name in ("report.json", "report.html")]
    assert "programme.accepted_values" in texts[0]
    assert "programme.accepted_values" in texts[1]
    planted_parts = [*PLANTED.values(), "Hemi", "Someone Else", "021 555", "ZZZ0024", "49-091-850"]
    for text in texts:
        for value in planted_parts:
            assert value not in text, value


def test_report_json_says_what_to_fix_row_by_row(
    tmp_path: Path, episode_rows: Callable[..., Rows], write_csv: Callable[..., Path]
) -> None:
    """Tests the JSON a coordinator's tools read: status, headline, row numbering and, per
    failure, rule, columns, count, rows and the fix."""
    rows = episode_rows()
    rows[0]["sessions"] = "1001"
    rows[2]["sessions"] = "2000"
    _report_obj, folder = _report(tmp_path, write_csv("episodes.csv", rows))
    body = json.loads((folder / "report.json").read_text(encoding="utf-8"))
    assert body["status"] == "refused"
    assert body["headline"].startswith("Refused: episodes extract for ngo-0042, 2025-Q3.")
    assert "the header is row 1" in body["row_numbering"]
    (failure,) = body["failures"]
    assert failure["rule"] == "sessions.range"
    assert failure["columns"] == ["sessions"]
    assert (failure["count"], failure["rows"]) == (2, [2, 4])
    assert "between 0 and 1000" in failure["fix"]


@pytest.mark.parametrize(
    ("rows", "count", "text"),
    [
        ((), 0, ""),
        ((7,), 1, "row 7"),
        ((2, 5, 9), 3, "rows 2, 5, 9"),
        (tuple(range(1, 21)), 1000, "rows 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12 and 988 more"),
    ],
)
def test_row_lists_stay_short_on_a_terminal(rows: tuple[int, ...], count: int, text: str) -> None:
    """Tests that row lists are shortened with the exact count of the rest."""
    assert rows_text(rows, count) == text
