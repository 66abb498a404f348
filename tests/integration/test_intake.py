"""Hub intake: the hub re-validates everything, keeps accepted rows encrypted, and never trusts
the sender.

Submissions are made on the NGO side (``outcomes submit``) or, for the ones a
well-behaved NGO tool would never make, crafted with the real packing code
(``sanitised_table`` / ``pack``), and reach the inbox through the hub's own
receiver (:func:`~pipelines.hub.service.receive.receive`, as the API does);
some are then damaged in the inbox. Intake runs through Dagster
(``run_intake``) and through the pure functions of :mod:`pipelines.hub.intake`.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from ngo_helpers import ACCEPTED_HERE, hand_in

from pipelines.assets.runs import run_intake
from pipelines.home import Home
from pipelines.hub import audit
from pipelines.hub.inbox import load_item, pending_ids
from pipelines.hub.intake import promote, staged_violations, validate_and_stage
from pipelines.hub.intake import stage as intake_stage
from pipelines.hub.vault import Vault, VaultError, open_vault
from pipelines.hub.vault import quarantine as vault_quarantine
from pipelines.hub.vault.checks import row_count_mismatches
from pipelines.ngo.folder import NgoHome
from pipelines.ngo.keys import ngo_key
from pipelines.ngo.outbox import pack
from pipelines.ngo.sanitise import sanitised_table
from pipelines.ngo.submit import submit
from pipelines.standard.contract import load_contract
from pipelines.standard.handover import MANIFEST, PAYLOAD, file_sha256
from pipelines.standard.periods import Period
from pipelines.validation.extract import read_extract
from pipelines.validation.prepare import Context, contract_view, prepare

NGO = "ngo-0042"
PERIOD = Period.parse("2025-Q3")
Rows = list[dict[str, str]]


@contextmanager
def vault(home: Home) -> Iterator[duckdb.DuckDBPyConnection]:
    with open_vault(home).connect() as con:
        yield con


@pytest.fixture
def submitted(home: Home, ngo_home: NgoHome) -> Callable[..., str]:
    """Submit on the NGO side and deliver to the hub's inbox; return the submission id."""

    def make(path: Path, dataset: str = "episodes") -> str:
        outcome = submit(path, home=ngo_home, ngo_id=NGO, period=PERIOD, dataset=dataset)
        assert outcome.status == "accepted", outcome.report
        (sid,) = hand_in(home, ngo_home)
        assert sid == outcome.submission_id
        return sid

    return make


@pytest.fixture
def craft(home: Home, ngo_home: NgoHome, write_csv: Callable[..., Path]) -> Callable[..., str]:
    """Deliver a submission to the inbox packed by the real packing code, optionally changing
    the sanitised table first (as a sender who bypasses ``outcomes submit`` could)."""

    def make(
        rows: Rows,
        dataset: str = "episodes",
        change: Callable[[pa.Table], pa.Table] | None = None,
    ) -> str:
        contract = load_contract(dataset)
        extract = read_extract(write_csv(f"crafted-{dataset}.csv", rows))
        view, _dropped = contract_view(extract.frame, contract)
        prepared = prepare(view, contract, Context(PERIOD, date.today()))
        table = sanitised_table(prepared, contract, ngo_key(ngo_home, NGO).key)
        if change is not None:
            table = change(table)
        pack(
            table,
            ngo_home=ngo_home,
            ngo_id=NGO,
            period=PERIOD,
            contract=contract,
            submitted_on=date.today(),
            dropped_columns=0,
        )
        (sid,) = hand_in(home, ngo_home)
        return sid

    return make


def with_column(table: pa.Table, name: str, values: list[str]) -> pa.Table:
    return table.set_column(table.column_names.index(name), name, pa.array(values, pa.string()))


def quarantined(home: Home, sid: str) -> tuple[set[str], dict[str, Any]]:
    """The files the steward can read of a refused submission, and its report."""
    folder = home.quarantine / sid
    report = json.loads((folder / "report.json").read_text(encoding="utf-8"))
    return {p.name for p in folder.iterdir()}, report


def kept_in_vault(home: Home, sid: str) -> bytes | None:
    """The refused payload the vault keeps of ``sid`` (None: it keeps none)."""
    with vault(home) as con:
        assert sid in vault_quarantine.kept(con)
        return vault_quarantine.payload(con, sid)


