"""The accepted path: what a valid extract leaves in the NGO's outbox, and what it never does.

Through the real command line (``outcomes submit``, here without a hub, so an
accepted file waits in the outbox and the command exits 3): reports, one
complete package whose manifest matches its payload, a sanitised file of
contract columns and pseudonyms only, messy real-world exports read the same as
clean ones, resubmissions, and the cross-file rule between assessments and
episodes. Packages reach the hub through its own receiver (``deliver``); the
network path is tested against a real server in ``tests/service``.
"""

from __future__ import annotations

import json
import re
import stat
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import openpyxl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from ngo_helpers import ACCEPTED_HERE

from pipelines.assets.runs import run_intake
from pipelines.home import Home
from pipelines.hub.inbox import pending_ids
from pipelines.hub.vault import open_vault
from pipelines.hub.vault.checks import row_count_mismatches
from pipelines.ngo.folder import NgoHome
from pipelines.ngo.keys import ngo_key
from pipelines.ngo.outbox import find, waiting
from pipelines.ngo.pseudonymise import pseudonym
from pipelines.standard.contract import Contract, load_contract
from pipelines.standard.handover import MANIFEST, PAYLOAD, SOURCE_ROW, arrow_schema, file_sha256

NGO = "ngo-0042"
PSEUDONYM = re.compile(r"^[0-9a-f]{32}$")
Rows = list[dict[str, str]]


def outbox_folders(ngo_home: NgoHome) -> list[Path]:
    """Everything in the NGO's outbox, hidden folders being written included."""
    outbox = ngo_home.outbox(NGO)
    return sorted(outbox.iterdir()) if outbox.exists() else []


def sanitised_rows(ngo_home: NgoHome, submission_id: str) -> list[dict[str, Any]]:
    package = find(ngo_home, NGO, submission_id)
    assert package is not None
    return pq.read_table(package.payload).to_pylist()


def expected_rows(rows: Rows, contract: Contract, key: bytes) -> list[dict[str, Any]]:
    """What the sanitised file must hold for these text rows: typed, canonical, pseudonymised."""
    out = []
    for row in rows:
        record: dict[str, Any] = {}
        for column in contract.columns:
            text = row.get(column.name) or None
            if text is None:
                value: Any = None
                if column.logical_type == "boolean" and column.default is not None:
                    value = bool(column.default)
            elif column.name in contract.pseudonymised_columns:
                value = pseudonym(key, column.name, text)
            elif column.logical_type == "integer":
                value = int(text)
            elif column.logical_type == "date":
                value = date.fromisoformat(text)
            elif column.logical_type == "boolean":
                value = text.lower() in column.true_spellings
            else:
                value = column.aliases.get(text, text)
            record[column.name] = value
        out.append(record)
    return out


def submission_of(output: str) -> str:
    match = re.search(r"submission (\S+?)\.?$", output.strip(), re.MULTILINE)
    assert match, output
    return match.group(1)


def test_a_valid_submission_is_packed_with_reports_and_a_matching_manifest(
    episodes_csv: Path, ngo_home: NgoHome, submit_cli: Callable[..., Any]
) -> None:
    """Tests that a valid extract, with no hub to send it to, exits 3 (validated here, not yet
    delivered) with report.json/html and leaves exactly one package in the NGO's outbox holding
    data.parquet and a manifest whose sha256 and rows match the payload."""
    result = submit_cli(episodes_csv)

    assert result.exit_code == ACCEPTED_HERE, result.output
    assert "Accepted: episodes extract for ngo-0042, 2025-Q3 (4 rows)." in result.output
    assert "Not sent: no hub was given. It waits in the outbox" in " ".join(result.output.split())
    sid = submission_of(result.output)
    (folder,) = outbox_folders(ngo_home)
    assert folder.name == sid
    assert sorted(p.name for p in folder.iterdir()) == sorted([PAYLOAD, MANIFEST])
    manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    assert manifest["sha256"] == file_sha256(folder / PAYLOAD)
    assert sid.endswith(manifest["sha256"][:12])
    assert (manifest["ngo_id"], manifest["period"], manifest["dataset"]) == (
        NGO,
        "2025-Q3",
        "episodes",
    )
    assert manifest["rows"] == pq.ParquetFile(folder / PAYLOAD).metadata.num_rows == 4
    assert [p.submission_id for p in waiting(ngo_home)] == [sid]
    (report_json,) = ngo_home.reports(NGO).glob("*/report.json")
    assert (report_json.parent / "report.html").is_file()
    report = json.loads(report_json.read_text(encoding="utf-8"))
    assert (report["status"], report["submission_id"], report["rows"]) == ("accepted", sid, 4)


