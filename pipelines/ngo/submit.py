"""``outcomes submit``: validate an extract on the NGO's machine and pack it for the hub.

The NGO's own file is only ever read. A refused file leaves nothing to send;
an accepted one leaves a sanitised package in the NGO's outbox, which
:mod:`pipelines.ngo.deliver` sends to the hub's API. Either way the NGO gets
``report.json`` and ``report.html`` at once, in its own folder.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from pipelines.home import private_dir
from pipelines.ngo.folder import NgoHome
from pipelines.ngo.keys import NgoKey, ngo_key
from pipelines.ngo.outbox import Package, find, pack, receipt_of
from pipelines.ngo.pseudonymise import pseudonymise
from pipelines.ngo.sanitise import sanitised_table
from pipelines.standard.contract import Contract, load_contract
from pipelines.standard.names import check_dataset, check_ngo_id
from pipelines.standard.periods import Period
from pipelines.standard.rules import rule_by_id
from pipelines.validation.extract import Extract, ExtractError, Source, read_extract, read_source
from pipelines.validation.findings import Finding
from pipelines.validation.identifiers import find_direct_identifiers
from pipelines.validation.prepare import Context, contract_view, prepare
from pipelines.validation.report import Report, write_report
from pipelines.validation.validate import findings_from, run_suite

Progress = Callable[[str], None]


@dataclass(frozen=True)
class SubmitOutcome:
    """What happened to one file on the NGO's side, for the terminal and for tests.

    ``accepted``: validated and packed (``package`` waits in the outbox); ``refused``: the
    report says why; ``duplicate``: the same file was accepted before (``package`` is set
    while it still waits in the outbox, ``delivered_at`` once the hub gave its receipt)."""

    status: str  # "accepted", "refused" or "duplicate"
    message: str
    report: Report | None = None
    report_dir: Path | None = None
    submission_id: str | None = None
    package: Package | None = None
    key: NgoKey | None = None
    delivered_at: str | None = None


@dataclass(frozen=True)
class ReportBase:
    """What every NGO-side report of one submission says about where it came from."""

    ngo_id: str
    period: str
    dataset: str
    contract: str
    file: str

    def report(self, **details: Any) -> Report:
        return Report(
            stage="ngo",
            ngo_id=self.ngo_id,
            period=self.period,
            dataset=self.dataset,
            contract=self.contract,
            file=self.file,
            **details,
        )


def _accepted_keys_path(
    home: NgoHome, ngo_id: str, period: Period, dataset: str = "episodes"
) -> Path:
    """Pseudonymised keys of the NGO's latest accepted ``dataset`` for ``period``: for episodes,
    what assessments may refer to; for assessments, the episodes they refer to."""
    return home.accepted(ngo_id) / str(period) / f"{dataset}.parquet"


def _keys_kept(contract: Contract) -> list[str]:
    if contract.dataset == "episodes":
        return list(contract.pseudonymised_columns)
    return sorted({c for rel in contract.relationships for c in rel.columns})


def _left_behind(home: NgoHome, ngo_id: str, period: Period, episodes: pa.Table) -> str:
    """A note when accepted assessments refer to episodes that a new episodes file lacks."""
    held = _accepted_keys_path(home, ngo_id, period, "assessments")
    if not held.exists():
        return ""
    refs = pq.read_table(held)
    missing = 0
    for rel in load_contract("assessments").relationships:
        found = _found_in(
            [refs.column(c).to_pylist() for c in rel.columns],
            [episodes.column(c).to_pylist() for c in rel.to_columns],
        )
        missing += int((~found).sum())
    if not missing:
        return ""
    return (
        f"{missing:,} row(s) of the assessments you submitted for {period} refer to episodes "
        "that are not in this file. Once the hub takes this file in, those assessment rows are "
        f"left out of releases until you resubmit your assessments for {period}."
    )


def _previous_acceptance(
    home: NgoHome, ngo_id: str, sha: str, period: Period, dataset: str
) -> dict[str, Any] | None:
    path = home.log(ngo_id)
    if not path.exists():
        return None
    found = None
    for line in path.read_text(encoding="utf-8").splitlines():
        entry = json.loads(line)
        same = (entry["period"], entry["dataset"]) == (str(period), dataset)
        if same and entry["status"] == "accepted":
            # Only the latest acceptance counts: resubmitting an older file supersedes a newer one.
            found = entry if entry["source_sha256"] == sha else None
    return found


def _log(
    home: NgoHome, ngo_id: str, report: Report, source_sha: str, submission: str | None
) -> None:
    """Append to the NGO's own log of what it submitted: how it knows a file was already sent."""
    entry = {
        "at": report.validated_at,
        "period": report.period,
        "dataset": report.dataset,
        "source_sha256": source_sha,
        "status": report.status,
        "submission_id": submission,
    }
    with home.log(ngo_id).open("a", encoding="utf-8") as fh:
        fh.write(json.dumps(entry) + "\n")