def audit_entries(home: Home) -> list[dict[str, Any]]:
    with vault(home) as con:
        return audit.entries(con)


def status_of(home: Home) -> dict[str, str]:
    with vault(home) as con:
        return dict(con.execute("SELECT submission_id, status FROM submissions").fetchall())


@pytest.mark.slow
def test_accepted_rows_land_in_the_vault_through_the_dagster_job(
    home: Home, episodes_csv: Path, assessments_csv: Path, submitted: Callable[..., str]
) -> None:
    """Tests that the intake job takes episodes and their assessments from the inbox into the
    vault's current tables, row for row, and empties the inbox."""
    episodes_id = submitted(episodes_csv)
    assessments_id = submitted(assessments_csv, "assessments")
    sent = pq.read_table(home.inbox_item(episodes_id) / PAYLOAD)

    runs = run_intake(home)

    assert [r.success for r in runs] == [True]
    assert set(runs[0].keys) == {episodes_id, assessments_id}
    assert pending_ids(home) == []
    assert status_of(home) == {episodes_id: "accepted", assessments_id: "accepted"}
    with vault(home) as con:
        current = con.execute(
            "SELECT client_id, episode_id, sessions, source_row FROM current_episodes "
            "ORDER BY source_row"
        ).fetchall()
        assessments = con.execute("SELECT count(*) FROM current_assessments").fetchone()
        assert row_count_mismatches(con) == {}
    expected = sent.select(["client_id", "episode_id", "sessions", "source_row"]).to_pylist()
    assert [
        dict(zip(("client_id", "episode_id", "sessions", "source_row"), r, strict=True))
        for r in current
    ] == expected
    assert assessments == (8,)


@pytest.mark.slow
def test_the_vault_file_is_encrypted_at_rest(
    home: Home, episodes_csv: Path, tmp_path: Path, submitted: Callable[..., str]
) -> None:
    """Tests that a pseudonym held in the vault appears in neither vault.duckdb nor its WAL,
    that the file cannot be opened without the key or with a wrong one, while the same rows in
    an unencrypted DuckDB file do show the pseudonym (so the byte check can fail)."""
    sid = submitted(episodes_csv)
    marker = pq.read_table(home.inbox_item(sid) / PAYLOAD).column("client_id")[0].as_py()
    assert [r.success for r in run_intake(home)] == [True]
    with vault(home) as con:
        held = con.execute("SELECT client_id, episode_id FROM current_episodes").fetchall()
    assert marker in {c for c, _ in held}

    for path in (home.vault_file, home.vault_file.with_name(home.vault_file.name + ".wal")):
        if path.exists():
            assert marker.encode() not in path.read_bytes(), path

    plain = tmp_path / "plain.duckdb"
    with duckdb.connect(str(plain)) as con:
        con.execute("CREATE TABLE t (client_id VARCHAR, episode_id VARCHAR)")
        con.executemany("INSERT INTO t VALUES (?, ?)", held)
    assert marker.encode() in plain.read_bytes()

    with pytest.raises(duckdb.Error, match="encrypted"):
        duckdb.connect(str(home.vault_file), read_only=True)
    wrong = Vault(home, open_vault(home, {"OUTCOMES_VAULT_KEY": "x" * 44}).key)
    with pytest.raises(VaultError, match="could not be decrypted"), wrong.connect():
        pass


@pytest.mark.slow
def test_a_payload_changed_after_hand_over_is_refused_and_quarantined(
    home: Home, episodes_csv: Path, submitted: Callable[..., str]
) -> None:
    """Tests that a data file altered after it was received (its sha256 no longer matches the
    manifest) is refused by rule hub.sha256 and kept encrypted in the vault, byte for byte,
    while the only file left in the clear is the report, which holds no value."""
    sid = submitted(episodes_csv)
    payload = home.inbox_item(sid) / PAYLOAD
    table = pq.read_table(payload)
    sessions = table.column("sessions").to_pylist()
    sessions[0] += 1
    pq.write_table(
        table.set_column(
            table.column_names.index("sessions"), "sessions", pa.array(sessions, pa.int32())
        ),
        payload,
    )
    altered = payload.read_bytes()

    runs = run_intake(home)

    assert [r.success for r in runs] == [True]
    assert status_of(home) == {sid: "refused"}
    files, report = quarantined(home, sid)
    assert files == {"report.json", "report.html"}
    assert kept_in_vault(home, sid) == altered
    assert [f["rule"] for f in report["failures"]] == ["hub.sha256"]
    assert report["stage"] == "hub"
    assert pending_ids(home) == []
    with vault(home) as con:
        assert con.execute("SELECT count(*) FROM episodes").fetchone() == (0,)
        (reason,) = con.execute("SELECT reason FROM submissions").fetchone()
    assert reason == "hub.sha256"