@pytest.mark.slow
def test_the_ngo_key_is_owner_only_and_never_reaches_the_hub(
    *,
    episodes_csv: Path,
    assessments_csv: Path,
    home: Home,
    ngo_home: NgoHome,
    submit_cli: Callable[..., Any],
    deliver: Callable[..., list[str]],
) -> None:
    """Tests that the NGO's secret key is mode 0600 in a 0700 folder, that the first submit says
    where it is and what losing it means, and that neither its text nor its bytes appear in any
    file of the inbox, the steward zone or the published zone, before or after intake."""
    first = submit_cli(episodes_csv)
    assert first.exit_code == ACCEPTED_HERE
    said = " ".join(first.output.split())
    key_path = ngo_home.key_file(NGO)
    assert f"A new pseudonymisation key was made for this NGO: {key_path}" in said
    assert "if it is lost, next quarter's clients get new pseudonyms" in said
    second = submit_cli(assessments_csv, dataset="assessments")
    assert second.exit_code == ACCEPTED_HERE
    assert "new pseudonymisation key" not in second.output
    assert stat.S_IMODE(key_path.stat().st_mode) == 0o600
    assert stat.S_IMODE(key_path.parent.stat().st_mode) == 0o700
    key_text = key_path.read_text().strip()
    key = bytes.fromhex(key_text)
    assert key == ngo_key(ngo_home, NGO).key
    assert len(deliver()) == 2

    def assert_key_nowhere() -> int:
        seen = 0
        for zone in (home.inbox, home.hub, home.published, home.keys):
            for path in zone.rglob("*") if zone.exists() else []:
                if path.is_file():
                    data = path.read_bytes()
                    assert key_text.encode() not in data, path
                    assert key not in data, path
                    seen += 1
        return seen

    assert assert_key_nowhere() >= 6  # two payloads, two manifests, two receipts
    runs = run_intake(home)
    assert runs
    assert all(r.success for r in runs)
    assert home.vault_file.exists()
    assert assert_key_nowhere() >= 1


def test_the_sanitised_file_holds_contract_columns_and_pseudonyms_only(
    write_csv: Callable[..., Path],
    episode_rows: Callable[..., Rows],
    episodes_contract: Contract,
    ngo_home: NgoHome,
    submit_cli: Callable[..., Any],
) -> None:
    """Tests that the packed file has exactly the contract's columns plus source_row, that
    client and episode references are 32-hex pseudonyms under the NGO's key (never the raw
    references), and that extra columns are listed as dropped."""
    rows = [{**row, "Funding Stream": "stream-b", "Notes": "weekly"} for row in episode_rows()]
    result = submit_cli(write_csv("episodes.csv", rows))
    assert result.exit_code == ACCEPTED_HERE, result.output
    sid = submission_of(result.output)
    package = find(ngo_home, NGO, sid)
    assert package is not None

    table = pq.read_table(package.payload)
    assert table.schema.remove_metadata().equals(arrow_schema(episodes_contract))
    assert table.column_names == [*episodes_contract.column_names, SOURCE_ROW]
    raw_references = {row[c] for row in rows for c in ("client_id", "episode_id")}
    for name in episodes_contract.pseudonymised_columns:
        values = table.column(name).to_pylist()
        assert all(PSEUDONYM.fullmatch(v) for v in values)
        assert not raw_references & set(values)
    assert all(str(v) not in raw_references for col in table.columns for v in col.to_pylist())
    key = ngo_key(ngo_home, NGO).key
    cleaned = [
        {k: v for k, v in row.items() if k in episodes_contract.column_names} for row in rows
    ]
    assert table.drop_columns([SOURCE_ROW]).to_pylist() == expected_rows(
        cleaned, episodes_contract, key
    )
    assert table.column(SOURCE_ROW).to_pylist() == [2, 3, 4, 5]

    assert package.manifest.dropped_columns == 2  # a count: the names stay with the NGO
    assert "Columns left out (not in the standard): funding_stream, notes" in result.output
    (report_json,) = ngo_home.reports(NGO).glob("*/report.json")
    assert json.loads(report_json.read_text())["dropped_columns"] == ["funding_stream", "notes"]