def _relationship_flags(
    view: pd.DataFrame,
    contract: Contract,
    *,
    home: NgoHome,
    ngo_id: str,
    period: Period,
    key: bytes,
) -> dict[str, np.ndarray]:
    flags: dict[str, np.ndarray] = {}
    for rel in contract.relationships:
        if not all(c in view.columns for c in rel.columns):
            continue
        path = _accepted_keys_path(home, ngo_id, period)
        known = (
            pq.read_table(path).to_pandas()
            if path.exists()
            else pd.DataFrame(columns=rel.to_columns)
        )
        keys = pd.DataFrame({c: pseudonymise(view[c], key, c) for c in rel.columns})
        flags[rel.id] = _found_in(
            [keys[c] for c in rel.columns], [known[c] for c in rel.to_columns]
        )
    return flags


def _found_in(keys: Sequence[Iterable[Any]], known: Sequence[Iterable[Any]]) -> np.ndarray:
    """For each row of ``keys`` (given column by column), whether ``known`` has the same row."""
    known_rows = set(zip(*known, strict=True))
    rows = list(zip(*keys, strict=True))
    return np.fromiter((row in known_rows for row in rows), dtype=bool, count=len(rows))


def _refusal_for(error: ExtractError, contract: Contract) -> Finding:
    rule = rule_by_id(contract).get(error.rule)
    return Finding(
        rule=error.rule,
        kind=rule.kind if rule else "file",
        columns=(),
        description=error.message,
        fix=error.fix,
        count=len(error.rows),
        rows=error.rows[:1000],
    )


def _already(home: NgoHome, ngo_id: str, previous: dict[str, Any]) -> SubmitOutcome | None:
    """The outcome for a file accepted before: delivered, or still waiting in the outbox; None
    when its package is gone without a receipt (the hub refused it), so it is validated again."""
    sid = previous["submission_id"]
    receipt = receipt_of(home, ngo_id, sid)
    if receipt is not None:
        return SubmitOutcome(
            "duplicate",
            f"This file was already accepted on {previous['at'][:10]} and delivered to the hub as "
            f"submission {sid} (received {receipt.received_at[:16]} UTC); nothing to do.",
            submission_id=sid,
            delivered_at=receipt.received_at,
        )
    package = find(home, ngo_id, sid)
    if package is not None:
        return SubmitOutcome(
            "duplicate",
            f"This file was already accepted on {previous['at'][:10]} as submission {sid}; its "
            "package waits in the outbox for the hub's receipt.",
            submission_id=sid,
            package=package,
        )
    return None