def test_a_manifest_that_lies_about_its_rows_is_refused_without_stopping_intake(
    home: Home, episode_rows: Callable[..., Rows], craft: Callable[..., str]
) -> None:
    """Tests that a manifest whose row count is not a number is refused by hub.manifest and
    recorded, while a good submission in the same intake is still staged."""
    bad = craft(episode_rows(3))
    manifest_path = home.inbox_item(bad) / MANIFEST
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    manifest["rows"] = "many"
    manifest_path.write_text(json.dumps(manifest), encoding="utf-8")
    good = craft(episode_rows(5))

    with vault(home) as con:
        verdicts = {
            v.submission_id: v
            for v in validate_and_stage(home, con, [load_item(home, bad), load_item(home, good)])
        }
        recorded = dict(con.execute("SELECT submission_id, reason FROM submissions").fetchall())
        refusals = [e["subject"] for e in audit.entries(con, action="refused")]

    assert verdicts[good].status == "staged"
    assert verdicts[bad].status == "refused"
    assert [f.rule for f in verdicts[bad].findings] == ["hub.manifest"]
    assert recorded[bad] == "hub.manifest"
    assert refusals == [bad]
    _files, report = quarantined(home, bad)
    assert [f["rule"] for f in report["failures"]] == ["hub.manifest"]


def test_raw_client_references_crafted_into_the_inbox_are_refused(
    home: Home, episode_rows: Callable[..., Rows], craft: Callable[..., str]
) -> None:
    """Tests that a sanitised file whose client_id holds the NGO's raw references (not
    pseudonyms) is refused by rule client_id.pseudonymised, with every row named."""
    rows = episode_rows()
    sid = craft(rows, change=lambda t: with_column(t, "client_id", [r["client_id"] for r in rows]))

    with vault(home) as con:
        (verdict,) = validate_and_stage(home, con, [load_item(home, sid)])
        assert staged_violations(con) == {}
        assert con.execute("SELECT count(*) FROM episodes").fetchone() == (0,)

    assert verdict.status == "refused"
    rules = {f.rule: f for f in verdict.findings}
    assert set(rules) == {"client_id.pseudonymised"}
    assert rules["client_id.pseudonymised"].rows == (2, 3, 4, 5)
    files, report = quarantined(home, sid)
    assert {f["rule"] for f in report["failures"]} == {"client_id.pseudonymised"}
    assert files == {"report.json", "report.html"}
    assert kept_in_vault(home, sid)  # the raw references stay only inside the vault
    assert not (home.inbox / sid).exists()


def test_nhi_numbers_crafted_into_the_inbox_are_refused_and_their_file_deleted(
    home: Home, episode_rows: Callable[..., Rows], craft: Callable[..., str]
) -> None:
    """Tests that a crafted inbox file carrying NHI numbers is refused, that the hub keeps its
    report but no copy of its data file (not even in the vault), and that nothing the hub kept
    holds the NHIs."""
    nhis = ["ZZZ0016", "ZZZ0024", "ZAC5361"]
    rows = episode_rows()
    sid = craft(rows, change=lambda t: with_column(t, "episode_id", [*nhis, nhis[0] + "x"]))

    with vault(home) as con:
        (verdict,) = validate_and_stage(home, con, [load_item(home, sid)])
        kept = con.execute("SELECT count(*) FROM episodes").fetchone()
        logged = json.dumps([e["detail"] for e in audit.entries(con)])

    assert verdict.status == "refused"
    assert {(f.column, f.kind, f.how) for f in verdict.identifiers} == {
        ("episode_id", "nhi", "value")
    }
    files, report = quarantined(home, sid)
    assert files == {"report.json", "report.html"}
    assert kept_in_vault(home, sid) is None
    assert report["identifiers"][0]["rows"] == [2, 3, 4]
    assert kept == (0,)
    assert not (home.inbox / sid).exists()
    for path in home.root.rglob("*"):
        if path.is_file() and path != home.vault_file:
            for nhi in nhis:
                assert nhi.encode() not in path.read_bytes(), path
    assert all(nhi not in logged for nhi in nhis)