def _header_variant(name: str, i: int) -> str:
    spaced = name.replace("_", " ")
    return [f" {spaced.upper()} ", spaced.title(), name.replace("_", "-").upper()][i % 3]


def _write_messy(
    form: str, rows: Rows, folder: Path, contract: Contract, csv_bytes: Callable[..., bytes]
) -> tuple[Path, Rows]:
    """Write ``rows`` the way a real export might; return the file and the rows it means."""
    if form == "bom-crlf":
        path = folder / "episodes.csv"
        path.write_bytes(csv_bytes(rows, bom=True, newline="\r\n"))
        return path, rows
    if form == "headers":
        reordered = [dict(reversed(list(row.items()))) for row in rows]
        header = [_header_variant(k, i) for i, k in enumerate(reordered[0])]
        path = folder / "episodes.csv"
        path.write_bytes(csv_bytes(reordered, header))
        return path, rows
    if form == "macronless-regions":
        aliases = contract.column("region").aliases  # e.g. a spelling without macrons
        assert aliases, "the contract lists no region aliases to test"
        written = [dict(row) for row in rows]
        for row, alias in zip(written, sorted(aliases), strict=False):
            row["region"] = alias
        path = folder / "episodes.csv"
        path.write_bytes(csv_bytes(written))
        meant = [dict(row) for row in written]
        for row in meant:
            row["region"] = aliases.get(row["region"], row["region"])
        return path, meant
    if form == "xlsx":
        book = openpyxl.Workbook()
        sheet = book.active
        names = list(rows[0])
        sheet.append(names)
        for row in rows:
            cells: list[Any] = []
            for name in names:
                text = row[name]
                kind = contract.column(name).logical_type
                if not text:
                    cells.append(None)
                elif kind == "date":
                    cells.append(date.fromisoformat(text))
                elif kind == "integer":
                    cells.append(float(text))  # Excel keeps every number as a float
                elif kind == "boolean":
                    cells.append(text.lower() in contract.column(name).true_spellings)
                else:
                    cells.append(text)
            sheet.append(cells)
        path = folder / "episodes.xlsx"
        book.save(path)
        return path, rows
    if form == "parquet":
        arrays = {}
        for name in rows[0]:
            kind = contract.column(name).logical_type
            texts = [row[name] or None for row in rows]
            if kind == "date":
                arrays[name] = pa.array(
                    [date.fromisoformat(t) if t else None for t in texts], pa.date32()
                )
            elif kind == "integer":
                arrays[name] = pa.array([int(t) if t else None for t in texts], pa.int64())
            elif kind == "boolean":
                spellings = contract.column(name).true_spellings
                arrays[name] = pa.array([t.lower() in spellings if t else None for t in texts])
            else:
                arrays[name] = pa.array(texts, pa.string())
        path = folder / "episodes.parquet"
        pq.write_table(pa.table(arrays), path)
        return path, rows
    raise AssertionError(form)