def submit(
    path: Path,
    *,
    home: NgoHome,
    ngo_id: str,
    period: Period,
    dataset: str,
    today: date | None = None,
    progress: Progress | None = None,
) -> SubmitOutcome:
    """Validate ``path`` and, if it passes, pack its sanitised form into the NGO's outbox."""
    check_ngo_id(ngo_id)
    check_dataset(dataset)
    step = progress or (lambda _: None)
    today = today or date.today()
    contract = load_contract(dataset)
    home.prepare(ngo_id)

    step("reading the file")
    # Read once, safely (no FIFO or device blocks it, no file over the size limit is read):
    # what is hashed is exactly what is validated.
    source: Source | ExtractError
    try:
        source = read_source(path)
    except ExtractError as error:
        source = error
    source_sha = source.sha256 if isinstance(source, Source) else ""
    previous = (
        _previous_acceptance(home, ngo_id, source_sha, period, dataset) if source_sha else None
    )
    if previous:
        already = _already(home, ngo_id, previous)
        if already is not None:
            return already
    secret = ngo_key(home, ngo_id)
    key = secret.key
    report_dir = home.reports(ngo_id) / f"{period}.{dataset}.{datetime.now(UTC):%Y%m%dT%H%M%S%f}"
    base = ReportBase(
        ngo_id=ngo_id, period=str(period), dataset=dataset, contract=contract.tag, file=path.name
    )
    try:
        if isinstance(source, ExtractError):
            raise source
        extract: Extract = read_extract(source)
    except ExtractError as error:
        report = base.report(
            status="refused",
            file_format=path.suffix.lstrip(".") or "unknown",
            row_numbering="spreadsheet",
            rows=0,
            failures=(_refusal_for(error, contract),),
        )
        write_report(report, report_dir)
        _log(home, ngo_id, report, source_sha, None)
        return SubmitOutcome("refused", report.headline, report, report_dir, key=secret)

    step("looking for direct identifiers")
    identifiers = find_direct_identifiers(extract.frame, contract)
    view, dropped = contract_view(extract.frame, contract)
    present = frozenset(c for c in view.columns if not c.startswith("_"))

    step("checking the contract's rules")
    flags = _relationship_flags(view, contract, home=home, ngo_id=ngo_id, period=period, key=key)
    prepared = prepare(view, contract, Context(period, today), flags)
    findings = findings_from(run_suite(prepared, contract, present, batch=False), contract)

    accepted = not findings and not identifiers
    report = base.report(
        status="accepted" if accepted else "refused",
        file_format=extract.file_format,
        row_numbering=extract.row_numbering,
        rows=extract.rows,
        blank_rows_skipped=extract.blank_rows_skipped,
        failures=tuple(findings),
        identifiers=tuple(identifiers),
        dropped_columns=dropped,
    )
    package = None
    if accepted:
        step("pseudonymising and packing for the hub")
        table = sanitised_table(prepared, contract, key)
        package = _pack(
            home,
            ngo_id,
            period=period,
            contract=contract,
            table=table,
            today=today,
            dropped=len(dropped),
        )
        note = _left_behind(home, ngo_id, period, table) if dataset == "episodes" else ""
        report = replace(report, submission_id=package.submission_id, note=note)
    write_report(report, report_dir)
    submission = package.submission_id if package else None
    _log(home, ngo_id, report, source_sha, submission)
    return SubmitOutcome(
        report.status, report.headline, report, report_dir, submission, package, secret
    )


def _pack(
    home: NgoHome,
    ngo_id: str,
    *,
    period: Period,
    contract: Contract,
    table: pa.Table,
    today: date,
    dropped: int,
) -> Package:
    """Pack the sanitised table into the outbox, and keep its keys for the cross-file rule."""
    package = pack(
        table,
        ngo_home=home,
        ngo_id=ngo_id,
        period=period,
        contract=contract,
        submitted_on=today,
        dropped_columns=dropped,
    )
    keys_path = _accepted_keys_path(home, ngo_id, period, contract.dataset)
    private_dir(keys_path.parent)
    pq.write_table(table.select(_keys_kept(contract)), keys_path)
    return package