def test_assessments_whose_episodes_are_not_current_are_refused(
    home: Home,
    episode_rows: Callable[..., Rows],
    assessment_rows: Callable[[Rows], Rows],
    craft: Callable[..., str],
) -> None:
    """Tests that an assessments submission whose episodes the hub does not hold is refused by
    assessment-episode-exists, and that the same assessments pass once their episodes arrive."""
    episodes = episode_rows()
    orphan = craft(assessment_rows(episodes), "assessments")

    with vault(home) as con:
        (verdict,) = validate_and_stage(home, con, [load_item(home, orphan)])
    assert verdict.status == "refused"
    assert [f.rule for f in verdict.findings] == ["assessment-episode-exists"]
    assert verdict.findings[0].count == 8

    episodes_id = craft(episodes)
    again = craft(assessment_rows(episodes)[:-1], "assessments")  # a new file, same episodes
    with vault(home) as con:
        verdicts = validate_and_stage(
            home, con, [load_item(home, again), load_item(home, episodes_id)]
        )
        assert {v.submission_id: v.status for v in verdicts} == {
            episodes_id: "staged",
            again: "staged",
        }
        assert staged_violations(con) == {}


def test_the_blocking_check_names_a_rule_broken_in_the_staged_rows(
    home: Home, episodes_csv: Path, submitted: Callable[..., str]
) -> None:
    """Tests that staged_violations finds nothing in good staged rows and names the rule (with
    its row count) when a staged row is corrupted directly in SQL (staged rows live in the row
    tables, kept out of releases by their submission's status)."""
    sid = submitted(episodes_csv)
    with vault(home) as con:
        (verdict,) = validate_and_stage(home, con, [load_item(home, sid)])
        assert verdict.status == "staged"
        assert staged_violations(con) == {}
        con.execute("UPDATE episodes SET sessions = 5000 WHERE source_row = 3")
        assert staged_violations(con) == {"episodes: sessions.range": 1}
        con.execute("UPDATE episodes SET sessions = 1, programme = 'knitting'")
        assert staged_violations(con) == {"episodes: programme.accepted_values": 4}
        con.execute("UPDATE episodes SET programme = NULL")
        assert staged_violations(con) == {"episodes: programme.required": 4}


@pytest.mark.slow
def test_a_failed_blocking_check_stops_the_run_and_promotes_nothing(
    home: Home, episodes_csv: Path, monkeypatch: pytest.MonkeyPatch, submitted: Callable[..., str]
) -> None:
    """Tests that when a staged row breaks a rule (simulated by staging a corrupted row), the
    intake run fails, nothing becomes current and the submission stays in the inbox; a clean
    re-run then takes it in."""
    sid = submitted(episodes_csv)
    real_stage = intake_stage.stage_rows

    def stage_a_bad_row(con: duckdb.DuckDBPyConnection, contract: Any, items: Any) -> None:
        real_stage(con, contract, items)
        ids = ", ".join(f"'{i.submission_id}'" for i in items)
        con.execute(f"UPDATE {contract.dataset} SET sessions = 5000 WHERE submission_id IN ({ids})")

    with monkeypatch.context() as patched:
        patched.setattr(intake_stage, "stage_rows", stage_a_bad_row)
        runs = run_intake(home)

    assert [r.success for r in runs] == [False]
    assert status_of(home) == {sid: "staged"}
    with vault(home) as con:
        assert con.execute("SELECT count(*) FROM current_episodes").fetchone() == (0,)
        staged_only = con.execute(
            "SELECT count(*) FROM episodes JOIN submissions USING (submission_id) "
            "WHERE status <> 'staged'"
        ).fetchone()
        assert staged_only == (0,)
        assert "accepted" not in {e["action"] for e in audit.entries(con)}
    assert pending_ids(home) == [sid]

    assert [r.success for r in run_intake(home)] == [True]
    assert status_of(home) == {sid: "accepted"}


