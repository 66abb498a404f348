"""The audit trail anchored outside the hub: signed heads that a funder or an NGO can keep.

One hub is prepared per module (two NGOs' rows, three budget decisions, a release,
which publishes a signed head and exports audit_anchor.json); each test attacks its
own copy of it, on the real encrypted vault, the way whoever runs the hub could:
deleting the newest entries, or editing one entry and recomputing every later hash
with the hub's own hashing code, then rewriting the published anchor to match.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import pytest
from dp_helpers import PERIOD, isolated, rechain_audit_log, seed_home, small_sector

from pipelines.home import Home
from pipelines.hub import audit, checkpoints
from pipelines.hub.anchor import Anchor, AuditSigner, signing_key_file
from pipelines.hub.vault import Vault, open_vault, vault_key
from pipelines.published.export import ANCHOR_FILE, write_exports
from pipelines.published.store import ANCHOR_FIELDS, read_table

Cli = Callable[..., Any]
BUDGETS = [
    ("budget", "set", "--ngo", "ngo-aroha", "--period", "2025-Q4", "--rho", rho, "--by", "steward")
    for rho in ("0.3", "0.4", "0.5")
]


@pytest.fixture(autouse=True)
def _own_working_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)


@pytest.fixture(scope="module")
def released(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A hub (built once per module) with budget decisions and a release: its published zone
    holds a signed head, and its exports audit_anchor.json."""
    from click.testing import CliRunner

    from pipelines.cli import main

    root = tmp_path_factory.mktemp("anchored") / "home"
    with isolated(root.parent):
        seed_home(Home(root), *small_sector())
        for step in [*BUDGETS, ("release", "--period", PERIOD, "--yes")]:
            result = CliRunner().invoke(main, [*step, "--home", str(root)])
            assert result.exit_code == 0, result.output
    return root


@pytest.fixture
def hub(released: Path, tmp_path: Path) -> Home:
    """This test's own copy of the prepared hub (vault, keys, published zone, exports)."""
    shutil.copytree(released, tmp_path / "hub")
    return Home(tmp_path / "hub")


@pytest.fixture
def saved(hub: Home, tmp_path: Path) -> Path:
    """The anchor a funder downloaded after the release, kept on their own machine."""
    return Path(shutil.copy(hub.exports / ANCHOR_FILE, tmp_path / "kept-by-a-funder.json"))


def verify(run_cli: Cli, home: Home, *args: str | Path) -> Any:
    return run_cli("audit", "--verify", *args, "--home", home.root)


def attackers_vault(home: Home) -> Vault:
    """The vault opened as someone who holds the vault key but not the signing key."""
    return Vault(home, vault_key(home))


def rewrite_published_anchor(home: Home, *, signer: AuditSigner | None = None) -> Anchor:
    """Point the published zone at the vault's head as it now is, unsigned (or signed with
    ``signer``), drop the checkpoints the log no longer matches, and rewrite the exports with
    the hub's own code: what someone covering their tracks would publish."""
    with attackers_vault(home).connect() as con:
        head = audit.head(con)
        assert head is not None
        kept = [
            a
            for a in checkpoints.stored(con)
            if audit.hash_at(con, a.seq) == a.hash and a.seq < head[0]
        ]
        con.execute("DELETE FROM audit_checkpoints")
        now = checkpoints.datetime.now(checkpoints.UTC)
        anchor = (
            signer.sign(head[0], head[1], now, "publication")
            if signer
            else Anchor(head[0], head[1], now.isoformat(timespec="microseconds"))
        )
    record = anchor.as_record()
    with duckdb.connect(str(home.published_db)) as pub:
        pub.execute(
            "UPDATE publication SET " + ", ".join(f"audit_{f} = ?" for f in ANCHOR_FIELDS),
            [record[f] for f in ANCHOR_FIELDS],
        )
        pub.execute("DELETE FROM audit_checkpoints")
        for a in kept:
            values = a.as_record()
            pub.execute(
                "INSERT INTO audit_checkpoints VALUES (?, ?, ?, ?, ?, ?, ?)",
                [values[f] for f in ANCHOR_FIELDS],
            )
    write_exports(home.published_db, home.exports)
    return anchor


def saved_head(path: Path) -> Anchor:
    return Anchor.from_record(json.loads(path.read_text(encoding="utf-8"))["head"])


def assert_no_key_in(text: str, home: Home) -> None:
    """No line of output holds the signing key or the vault key."""
    private = signing_key_file(home).read_text()
    body = "".join(line for line in private.splitlines() if "-----" not in line)
    assert body not in text
    assert vault_key(home).reveal() not in text


