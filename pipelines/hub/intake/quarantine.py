"""Quarantine: a refused submission is kept with the hub's report; a duplicate is let go.

The report names columns, rules and row numbers only. When the refusal is for
direct identifiers, the hub keeps no copy of the data file at all.
"""

from __future__ import annotations

import shutil
import uuid
from dataclasses import replace

import duckdb

from pipelines.db import transaction
from pipelines.home import Home, private_dir
from pipelines.hub import audit
from pipelines.hub.inbox import InboxItem, Stray, strays
from pipelines.hub.intake.verdicts import Verdict, VerdictStatus
from pipelines.validation.report import Report, write_report


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
        note="The submission is held in quarantine with this report.",
    )
    target = private_dir(home.quarantine) / verdict.submission_id
    if target.exists():
        shutil.rmtree(target)
    if item.folder.exists():
        shutil.move(str(item.folder), str(target))
    else:
        target.mkdir(mode=0o700)
    if verdict.identifiers:
        # The hub keeps no copy of direct-identifier values: keep the manifest and report only.
        (target / item.payload.name).unlink(missing_ok=True)
    write_report(report, target)
    return replace(verdict, report_dir=target)


def refuse_strays(home: Home, con: duckdb.DuckDBPyConnection, actor: str) -> list[Stray]:
    """Move everything in the inbox that the hub did not put there out of it, unread and never
    followed (a link is moved as a link), into ``hub/strays``; audit each. Return them."""
    found = strays(home)
    if not found:
        return []
    target = private_dir(home.hub / "strays")
    moved = []
    for stray in found:
        try:
            (home.inbox / stray.name).rename(target / f"{uuid.uuid4().hex}-{stray.kind[:4]}")
        except OSError:
            continue  # gone meanwhile, or not ours to move: reported again next time if still there
        moved.append(stray)
    with transaction(con):
        audit.record(
            con,
            [audit.Event(actor, "stray_refused", "inbox", {"what": s.described}) for s in moved],
        )
    return moved