@pytest.mark.slow
def test_the_audit_log_records_every_decision_in_an_intact_chain(
    *,
    home: Home,
    write_csv: Callable[..., Path],
    episode_rows: Callable[..., Rows],
    tmp_path: Path,
    run_cli: Callable[..., Any],
    submitted: Callable[..., str],
) -> None:
    """Tests that intake records validated, refused, accepted, superseded and duplicate_ignored
    events with the file's sha256, after the desk's own events (the NGO registered, each upload
    received, naming the NGO whose token sent it), that verify() (and `outcomes audit --verify`)
    finds the chain intact, and that editing or deleting an entry makes verify() return its
    seq."""
    rows = episode_rows()
    first = submitted(write_csv("v1.csv", rows))
    first_sha = file_sha256(home.inbox_item(first) / PAYLOAD)
    keep = tmp_path / "copy-of-first"
    shutil.copytree(home.inbox_item(first), keep)
    tampered = submitted(write_csv("other.csv", episode_rows(3)), "episodes")
    with (home.inbox_item(tampered) / PAYLOAD).open("ab") as fh:
        fh.write(b"\0")
    assert all(r.success for r in run_intake(home))

    corrected = [dict(r) for r in rows]
    corrected[0]["sessions"] = "40"
    second = submitted(write_csv("v2.csv", corrected))
    shutil.copytree(keep, home.inbox_item(first))  # the first file arrives again
    assert all(r.success for r in run_intake(home))
    intact = run_cli("audit", "--verify", "--home", home.root)
    assert intact.exit_code == 0
    assert "hash chain is intact" in intact.output

    with vault(home) as con:
        entries = audit.entries(con)
        by_action: dict[str, list[dict[str, Any]]] = {}
        for entry in entries:
            by_action.setdefault(entry["action"], []).append(entry)
        assert set(by_action) == {
            "ngo_registered",
            "received",
            "validated",
            "refused",
            "accepted",
            "superseded",
            "duplicate_ignored",
        }
        sha = dict(con.execute("SELECT submission_id, sha256 FROM submissions").fetchall())
        assert [e["subject"] for e in by_action["received"]] == [first, tampered, second]
        for entry in by_action["received"]:
            assert entry["detail"]["ngo_id"] == NGO
            assert entry["detail"]["sha256"].startswith(entry["subject"].rsplit(".", 1)[1])
        assert [e["subject"] for e in by_action["ngo_registered"]] == [NGO]
        for action in ("validated", "refused", "accepted", "duplicate_ignored"):
            for entry in by_action[action]:
                assert entry["detail"]["sha256"] == sha[entry["subject"]]
        assert [e["subject"] for e in by_action["refused"]] == [tampered]
        assert [e["subject"] for e in by_action["superseded"]] == [first]
        assert by_action["superseded"][0]["detail"]["superseded_by"] == second
        assert [e["subject"] for e in by_action["duplicate_ignored"]] == [first]
        assert sorted(e["subject"] for e in by_action["accepted"]) == sorted([first, second])
        assert sha[first] == first_sha
        assert audit.verify(con) is None

        target = entries[2]["seq"]
        con.execute("UPDATE audit_log SET subject = 'someone-else' WHERE seq = ?", [target])
        assert audit.verify(con) == target
        con.execute(
            "UPDATE audit_log SET subject = ? WHERE seq = ?", [entries[2]["subject"], target]
        )
        assert audit.verify(con) is None
        con.execute("DELETE FROM audit_log WHERE seq = ?", [target])
        assert audit.verify(con) == target + 1
    broken = run_cli("audit", "--verify", "--home", home.root)
    assert broken.exit_code == 1
    assert f"breaks at entry {target + 1}" in broken.output