def test_a_release_publishes_a_signed_head_that_a_saved_copy_verifies(
    hub: Home, saved: Path, run_cli: Cli, tmp_path: Path
) -> None:
    """Tests that a release publishes the log's head signed by the hub's key (in
    published.duckdb and in exports/audit_anchor.json beside the cells, with every checkpoint),
    that the head is the log's newest entry, and that `--verify --against` a saved copy (or a
    saved copy of the exports folder) passes, naming the entry, the time and the key."""
    head = saved_head(saved)
    with open_vault(hub).connect() as con:
        assert (head.seq, head.hash) == audit.head(con)
        assert audit.entries(con)[-1]["action"] == "release"
    assert head.signature_valid()
    assert head.public_key == AuditSigner(signing_key_file(hub)).public_key()
    publication = read_table(hub.published_db, "publication").iloc[0]
    assert publication["audit_signature"] == head.signature
    assert publication["audit_key_fingerprint"] == head.key_fingerprint
    assert {p.name for p in hub.exports.iterdir()} >= {"cells.csv", "cells.parquet", ANCHOR_FILE}
    published = read_table(hub.published_db, "audit_checkpoints")
    assert head.seq in set(published["seq"])

    result = verify(run_cli, hub, "--against", saved)
    assert result.exit_code == 0, result.output
    assert (
        f"Entry {head.seq} of the saved anchor ({head.provenance()}) is signed by the hub's key"
        in result.output
    )
    folder = shutil.copytree(hub.exports, tmp_path / "saved-exports")
    assert verify(run_cli, hub, "--against", folder).exit_code == 0
    assert_no_key_in(result.output, hub)


def test_verify_fails_when_the_newest_entries_are_cut_off(hub: Home, run_cli: Cli) -> None:
    """Tests that after a release (which publishes the audit log's head), `outcomes audit
    --verify` passes; that deleting the newest entries, which leaves a valid chain, makes it
    fail naming the published entry; and that audit.verify without an anchor cannot tell."""
    intact = verify(run_cli, hub)
    assert intact.exit_code == 0, intact.output
    assert "of the last publication" in intact.output

    with attackers_vault(hub).connect() as con:
        head = audit.head(con)
        assert head is not None
        con.execute("DELETE FROM audit_log WHERE seq >= ?", [head[0] - 1])
        assert audit.verify(con) is None  # the shortened chain is still a valid chain
        assert audit.verify(con, head) == head[0]

    cut = verify(run_cli, hub)
    assert cut.exit_code == 1
    assert f"entry {head[0]} of the last publication" in cut.output
    assert f"cut short after entry {head[0] - 2}" in cut.output


def test_against_detects_a_truncated_log_whose_published_anchor_was_rewritten(
    hub: Home, saved: Path, run_cli: Cli
) -> None:
    """Tests the truncation attack: the newest entries deleted, their checkpoints dropped, and
    the published anchor and exports rewritten (unsigned) to the shortened log. Checked
    against the copy a funder kept, the hub says the saved entry is missing and where the log
    now ends; plain --verify says the published head is unsigned."""
    head = saved_head(saved)
    with attackers_vault(hub).connect() as con:
        con.execute("DELETE FROM audit_log WHERE seq >= ?", [head.seq - 1])
        assert audit.verify(con) is None
    rewrite_published_anchor(hub)

    result = verify(run_cli, hub, "--against", saved)
    assert result.exit_code == 1
    assert (
        f"entry {head.seq} of the saved anchor ({head.provenance()}) is missing: the log was "
        f"cut short after entry {head.seq - 2}"
    ) in result.output
    plain = verify(run_cli, hub)
    assert plain.exit_code == 1
    assert "of the last publication" in plain.output
    assert "is not signed" in plain.output
    assert_no_key_in(result.output + plain.output, hub)


def test_against_detects_a_rechained_log_whose_published_anchor_was_rewritten(
    hub: Home, saved: Path, run_cli: Cli, tmp_path: Path
) -> None:
    """Tests the re-chaining attack: one entry's detail edited (a budget decision's rho) and
    every later hash recomputed with the hub's own code, the vault's checkpoints dropped, the
    published anchor and exports rewritten unsigned. The chain is valid end to end, yet
    --against the funder's copy says the signed entry's hash changed; the rewritten export
    is refused as unsigned; plain --verify says the published head is unsigned."""
    head = saved_head(saved)
    with attackers_vault(hub).connect() as con:
        budget = next(e for e in audit.entries(con) if e["action"] == "budget_set")
        rechain_audit_log(con, budget["seq"], rho=0.05)
        assert audit.hash_at(con, head.seq) != head.hash
    rewrite_published_anchor(hub)

    result = verify(run_cli, hub, "--against", saved)
    assert result.exit_code == 1
    assert "hash chain is intact" in result.output  # the chain alone cannot tell
    assert (
        f"entry {head.seq} of the saved anchor ({head.provenance()}) has a different hash in "
        f"the vault: the log was rewritten at or before entry {head.seq}"
    ) in result.output
    rewritten = shutil.copy(hub.exports / ANCHOR_FILE, tmp_path / "rewritten.json")
    forged = verify(run_cli, hub, "--against", rewritten)
    assert forged.exit_code == 1
    assert "of the saved anchor" in forged.output
    assert "is not signed, so it cannot show whether the log was rewritten" in forged.output
    plain = verify(run_cli, hub)
    assert plain.exit_code == 1
    assert "is not signed" in plain.output


