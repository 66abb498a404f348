"""Quarantine: a refused submission is kept encrypted with the hub's report; a duplicate is let go.

Nothing refused is kept in the clear. The payload and manifest of a refused
submission go into the vault (:mod:`pipelines.hub.vault.quarantine`, purged
with its period's rows); when the refusal is for direct identifiers, the hub
keeps no copy of the data file at all. What stays readable for the steward, in
``hub/quarantine/<id>/``, is the report: columns, rules, counts and row
numbers, never a value.
"""

from __future__ import annotations

import shutil
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from pipelines.db import transaction
from pipelines.home import Home, private_dir
from pipelines.hub import audit
from pipelines.hub.inbox import InboxItem, Stray, strays
from pipelines.hub.intake.verdicts import Verdict, VerdictStatus
from pipelines.hub.vault import quarantine as kept
from pipelines.standard.handover import MANIFEST, PAYLOAD, RECEIPT
from pipelines.standard.limits import MANIFEST_BYTES, Limit
from pipelines.validation.report import Report, write_report
from pipelines.validation.source import ExtractError, read_source

KEPT_NOTE = (
    "The hub keeps the refused file encrypted in its vault, with the same retention as "
    "accepted rows; this report holds no value from it."
)
NOT_KEPT_NOTE = "The hub kept no copy of the refused file: it held direct identifiers."


def _read(path: Path, limit: Limit | None = None) -> bytes | None:
    """A file's bytes, read whole within its limit and never through a link; None otherwise."""
    try:
        return read_source(path, limit=limit, follow_symlinks=False).data
    except ExtractError:
        return None


def file_verdict(
    home: Home, con: duckdb.DuckDBPyConnection, item: InboxItem, verdict: Verdict, actor: str
) -> Verdict:
    """Write the hub's report; move a refused submission to quarantine (dropping identifier values)."""
    if verdict.status == VerdictStatus.DUPLICATE:
        shutil.rmtree(item.folder, ignore_errors=True)
        with transaction(con):
            audit.record(
                con,
                [
                    audit.Event(
                        actor,
                        "duplicate_ignored",
                        verdict.submission_id,
                        {"sha256": verdict.sha256, "ngo_id": verdict.ngo_id},
                    )
                ],
            )
        return verdict
    if verdict.status != VerdictStatus.REFUSED:
        return verdict
    report = Report(
        status="refused",
        stage="hub",
        ngo_id=verdict.ngo_id,
        period=verdict.period,
        dataset=verdict.dataset,
        contract=item.manifest.contract if item.manifest else "",
        file=item.payload.name,
        file_format="parquet",
        row_numbering="spreadsheet",
        rows=verdict.rows,
        failures=verdict.findings,
        identifiers=verdict.identifiers,
        submission_id=verdict.submission_id,
        note=NOT_KEPT_NOTE if verdict.identifiers else KEPT_NOTE,
    )
    with transaction(con):
        kept.keep(
            con,
            submission_id=verdict.submission_id,
            ngo_id=verdict.ngo_id,
            period=verdict.period,
            manifest=_read(item.folder / MANIFEST, MANIFEST_BYTES),
            # The hub keeps no copy of direct-identifier values.
            payload=None if verdict.identifiers else _read(item.payload),
            at=datetime.now(UTC),
        )
    # Committed: the inbox's copy goes (a crash before this refuses it again next time).
    if item.folder.is_dir() and not item.folder.is_symlink():
        shutil.rmtree(item.folder, ignore_errors=True)
    target = private_dir(home.quarantine) / verdict.submission_id
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(mode=0o700)
    write_report(report, target)
    return replace(verdict, report_dir=target)


def seal_legacy_quarantine(home: Home, con: duckdb.DuckDBPyConnection, actor: str) -> int:
    """Move refused files that an older hub left in the clear under ``hub/quarantine/`` into
    the vault, then delete them; return how many submissions were sealed."""
    if not home.quarantine.is_dir():
        return 0
    sealed = 0
    for folder in sorted(home.quarantine.iterdir()):
        names = [n for n in (PAYLOAD, MANIFEST, RECEIPT) if (folder / n).exists()]
        if not names or folder.is_symlink() or not folder.is_dir():
            continue
        sid = folder.name
        ngo, period = _who(con, sid)
        with transaction(con):
            kept.keep(
                con,
                submission_id=sid,
                ngo_id=ngo,
                period=period,
                manifest=_read(folder / MANIFEST, MANIFEST_BYTES),
                payload=_read(folder / PAYLOAD),
                at=datetime.now(UTC),
            )
            audit.record(con, [audit.Event(actor, "quarantine_sealed", sid, {"files": len(names)})])
        for name in names:
            (folder / name).unlink(missing_ok=True)
        sealed += 1
    return sealed


def _who(con: duckdb.DuckDBPyConnection, submission_id: str) -> tuple[str, str]:
    row = con.execute(
        "SELECT ngo_id, period FROM submissions WHERE submission_id = ?", [submission_id]
    ).fetchone()
    if row is not None:
        return str(row[0]), str(row[1])
    period, _, rest = submission_id.partition(".")
    return rest.partition(".")[0] or "?", period or "?"


def refuse_strays(home: Home, con: duckdb.DuckDBPyConnection, actor: str) -> list[Stray]:
    """Delete everything in the inbox that the hub did not put there, unread and never followed
    (a link is removed as a link, its target untouched); audit each, without its name. Nothing
    refused is kept in the clear, and what the hub did not receive it cannot vouch for enough to
    seal into the vault. Return what was removed."""
    found = strays(home)
    if not found:
        return []
    moved = []
    for stray in found:
        path = home.inbox / stray.name
        try:
            if path.is_symlink() or not path.is_dir():
                path.unlink()
            else:
                shutil.rmtree(path)  # never follows a link inside it
        except OSError:
            continue  # gone meanwhile, or not ours to remove: reported again next time if still there
        moved.append(stray)
    with transaction(con):
        audit.record(
            con,
            [audit.Event(actor, "stray_refused", "inbox", {"what": s.described}) for s in moved],
        )
    return moved