@pytest.mark.slow
def test_episodes_resubmitted_without_assessed_episodes_are_flagged_at_the_ngo_and_the_hub(
    *,
    home: Home,
    write_csv: Callable[..., Path],
    episode_rows: Callable[..., Rows],
    assessment_rows: Callable[[Rows], Rows],
    submit_cli: Callable[..., Any],
    run_cli: Callable[..., Any],
    deliver: Callable[..., list[str]],
) -> None:
    """Tests that a corrected episodes file that drops an episode the NGO's accepted assessments
    refer to is accepted with a note at the NGO saying how many assessment rows it leaves behind;
    that the hub records the gap in its audit log and `outcomes status` names it (counts, never
    ids); and that resubmitting the assessments closes it."""
    episodes = episode_rows(4)
    assert submit_cli(write_csv("episodes.csv", episodes)).exit_code == ACCEPTED_HERE
    assessments = write_csv("assessments.csv", assessment_rows(episodes))
    assert submit_cli(assessments, dataset="assessments").exit_code == ACCEPTED_HERE
    assert len(deliver()) == 2
    assert all(r.success for r in run_intake(home))

    corrected = submit_cli(write_csv("episodes-v2.csv", episodes[:-1]))
    said = " ".join(corrected.output.split())
    assert corrected.exit_code == ACCEPTED_HERE
    assert "2 row(s) of the assessments you submitted for 2025-Q3 refer to episodes" in said
    assert len(deliver()) == 1
    assert all(r.success for r in run_intake(home))

    with vault(home) as con:
        (gap,) = audit.entries(con, action="references_unresolved")
        assert audit.verify(con) is None
    assert gap["detail"] == {
        "ngo_id": NGO,
        "period": str(PERIOD),
        "dataset": "assessments",
        "rule": "assessment-episode-exists",
        "rows": 2,
    }
    status = run_cli("status", "--period", str(PERIOD), "--ngo", NGO, "--home", home.root)
    shown = " ".join(status.output.split())
    assert f"{NGO}, {PERIOD}: 2 current assessments row(s) refer to episodes" in shown
    assert episodes[-1]["episode_id"] not in status.output + corrected.output

    resubmitted = write_csv("assessments-v2.csv", assessment_rows(episodes[:-1]))
    assert submit_cli(resubmitted, dataset="assessments").exit_code == ACCEPTED_HERE
    assert len(deliver()) == 1
    assert all(r.success for r in run_intake(home))
    assert "refer to episodes" not in run_cli("status", "--home", home.root).output


@pytest.mark.slow
def test_intake_on_an_empty_inbox_does_nothing(
    home: Home, episodes_csv: Path, run_cli: Callable[..., Any], submitted: Callable[..., str]
) -> None:
    """Tests that intake with nothing in the inbox starts no run, creates no vault, and after a
    real intake changes neither the submissions nor the audit log."""
    home.create()
    assert run_intake(home) == []
    assert not home.vault_file.exists()
    result = run_cli("intake", "--home", home.root)
    assert result.exit_code == 0
    assert "The inbox is empty" in result.output

    submitted(episodes_csv)
    assert all(r.success for r in run_intake(home))
    before = (status_of(home), audit_entries(home))

    assert run_intake(home) == []

    assert (status_of(home), audit_entries(home)) == before


def test_promote_without_staged_submissions_changes_nothing(home: Home) -> None:
    """Tests that promote() with nothing staged makes nothing current and records nothing."""
    with vault(home) as con:
        assert promote(home, con).made_current == []
        assert audit.entries(con) == []


@pytest.mark.slow
def test_what_the_hub_did_not_put_in_the_inbox_is_removed_unread_and_kept_nowhere(
    *,
    home: Home,
    episodes_csv: Path,
    submitted: Callable[..., str],
    tmp_path: Path,
) -> None:
    """Tests that intake removes from the inbox, without reading or following them, a symbolic
    link, a file, and a folder laid out like a submission but without the hub's receipt (an
    old local hand-over): the link's target is untouched, none of their contents is kept
    anywhere in the hub, each is audited without its name, and the submission the hub did
    receive is taken in as usual."""
    import os

    sid = submitted(episodes_csv)
    private = "Wiremu Tane, 14 Kauri Street"
    outside = tmp_path / "outside.txt"
    outside.write_text(private)
    (home.inbox / "link-to-outside").symlink_to(outside)
    (home.inbox / "notes.txt").write_text(private)
    old = home.inbox / sid.replace("episodes", "assessments")
    old.mkdir()
    (old / MANIFEST).write_text(json.dumps({"note": private}))
    (old / PAYLOAD).write_text(private)
    os.mkfifo(home.inbox / "a-pipe")

    runs = run_intake(home)

    assert [r.success for r in runs] == [True]
    assert sorted(p.name for p in home.inbox.iterdir()) == []
    assert outside.read_text() == private
    assert status_of(home) == {sid: "accepted"}
    for path in home.root.rglob("*"):
        if path.is_file() and not path.is_symlink():
            assert private.encode() not in path.read_bytes(), path
    with vault(home) as con:
        refused = [e["detail"]["what"] for e in audit.entries(con, action="stray_refused")]
    assert sorted(w.split(" named ")[0] for w in refused) == [
        "a file",
        "a folder",
        "a special file",
        "a symbolic link",
    ]
    names = ("notes.txt", "link-to-outside", "a-pipe", old.name)
    assert not any(name in json.dumps(refused) for name in names)


