"""Hub commands: ``intake``, ``status`` and ``audit``."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click
from rich.table import Table

from pipelines.cli.ngo import bar
from pipelines.cli.options import (
    HubFailure,
    console,
    home_option,
    ngo_option,
    period_option,
    require_hub,
    unchecked_home_option,
)
from pipelines.cli.remote import Hub, hub_options, print_remote_status
from pipelines.home import Home
from pipelines.standard.periods import Period


def open_hub_vault(home: Home) -> Any:
    from pipelines.hub.anchor import AnchorError
    from pipelines.hub.vault import VaultError, open_vault

    try:
        return open_vault(home)
    except (VaultError, AnchorError) as exc:
        raise HubFailure(str(exc)) from None


def submission_rows(
    home: Home,
    ids: list[str] | None = None,
    period: Period | None = None,
    ngo_id: str | None = None,
) -> list[tuple[Any, ...]]:
    from pipelines.hub.vault import VaultError, submissions

    try:
        with open_hub_vault(home).connect() as con:
            return submissions.listing(
                con, ids=ids, period=str(period) if period else None, ngo_id=ngo_id
            )
    except VaultError as exc:
        raise HubFailure(str(exc)) from None


def print_submissions(home: Home, rows: list[tuple[Any, ...]], *, summary: bool = True) -> None:
    accepted = [r for r in rows if r[4] == "accepted"]
    refused = [r for r in rows if r[4] == "refused"]
    if summary:
        console.print(
            f"Accepted {len(accepted):,} submission(s), {sum(r[5] or 0 for r in accepted):,} rows; "
            f"refused {len(refused):,}."
        )
    if refused:
        table = Table(title="Refused (held in quarantine with their reports)", title_justify="left")
        for col in ("Submission", "Why", "Report"):
            table.add_column(col, overflow="fold")
        for sid, *_rest, reason in refused:
            table.add_row(sid, reason or "", str(home.quarantine / sid / "report.html"))
        console.print(table)


@click.command()
@home_option
def intake(home: Home) -> None:
    """Take every submission waiting in the inbox through the hub's Dagster intake job.

    The same job the inbox sensor starts when the hub runs (outcomes serve):
    re-validation, staging in the encrypted vault, a blocking SQL re-check, then
    promotion. Safe while the sensor's own runs go on: the vault takes one at a time.
    """
    from pipelines.assets.runs import run_intake
    from pipelines.hub.inbox import pending_ids

    pending = pending_ids(home)
    if not pending:
        console.print("The inbox is empty: nothing to take in.")
        return
    with bar() as progress:
        task = progress.add_task("taking in submissions", total=len(pending))
        runs = run_intake(
            home, lambda done, total: progress.update(task, completed=done, total=total)
        )
    print_submissions(home, submission_rows(home, ids=pending))
    failed = [r for r in runs if not r.success]
    if failed:
        theirs = [sid for r in failed for sid in r.keys]
        current = sum(row[4] == "accepted" for row in submission_rows(home, ids=theirs))
        waiting = len(set(theirs) & set(pending_ids(home)))
        raise HubFailure(
            f"{len(failed)} intake run(s) failed: {', '.join(r.run_id for r in failed)}. Of their "
            f"{len(theirs)} submission(s), {current} were made current and {waiting} still wait "
            "in the inbox. Open the Dagster UI (outcomes ui) to see which check stopped them, "
            "then run `outcomes intake` again."
        )


@click.command()
@period_option(required=False, help_text="Only this period.")
@ngo_option(required=False, help_text="Only this NGO (on the hub's own computer).")
@hub_options(required=False)
@unchecked_home_option
def status(period: Period | None, ngo_id: str | None, hub: Hub | None, home: Home) -> None:
    """Submissions and the hub's verdicts on them.

    On the hub's computer (--home): every submission it holds, accepted, superseded
    and refused, per period. On an NGO's computer (--hub URL, with its token): the
    NGO's own submissions as the hub holds them, with the hub's report on each one
    it refused.
    """
    from pipelines.hub.inbox import pending_ids

    if hub is not None:
        print_remote_status(hub, period)
        return
    require_hub(home)
    rows = submission_rows(home, period=period, ngo_id=ngo_id)
    table = Table(title="Submissions", title_justify="left")
    columns = ("Period", "Dataset", "Accepted", "Superseded", "Refused", "Purged", "Rows (current)")
    for col in columns:
        table.add_column(col, justify="right" if col not in ("Period", "Dataset") else "left")
    groups: dict[tuple[str, str], dict[str, int]] = {}
    for _sid, _ngo, per, dataset, state, n, _reason in rows:
        g = groups.setdefault(
            (per, dataset), {"accepted": 0, "superseded": 0, "refused": 0, "purged": 0, "rows": 0}
        )
        g[state] = g.get(state, 0) + 1
        g["rows"] += (n or 0) if state == "accepted" else 0
    for (per, dataset), g in sorted(groups.items()):
        table.add_row(
            per,
            dataset,
            f"{g['accepted']:,}",
            f"{g['superseded']:,}",
            f"{g['refused']:,}",
            f"{g['purged']:,}",
            f"{g['rows']:,}",
        )
    console.print(table)
    _print_purged(home, {per for per, _ in groups}, period)
    from pipelines.hub.release import late_submissions
    from pipelines.hub.vault import releases
    from pipelines.hub.vault.checks import unresolved_references

    with open_hub_vault(home).connect() as con:
        late = {p: late_submissions(con, p) for p in releases.current_by_period(con)}
        gaps = [
            g
            for g in unresolved_references(con)
            if (period is None or str(period) == g.period) and ngo_id in (None, g.ngo_id)
        ]
    for per, count in late.items():
        if count:
            console.print(
                f"[yellow]{count} submission(s) for {per} arrived after its release and are not "
                f"in it[/]; `outcomes release --period {per} --supersede` includes them."
            )
    for gap in gaps:
        console.print(f"[yellow]{gap.message()}[/]")
    waiting = len(pending_ids(home))
    if waiting:
        console.print(f"{waiting} submission(s) wait in the inbox: run `outcomes intake`.")
    print_submissions(home, [r for r in rows if r[4] == "refused"], summary=False)


def _print_purged(home: Home, shown: set[str], period: Period | None) -> None:
    """Periods whose rows retention deleted: they were submitted, and are released; only the
    individual-level rows are gone (from the audit log's ``purged`` entries)."""
    from pipelines.hub import audit as audit_log

    with open_hub_vault(home).connect() as con:
        purges = audit_log.entries(con, action="purged")
    for entry in purges:
        per = entry["subject"]
        if per not in shown or (period is not None and per != str(period)):
            continue
        detail = entry["detail"]
        console.print(
            f"{per}: {detail.get('rows', 0):,} rows of {detail.get('submissions', 0)} "
            f"submission(s) were purged on {entry['at']:%Y-%m-%d} by {entry['actor']} (older "
            f"than {detail.get('older_than_days')} days); its releases stay published and its "
            "budgets and spends stay in the ledger."
        )


def _verify(vault: Any, con: Any, home: Home, against: Path | None) -> None:
    """Print what holds; fail, listing what does not, when anything does not."""
    from pipelines.hub import anchor_checks as checks
    from pipelines.hub.anchor import AnchorError

    try:
        published = checks.published_anchors(home.published_db)
    except AnchorError as exc:
        raise HubFailure(
            f"the published zone's audit anchor is malformed ({exc}): it was edited by hand"
        ) from None
    try:
        saved = checks.saved_anchors(against) if against is not None else None
    except (ValueError, AnchorError) as exc:
        raise HubFailure(f"{against} cannot be checked: {exc}") from None
    signer = vault.signer
    findings = checks.check_log(
        con,
        current_key=signer.public_key() if signer is not None and signer.exists else None,
        key_file=signer.path if signer is not None else None,
        published=published,
        saved=saved,
    )
    for finding in findings:
        if finding.ok:
            console.print(finding.text[0].upper() + finding.text[1:] + ".")
    problems = [f.text for f in findings if not f.ok]
    if problems:
        raise HubFailure(
            "the audit log does not match what was signed and published:\n"
            + "\n".join(f"  - {p}" for p in problems)
        )


@click.command()
@click.option(
    "--verify",
    is_flag=True,
    help="Check the hash chain, every signed checkpoint and the last publication's signed head.",
)
@click.option(
    "--against",
    type=click.Path(exists=True, path_type=Path),
    default=None,
    help="Also check a saved audit_anchor.json (or a saved exports folder): implies --verify.",
)
@click.option(
    "--last", type=click.IntRange(min=1), default=30, show_default=True, help="How many entries."
)
@click.option(
    "--action", default=None, help="Only entries of this action (e.g. refused, accepted)."
)
@click.option("--json", "as_json", is_flag=True, help="Print entries as JSON lines.")
@home_option
def audit(
    *, verify: bool, against: Path | None, last: int, action: str | None, as_json: bool, home: Home
) -> None:
    """Read the append-only audit log: who did what, when, with which file's sha256.

    Its head is signed at every publication and as it grows (exports/audit_anchor.json);
    --verify --against FILE shows whether the log still holds what FILE's signed head says.
    """
    from pipelines.hub import audit as audit_log
    from pipelines.hub.anchor import AnchorError

    vault = open_hub_vault(home)
    try:
        with vault.connect() as con:
            if verify or against is not None:
                _verify(vault, con, home, against)
                return
            entries = audit_log.entries(con, action=action, limit=last)
    except AnchorError as exc:
        raise HubFailure(str(exc)) from None
    if as_json:
        for e in entries:
            sys.stdout.write(json.dumps({**e, "at": e["at"].isoformat()}, default=str) + "\n")
        return
    table = Table(title="Audit log", title_justify="left")
    for col in ("#", "When (UTC)", "Who", "Action", "Subject", "Detail"):
        table.add_column(col, overflow="fold")
    for e in entries:
        detail = ", ".join(f"{k}={v}" for k, v in e["detail"].items() if v is not None)
        table.add_row(
            str(e["seq"]),
            e["at"].strftime("%Y-%m-%d %H:%M:%S"),
            e["actor"],
            e["action"],
            e["subject"],
            detail,
        )
    console.print(table)


COMMANDS = (intake, status, audit)