def test_an_operator_who_holds_the_key_is_caught_only_by_an_earlier_copy(
    hub: Home, saved: Path, run_cli: Cli
) -> None:
    """Tests the limit the decision note states: whoever holds the signing key can re-sign a
    re-chained log so that the hub's own --verify passes, but a funder's earlier copy still
    shows the rewrite."""
    head = saved_head(saved)
    with attackers_vault(hub).connect() as con:
        rechain_audit_log(con, 1, note="rewritten")
    rewrite_published_anchor(hub, signer=AuditSigner(signing_key_file(hub)))

    assert verify(run_cli, hub).exit_code == 0
    result = verify(run_cli, hub, "--against", saved)
    assert result.exit_code == 1
    assert f"rewritten at or before entry {head.seq}" in result.output


def test_a_tampered_or_foreign_signature_in_a_saved_anchor_is_reported(
    hub: Home, saved: Path, run_cli: Cli, tmp_path: Path
) -> None:
    """Tests that a saved anchor whose signature was altered fails as such, and that one
    signed by another key (a forger's, carrying its own public key) fails naming both keys'
    fingerprints, though the log matches both."""
    document = json.loads(saved.read_text(encoding="utf-8"))
    head = saved_head(saved)
    signature = document["head"]["signature"]
    document["head"]["signature"] = ("0" if signature[0] != "0" else "1") + signature[1:]
    altered = tmp_path / "altered.json"
    altered.write_text(json.dumps(document), encoding="utf-8")
    result = verify(run_cli, hub, "--against", altered)
    assert result.exit_code == 1
    assert "does not verify under the public key it carries" in result.output

    forger = AuditSigner(tmp_path / "forger.key")
    signed = forger.sign(
        head.seq, head.hash, checkpoints.datetime.now(checkpoints.UTC), "publication"
    )
    document["head"] = signed.as_record()
    foreign = tmp_path / "foreign.json"
    foreign.write_text(json.dumps(document), encoding="utf-8")
    result = verify(run_cli, hub, "--against", foreign)
    assert result.exit_code == 1
    assert (
        f"was signed by key {signed.key_fingerprint}, but the hub now signs with key "
        f"{head.key_fingerprint}"
    ) in result.output


def test_a_signing_key_file_others_can_read_is_refused_with_the_fix(
    hub: Home, run_cli: Cli
) -> None:
    """Tests that every hub command refuses a signing key file readable by others, naming the
    file and the chmod that fixes it, and runs again once it is fixed."""
    key = signing_key_file(hub)
    key.chmod(0o644)
    for args in (("audit", "--verify"), ("status",)):
        result = run_cli(*args, "--home", hub.root)
        assert result.exit_code == 1
        assert f"readable by others; run: chmod 600 {key}" in " ".join(result.output.split())
    key.chmod(0o600)
    assert verify(run_cli, hub).exit_code == 0


def test_a_session_that_writes_500_entries_signs_a_checkpoint(home: Home) -> None:
    """Tests, on a real encrypted vault with the default thresholds, that a log never signed
    is signed when its first session ends; that 499 more entries are not yet a checkpoint; and
    that the 500th is, with no call by the code that wrote them."""

    def write(n: int) -> None:
        with open_vault(home).connect() as con:
            audit.record(con, [audit.Event("tester", "note", f"n{i}", {"i": i}) for i in range(n)])

    def signed() -> list[tuple[int, str]]:
        with attackers_vault(home).connect() as con:
            return [(a.seq, a.reason) for a in checkpoints.stored(con) if a.signature_valid()]

    write(1)
    assert signed() == [(1, "time")]
    write(499)
    assert signed() == [(1, "time")]
    write(1)
    assert signed() == [(1, "time"), (501, "entries")]


def test_the_steward_page_prints_the_published_head(hub: Home, saved: Path) -> None:
    """Tests that the site built from the published zone shows, on the steward page, the
    head a funder can compare with their copy: entry, hash, key fingerprint, public key and
    signature."""
    from dashboards import build_site

    build_site(hub.published_db, hub.site)
    page = (hub.site / "steward.html").read_text(encoding="utf-8")
    head = saved_head(saved)
    for value in (head.hash, head.key_fingerprint, head.public_key, head.signature):
        assert str(value) in page
    assert f'<th scope="row">Entry</th><td>{head.seq}</td>' in page