@pytest.mark.parametrize("form", ["bom-crlf", "headers", "macronless-regions", "xlsx", "parquet"])
def test_messy_real_world_exports_are_accepted_and_normalised(
    *,
    form: str,
    episode_rows: Callable[..., Rows],
    episodes_contract: Contract,
    ngo_files: Path,
    ngo_home: NgoHome,
    submit_cli: Callable[..., Any],
    to_csv: Callable[..., bytes],
) -> None:
    """Tests that a BOM with CRLF, upper-case spaced reordered headers, regions without macrons,
    an XLSX of real dates and float numbers, and a typed Parquet are accepted and hand over the
    same canonical typed rows a clean CSV would."""
    rows = episode_rows(6)
    path, meant = _write_messy(form, rows, ngo_files, episodes_contract, to_csv)

    result = submit_cli(path)

    assert result.exit_code == ACCEPTED_HERE, result.output
    sid = submission_of(result.output)
    key = ngo_key(ngo_home, NGO).key
    handed = sanitised_rows(ngo_home, sid)
    assert [{k: v for k, v in r.items() if k != SOURCE_ROW} for r in handed] == expected_rows(
        meant, episodes_contract, key
    )
    first = 1 if form == "parquet" else 2  # Parquet rows count from 1; spreadsheets from 2
    assert [r[SOURCE_ROW] for r in handed] == list(range(first, first + len(rows)))
    if form == "macronless-regions":
        canonical = set(episodes_contract.column("region").accepted_values)
        assert {r["region"] for r in handed} <= canonical


def test_submitting_the_same_file_twice_is_a_no_op(
    episodes_csv: Path,
    ngo_home: NgoHome,
    submit_cli: Callable[..., Any],
    deliver: Callable[..., list[str]],
) -> None:
    """Tests that a second submit of an accepted file says it was already accepted and still
    waits (exit 3, one package in the outbox, unchanged), and once delivered says so and exits 0
    without validating or packing anything again."""
    first = submit_cli(episodes_csv)
    assert first.exit_code == ACCEPTED_HERE
    sid = submission_of(first.output)
    manifest = (ngo_home.outbox(NGO) / sid / MANIFEST).read_bytes()
    reports = set(ngo_home.reports(NGO).iterdir())

    second = submit_cli(episodes_csv)

    assert second.exit_code == ACCEPTED_HERE, second.output
    assert "already accepted" in second.output
    assert "waits in the outbox" in " ".join(second.output.split())
    assert sid in second.output.replace("\n", "")
    assert [p.name for p in outbox_folders(ngo_home)] == [sid]
    assert (ngo_home.outbox(NGO) / sid / MANIFEST).read_bytes() == manifest

    assert deliver() == [sid]
    third = submit_cli(episodes_csv)
    assert third.exit_code == 0, third.output
    assert "already accepted on" in third.output
    assert "delivered to the hub" in " ".join(third.output.split())
    assert outbox_folders(ngo_home) == []
    assert set(ngo_home.reports(NGO).iterdir()) == reports


@pytest.mark.slow
def test_a_corrected_resubmission_supersedes_the_earlier_one_and_both_stay_archived(
    write_csv: Callable[..., Path],
    episode_rows: Callable[..., Rows],
    home: Home,
    submit_cli: Callable[..., Any],
    deliver: Callable[..., list[str]],
) -> None:
    """Tests that a corrected file for the same NGO, period and dataset becomes a new submission
    and, after intake, is the current one while the earlier one is superseded; the vault's
    archive keeps the rows of both."""
    rows = episode_rows()
    first = submit_cli(write_csv("episodes.csv", rows))
    assert first.exit_code == ACCEPTED_HERE
    corrected = [dict(row) for row in rows]
    corrected[0]["sessions"] = str(int(rows[0]["sessions"]) + 10)
    corrected.append({**rows[0], "episode_id": "E9999", "sessions": "1"})
    second = submit_cli(write_csv("episodes-corrected.csv", corrected))
    assert second.exit_code == ACCEPTED_HERE, second.output
    old, new = submission_of(first.output), submission_of(second.output)
    assert old != new
    assert deliver() == [old, new]
    assert sorted(pending_ids(home)) == sorted([old, new])

    runs = run_intake(home)

    assert runs
    assert all(r.success for r in runs)
    assert pending_ids(home) == []
    with open_vault(home).connect() as con:
        status = dict(con.execute("SELECT submission_id, status FROM submissions").fetchall())
        archived = dict(
            con.execute("SELECT submission_id, count(*) FROM episodes GROUP BY ALL").fetchall()
        )
        current = dict(
            con.execute(
                "SELECT submission_id, count(*) FROM current_episodes GROUP BY ALL"
            ).fetchall()
        )
        superseded_by = con.execute(
            "SELECT superseded_by FROM submissions WHERE submission_id = ?", [old]
        ).fetchone()
    assert status == {old: "superseded", new: "accepted"}
    assert archived == {old: 4, new: 5}
    assert current == {new: 5}
    assert superseded_by == (new,)