@pytest.mark.slow
def test_two_intakes_at_once_take_every_submission_in_once(
    *,
    home: Home,
    ngo_home: NgoHome,
    episode_rows: Callable[..., Rows],
    assessment_rows: Callable[[Rows], Rows],
) -> None:
    """Tests that two `outcomes intake` processes started together (as the daemon's sensor and
    a steward's command can be) both succeed, that every submission ends accepted with exactly
    its manifest's rows in the vault, made current once, and that the audit chain is intact:
    the vault lets one step in at a time, and each re-reads the inbox once it is in."""
    import subprocess
    import sys

    from ngo_helpers import pack_rows

    for n in range(4):
        episodes = episode_rows(3 + n)
        pack_rows(ngo_home, f"ngo-{50 + n:04d}", episodes)
        pack_rows(ngo_home, f"ngo-{50 + n:04d}", assessment_rows(episodes), dataset="assessments")
    ids = hand_in(home, ngo_home)
    outcomes = str(Path(sys.executable).with_name("outcomes"))
    procs = [
        subprocess.Popen(
            [outcomes, "intake", "--home", str(home.root)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        for _ in range(2)
    ]
    outputs = [p.communicate(timeout=300)[0].decode() for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    with vault(home) as con:
        statuses = dict(con.execute("SELECT submission_id, status FROM submissions").fetchall())
        assert row_count_mismatches(con) == {}
        assert audit.verify(con) is None
        accepted = [e["subject"] for e in audit.entries(con, action="accepted")]
    assert statuses == dict.fromkeys(ids, "accepted")
    assert sorted(accepted) == sorted(ids)
    assert pending_ids(home) == []


def test_a_payload_over_a_limit_is_refused_naming_it_and_intake_carries_on(
    home: Home, ngo_home: NgoHome, episode_rows: Callable[..., Rows], craft: Callable[..., str]
) -> None:
    """Tests that a sanitised payload the NGO side never makes, one Parquet row group per row
    (1,001 of them, over parquet_row_groups), is refused at the hub by hub.limits with the limit
    named, before a value is decoded, while a good submission in the same intake is staged."""
    import io

    from pipelines.hub.desk import register
    from pipelines.hub.desk.store import opened
    from pipelines.hub.service.receive import receive
    from pipelines.standard.handover import Manifest
    from pipelines.standard.limits import PARQUET_ROW_GROUPS

    good = craft(episode_rows(5))
    contract = load_contract("episodes")
    rows = episode_rows(PARQUET_ROW_GROUPS.value + 1)
    path = ngo_home.root / "many-groups.csv"
    path.write_text(
        "\n".join([",".join(rows[0]), *(",".join(r.values()) for r in rows)]), encoding="utf-8"
    )
    view, _ = contract_view(read_extract(path).frame, contract)
    prepared = prepare(view, contract, Context(PERIOD, date.today()))
    table = sanitised_table(prepared, contract, ngo_key(ngo_home, NGO).key)
    buffer = io.BytesIO()
    pq.write_table(table, buffer, row_group_size=1)
    payload = buffer.getvalue()
    manifest = Manifest(
        ngo_id=NGO,
        period=str(PERIOD),
        dataset="episodes",
        contract=contract.tag,
        contract_version=contract.version,
        sha256=__import__("hashlib").sha256(payload).hexdigest(),
        rows=table.num_rows,
        submitted_on=date.today(),
    )
    with opened(home) as desk:
        receipt, _new = receive(
            home, register.require(desk, NGO), manifest.to_json(), [payload], actor="tests"
        )
    bad = receipt.submission_id

    with vault(home) as con:
        verdicts = {
            v.submission_id: v
            for v in validate_and_stage(home, con, [load_item(home, bad), load_item(home, good)])
        }

    assert verdicts[good].status == "staged"
    assert verdicts[bad].status == "refused"
    (finding,) = verdicts[bad].findings
    assert finding.rule == "hub.limits"
    assert "parquet_row_groups" in finding.description
    _files, report = quarantined(home, bad)
    assert [f["rule"] for f in report["failures"]] == ["hub.limits"]