def test_assessments_without_submitted_episodes_are_refused_by_the_cross_file_rule(
    episodes_csv: Path,
    assessments_csv: Path,
    ngo_home: NgoHome,
    submit_cli: Callable[..., Any],
) -> None:
    """Tests that assessments whose episodes were never submitted are refused with rule
    assessment-episode-exists on every row, and accepted once the episodes are."""
    refused = submit_cli(assessments_csv, dataset="assessments")

    assert refused.exit_code == 1
    assert "assessment-episode-exists" in refused.output
    assert waiting(ngo_home) == []
    (report_json,) = ngo_home.reports(NGO).glob("*assessments*/report.json")
    report = json.loads(report_json.read_text(encoding="utf-8"))
    (failure,) = report["failures"]
    assert failure["rule"] == "assessment-episode-exists"
    assert failure["count"] == 8
    assert "Submit the episodes extract first" in failure["fix"]

    assert submit_cli(episodes_csv).exit_code == ACCEPTED_HERE
    accepted = submit_cli(assessments_csv, dataset="assessments")
    assert accepted.exit_code == ACCEPTED_HERE, accepted.output
    assert len(waiting(ngo_home)) == 2
    assert load_contract("assessments").relationships[0].id == "assessment-episode-exists"


@pytest.mark.slow
def test_going_back_to_an_earlier_file_makes_it_current_again(
    write_csv: Callable[..., Path],
    episode_rows: Callable[..., Rows],
    home: Home,
    submit_cli: Callable[..., Any],
    deliver: Callable[..., list[str]],
) -> None:
    """Tests that when an NGO replaces file A by B and then submits A again, A is what the hub
    holds as current after intake, once, with B superseded and both archived: the hub takes
    the superseded submission in again as a new arrival, with a new receipt."""
    rows = episode_rows()
    changed = [dict(row) for row in rows]
    changed[0]["sessions"] = "40"
    file_a = write_csv("a.csv", rows)
    file_b = write_csv("b.csv", changed)
    first = submit_cli(file_a)
    assert first.exit_code == ACCEPTED_HERE
    (a_id,) = deliver()
    assert all(r.success for r in run_intake(home))
    assert submit_cli(file_b).exit_code == ACCEPTED_HERE
    deliver()
    assert all(r.success for r in run_intake(home))

    again = submit_cli(file_a)

    assert again.exit_code == ACCEPTED_HERE, again.output
    assert "already accepted" not in again.output
    assert submission_of(again.output) == a_id
    assert deliver() == [a_id]
    assert pending_ids(home) == [a_id]
    assert all(r.success for r in run_intake(home))
    with open_vault(home).connect() as con:
        status = dict(con.execute("SELECT submission_id, status FROM submissions").fetchall())
        current = con.execute(
            "SELECT submission_id, count(*) FROM current_episodes GROUP BY ALL"
        ).fetchall()
        archived = dict(
            con.execute("SELECT submission_id, count(*) FROM episodes GROUP BY ALL").fetchall()
        )
        assert row_count_mismatches(con) == {}
    assert status[a_id] == "accepted"
    assert list(status.values()).count("superseded") == 1
    assert current == [(a_id, 4)]
    assert sorted(archived.values()) == [4, 4]
