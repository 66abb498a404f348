"""Hub intake: re-validate submissions, stage what passes, quarantine what does not, then promote.

Intake runs in three steps so Dagster can put a blocking check between them:

1. :func:`validate_and_stage` re-validates every submission (the hub never
   trusts the sender) in batches, stages accepted rows in the vault and
   quarantines refused submissions with their report;
2. :func:`staged_violations` re-checks the staged rows with SQL generated from
   the same contracts, independently of Great Expectations;
3. :func:`promote` makes staged submissions current, supersedes the ones they
   replace and clears the inbox.

Many submissions are validated in one frame (per-submission rules stay per
submission through the ``_submission`` column) because the fixed cost of a
validation call, not the rows, dominates at two thousand submissions.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from pipelines.home import Home, private_dir
from pipelines.hub import audit
from pipelines.hub.inbox import InboxError, InboxItem, check_integrity, ordered
from pipelines.hub.schema import row_columns
from pipelines.hub.vault import worker_cursor
from pipelines.hub.vault_checks import UnresolvedReferences, unresolved_references
from pipelines.standard.contract import Contract, load_contract
from pipelines.standard.periods import Period
from pipelines.standard.rules import rule_by_id
from pipelines.validation.findings import ROW, SUBMISSION, Finding, IdentifierFinding, value_column
from pipelines.validation.identifiers import find_direct_identifiers
from pipelines.validation.prepare import Context, prepare
from pipelines.validation.report import Report, write_report
from pipelines.validation.sql_rules import count_orphans, count_violations, reference_holds
from pipelines.validation.validate import findings_from, run_suite

CHUNK_ROWS = 400_000
"""Rows validated per Great Expectations call. GX's pandas engine holds about 1.5 KB a row in
transient copies; 400,000 rows keep a national batch under 2 GiB at a fixed cost of ~1 s a call."""

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class Verdict:
    """The hub's decision on one submission; refused ones carry their quarantine folder."""

    submission_id: str
    ngo_id: str
    period: str
    dataset: str
    sha256: str
    rows: int
    status: str  # staged | refused | duplicate
    findings: tuple[Finding, ...] = ()
    identifiers: tuple[IdentifierFinding, ...] = ()
    report_dir: Path | None = None

    @classmethod
    def of(
        cls,
        item: InboxItem,
        status: str,
        findings: tuple[Finding, ...] = (),
        identifiers: tuple[IdentifierFinding, ...] = (),
    ) -> Verdict:
        """The verdict on an inbox item, which names the submission it is about."""
        return cls(
            item.submission_id,
            item.ngo_id,
            item.period,
            item.dataset,
            item.sha256,
            item.rows,
            status,
            findings,
            identifiers,
        )

    @property
    def reason(self) -> str:
        if self.identifiers:
            return "direct identifiers: " + ", ".join(sorted({f.label for f in self.identifiers}))
        return "; ".join(f"{f.rule} ({f.count} rows)" if f.count else f.rule for f in self.findings)


@dataclass
class _Chunk:
    items: list[InboxItem] = field(default_factory=list)
    rows: int = 0


def _refused(item: InboxItem, finding: Finding) -> Verdict:
    return Verdict.of(item, "refused", (finding,))


def _hub_finding(error: InboxError) -> Finding:
    return Finding(
        rule=error.rule,
        kind="hub",
        columns=(),
        description=error.message,
        fix="Submit the extract again with `outcomes submit`.",
        count=0,
    )


def _chunks(items: list[InboxItem]) -> list[_Chunk]:
    """Consecutive submissions grouped into frames of at most CHUNK_ROWS rows (a larger
    submission is a frame of its own)."""
    limit = CHUNK_ROWS
    chunks = [_Chunk()]
    for item in items:
        if chunks[-1].items and chunks[-1].rows + item.rows > limit:
            chunks.append(_Chunk())
        chunks[-1].items.append(item)
        chunks[-1].rows += item.rows
    return [c for c in chunks if c.items]


def _files_relation(items: list[InboxItem]) -> tuple[str, list[str]]:
    """A SQL relation over the chunk's payloads, with each row's submission, NGO and period.

    The submission id is the payload's folder name, which :func:`check_integrity`
    has already matched against the manifest; NGO and period are parts of it.
    """
    folder = "string_split(parse_dirpath(filename), '/')[-1]"
    relation = (
        f"(SELECT {folder} AS submission_id, string_split({folder}, '.')[2] AS ngo_id, "
        f"string_split({folder}, '.')[1] AS period, * EXCLUDE (filename) "
        "FROM read_parquet($files, filename = true))"
    )
    return relation, [str(i.payload) for i in items]


_SHADOW_TYPES = {"integer": "DOUBLE", "date": "TIMESTAMP"}


def _read_as_text(
    con: duckdb.DuckDBPyConnection, contract: Contract, items: list[InboxItem]
) -> pd.DataFrame:
    """All payloads of a chunk as one text frame, the way the NGO side saw them."""
    relation, files = _files_relation(items)
    casts = ", ".join(
        f'lower(CAST("{c.name}" AS VARCHAR)) AS "{c.name}"'
        if c.logical_type == "boolean"
        else f'CAST("{c.name}" AS VARCHAR) AS "{c.name}"'
        for c in contract.columns
    )
    # The payload is typed: its values are the typed shadows, so text is not parsed back.
    shadows = "".join(
        f', CAST("{c.name}" AS {_SHADOW_TYPES[c.logical_type]}) AS "{value_column(c.name)}"'
        for c in contract.columns
        if c.logical_type in _SHADOW_TYPES
    )
    table = con.execute(
        f"SELECT submission_id AS {SUBMISSION}, source_row AS {ROW}, {casts}{shadows} FROM {relation}",
        {"files": files},
    ).to_arrow_table()
    return table.to_pandas()


def _known_relation(dataset: str) -> str:
    """The rows of ``dataset`` that will be current once this run's staged submissions are promoted."""
    staged = (
        f"(SELECT r.* FROM {dataset} r JOIN submissions s USING (submission_id) "
        "WHERE s.status = 'staged')"
    )
    return (
        f"(SELECT * FROM {staged} UNION ALL SELECT c.* FROM current_{dataset} c ANTI JOIN "
        f"(SELECT DISTINCT ngo_id, period FROM {staged}) USING (ngo_id, period))"
    )


def _relationship_flags(
    con: duckdb.DuckDBPyConnection, contract: Contract, frame: pd.DataFrame, items: list[InboxItem]
) -> dict[str, np.ndarray]:
    """Does each row's reference exist in the rows that will be current? Computed in SQL;
    only the (rare) rows that fail come back to Python."""
    flags: dict[str, np.ndarray] = {}
    relation, files = _files_relation(items)
    position = pd.Series(
        np.arange(len(frame)),
        index=pd.MultiIndex.from_arrays([frame[SUBMISSION].to_numpy(), frame[ROW].to_numpy()]),
    )
    for rel in contract.relationships:
        orphans = con.execute(
            f"SELECT r.submission_id, r.source_row FROM {relation} r "
            f"ANTI JOIN {_known_relation(rel.to_dataset)} k ON {reference_holds(rel)}",
            {"files": files},
        ).fetchall()
        mask = np.ones(len(frame), dtype=bool)
        if orphans:
            mask[position.loc[orphans].to_numpy()] = False
        flags[rel.id] = mask
    return flags


def _stage(con: duckdb.DuckDBPyConnection, contract: Contract, items: list[InboxItem]) -> None:
    """Write accepted rows into the row tables; their submission's status keeps them out of
    every release until promotion. A re-sent archived file replaces its own archived rows."""
    if not items:
        return
    relation, files = _files_relation(items)
    names = ", ".join(f'"{n}"' for n, _ in row_columns(contract))
    con.register("_stage_ids", pd.DataFrame({"id": [i.submission_id for i in items]}, dtype="str"))
    con.execute(
        f"DELETE FROM {contract.dataset} WHERE submission_id IN (SELECT id FROM _stage_ids)"
    )
    con.unregister("_stage_ids")
    con.execute(
        f"INSERT INTO {contract.dataset} ({names}) SELECT {names} FROM {relation}",
        {"files": files},
    )


def _validate_chunk(
    con: duckdb.DuckDBPyConnection, contract: Contract, items: list[InboxItem], frame: pd.DataFrame
) -> list[Verdict]:
    # The scan sees the submitted columns only, not the typed shadows added for validation.
    identifiers = find_direct_identifiers(
        frame[[SUBMISSION, ROW, *contract.column_names]], contract
    )
    flags = _relationship_flags(con, contract, frame, items)
    contexts = {
        i.submission_id: Context(Period.parse(i.period), i.submitted_on, i.submission_id)
        for i in items
    }
    prepared = prepare(frame, contract, contexts, flags, copy=False)
    del frame
    present = frozenset(contract.column_names)
    result = run_suite(prepared, contract, present, batch=True, sanitised=True)
    findings = findings_from(result, contract, [i.submission_id for i in items], sanitised=True)
    del prepared, result
    rows_per = {i.submission_id: i.rows for i in items}
    has_rows = rule_by_id(contract)["file.has_rows"]
    verdicts = []
    for item in items:
        own = [f for f in findings if f.submission == item.submission_id and f.rule != has_rows.id]
        if rows_per[item.submission_id] == 0:
            own.insert(
                0, Finding(has_rows.id, has_rows.kind, (), has_rows.description, has_rows.fix, 0)
            )
        own_ids = tuple(f for f in identifiers if f.submission == item.submission_id)
        status = "staged" if not own and not own_ids else "refused"
        verdicts.append(Verdict.of(item, status, tuple(own), own_ids))
    return verdicts


def validate_and_stage(
    home: Home,
    con: duckdb.DuckDBPyConnection,
    items: Iterable[InboxItem],
    *,
    actor: str = "hub intake",
    progress: Progress | None = None,
) -> list[Verdict]:
    """Re-validate submissions; stage accepted rows; quarantine refused ones. One verdict each."""
    items = ordered(list(items))
    verdicts: list[Verdict] = []
    known = _known_status(con, [i.submission_id for i in items])
    todo: list[InboxItem] = []
    broken: list[InboxItem] = []  # refused before validation: not what their manifest says
    for item in items:
        # A superseded file sent again is the NGO going back to it: it is validated again and
        # may become current. Only the current file, or a purged one, is a duplicate.
        if known.get(item.submission_id) in ("accepted", "purged"):
            verdicts.append(Verdict.of(item, "duplicate"))
            continue
        try:
            check_integrity(item)
        except InboxError as error:
            verdicts.append(_refused(item, _hub_finding(error)))
            broken.append(item)
            continue
        todo.append(item)
    if broken:
        # A refusal is a decision like any other: it goes in submissions and the audit log.
        con.execute("BEGIN")
        _record_verdicts(con, broken, [v for v in verdicts if v.status == "refused"], actor)
        con.execute("COMMIT")
    done = len(verdicts)
    # Great Expectations runs here, single-threaded; DuckDB reads the next chunk and stages the
    # last one on the second core meanwhile (FIFO, one worker, so the audit chain stays in order).
    worker = worker_cursor(con)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="intake-io") as io:
        for dataset in ("episodes", "assessments"):
            contract = load_contract(dataset)
            chunks = _chunks([i for i in todo if i.dataset == dataset])
            staging: list[Future[None]] = []
            reading = (
                io.submit(_read_as_text, worker, contract, chunks[0].items) if chunks else None
            )
            for n, chunk in enumerate(chunks):
                assert reading is not None
                frame = reading.result()
                if n + 1 < len(chunks):
                    reading = io.submit(_read_as_text, worker, contract, chunks[n + 1].items)
                chunk_verdicts = _validate_chunk(con, contract, chunk.items, frame)
                del frame
                staging.append(
                    io.submit(
                        _stage_and_record, worker, contract, chunk.items, chunk_verdicts, actor
                    )
                )
                verdicts.extend(chunk_verdicts)
                done += len(chunk.items)
                if progress:
                    progress(done, len(items))
            for future in staging:
                future.result()  # every episode is staged before assessments are checked against them
    worker.close()
    by_id = {i.submission_id: i for i in items}
    return [_file_verdict(home, con, by_id[v.submission_id], v, actor) for v in verdicts]


def _stage_and_record(
    con: duckdb.DuckDBPyConnection,
    contract: Contract,
    items: list[InboxItem],
    verdicts: list[Verdict],
    actor: str,
) -> None:
    """Stage a chunk's accepted rows and record every verdict, in one transaction."""
    accepted = {v.submission_id for v in verdicts if v.status == "staged"}
    con.execute("BEGIN")
    try:
        _stage(con, contract, [i for i in items if i.submission_id in accepted])
        _record_verdicts(con, items, verdicts, actor)
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")


def _known_status(con: duckdb.DuckDBPyConnection, ids: list[str]) -> dict[str, str]:
    if not ids:
        return {}
    con.register("_ids", pd.DataFrame({"id": ids}, dtype="str"))
    rows = con.execute(
        "SELECT submission_id, status FROM submissions WHERE submission_id IN (SELECT id FROM _ids)"
    ).fetchall()
    con.unregister("_ids")
    return dict(rows)


def _record_verdicts(
    con: duckdb.DuckDBPyConnection, items: list[InboxItem], verdicts: list[Verdict], actor: str
) -> None:
    now = datetime.now(UTC)
    by_id = {i.submission_id: i for i in items}
    frame = pd.DataFrame(
        [
            {
                "submission_id": v.submission_id,
                "ngo_id": v.ngo_id,
                "period": v.period,
                "dataset": v.dataset,
                "contract": str(by_id[v.submission_id].manifest.get("contract", "")),
                "sha256": v.sha256,
                "rows": v.rows,
                "submitted_at": str(by_id[v.submission_id].manifest.get("submitted_at", ""))
                or None,
                "submitted_on": str(by_id[v.submission_id].manifest.get("submitted_on", ""))
                or None,
                "received_at": now,
                "status": v.status,
                "reason": v.reason or None,
            }
            for v in verdicts
        ]
    )
    con.register("_verdicts", frame)
    con.execute(
        "DELETE FROM submissions WHERE submission_id IN (SELECT submission_id FROM _verdicts)"
    )
    con.execute(
        "INSERT INTO submissions (submission_id, ngo_id, period, dataset, contract, sha256, rows, "
        "submitted_at, submitted_on, received_at, status, reason) SELECT submission_id, ngo_id, period, "
        "dataset, contract, sha256, rows, TRY_CAST(submitted_at AS TIMESTAMPTZ), "
        "TRY_CAST(submitted_on AS DATE), received_at, status, reason FROM _verdicts"
    )
    con.unregister("_verdicts")
    audit.record(
        con,
        [
            audit.Event(
                actor,
                "refused" if v.status == "refused" else "validated",
                v.submission_id,
                {
                    "ngo_id": v.ngo_id,
                    "period": v.period,
                    "dataset": v.dataset,
                    "sha256": v.sha256,
                    "rows": v.rows,
                    "reason": v.reason or None,
                },
            )
            for v in verdicts
        ],
    )


def _file_verdict(
    home: Home, con: duckdb.DuckDBPyConnection, item: InboxItem, verdict: Verdict, actor: str
) -> Verdict:
    """Write the hub's report; move a refused submission to quarantine (dropping identifier values)."""
    if verdict.status == "duplicate":
        shutil.rmtree(item.folder, ignore_errors=True)
        con.execute("BEGIN")
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
        con.execute("COMMIT")
        return verdict
    if verdict.status != "refused":
        return verdict
    report = Report(
        status="refused",
        stage="hub",
        ngo_id=verdict.ngo_id or "unknown",
        period=verdict.period or "unknown",
        dataset=verdict.dataset or "unknown",
        contract=str(item.manifest.get("contract", "")),
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


def staged_violations(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Staged rows that break a contract rule, by rule id, re-checked in SQL (empty when all is well)."""
    found: dict[str, int] = {}
    for dataset in ("episodes", "assessments"):
        contract = load_contract(dataset)
        relation = (
            f"(SELECT r.*, s.submitted_on FROM {dataset} r JOIN submissions s USING (submission_id) "
            "WHERE s.status = 'staged')"
        )
        counts = count_violations(con, contract, relation)
        for rel in contract.relationships:
            counts.update(count_orphans(con, contract, relation, _known_relation(rel.to_dataset)))
        found.update({f"{dataset}: {rule}": n for rule, n in counts.items() if n})
    return found


@dataclass(frozen=True)
class Promotion:
    """What a promotion made current, and the references it left unresolved (see
    :class:`~pipelines.hub.vault_checks.UnresolvedReferences`)."""

    made_current: list[str]
    unresolved: list[UnresolvedReferences]


def promote(
    home: Home,
    con: duckdb.DuckDBPyConnection,
    ids: Iterable[str] | None = None,
    *,
    actor: str = "hub intake",
) -> Promotion:
    """Make staged submissions (all, or those in ``ids``) current, superseding those they replace.

    Their rows are already in the row tables; promotion changes statuses only.

    When one NGO-period-dataset has several staged submissions, the latest
    submitted wins and the others are superseded too: every one of them stays
    in the archive.
    """
    now = datetime.now(UTC)
    scope = pd.DataFrame({"id": sorted(ids) if ids is not None else []}, dtype="str")
    con.register("_scope", scope)
    where = "AND submission_id IN (SELECT id FROM _scope)" if ids is not None else ""
    con.execute("BEGIN")
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE _promotion AS
        WITH staged AS (
            SELECT submission_id, ngo_id, period, dataset, sha256,
                   row_number() OVER (PARTITION BY ngo_id, period, dataset
                                      ORDER BY submitted_at DESC NULLS LAST, received_at DESC,
                                               submission_id DESC) AS rank
            FROM submissions WHERE status = 'staged' {where}
        )
        SELECT w.submission_id AS winner, w.ngo_id, w.period, w.dataset, w.sha256,
               s.submission_id AS loser
        FROM staged w
        LEFT JOIN submissions s ON s.ngo_id = w.ngo_id AND s.period = w.period AND s.dataset = w.dataset
             AND s.submission_id <> w.submission_id AND s.status IN ('accepted', 'staged')
        WHERE w.rank = 1
        """
    )
    rows = con.execute(
        "SELECT winner, ngo_id, period, dataset, sha256, loser FROM _promotion"
    ).fetchall()
    winners = sorted({r[0] for r in rows})
    if not winners:
        con.execute("ROLLBACK")
        con.unregister("_scope")
        return Promotion([], [])
    con.execute(
        "UPDATE submissions SET status = 'superseded', superseded_by = p.winner, decided_at = ? "
        "FROM _promotion p WHERE submissions.submission_id = p.loser",
        [now],
    )
    con.execute(
        "UPDATE submissions SET status = 'accepted', decided_at = ? "
        "WHERE submission_id IN (SELECT winner FROM _promotion)",
        [now],
    )
    events = []
    seen: set[str] = set()
    for winner, ngo_id, period, dataset, sha, loser in rows:
        about = {"ngo_id": ngo_id, "period": period, "dataset": dataset}
        if loser:
            events.append(
                audit.Event(actor, "superseded", loser, {**about, "superseded_by": winner})
            )
        if winner not in seen:
            seen.add(winner)
            events.append(audit.Event(actor, "accepted", winner, {**about, "sha256": sha}))
    # A resubmission can leave the NGO's other dataset pointing at rows it no longer has.
    replaced = {(ngo, per, ds): w for w, ngo, per, ds, _sha, loser in rows if loser}
    gaps = unresolved_references(con, {(ngo, per) for ngo, per, _ds in replaced})
    for gap in gaps:
        detail = {
            "ngo_id": gap.ngo_id,
            "period": gap.period,
            "dataset": gap.dataset,
            "rule": gap.rule,
            "rows": gap.rows,
        }
        events.append(
            audit.Event(
                actor,
                "references_unresolved",
                replaced.get((gap.ngo_id, gap.period, gap.to_dataset), gap.ngo_id),
                detail,
            )
        )
    audit.record(con, events)
    con.execute("DROP TABLE _promotion")
    con.execute("COMMIT")
    con.unregister("_scope")
    for sid in {r[0] for r in rows} | {r[5] for r in rows if r[5]}:
        folder = home.inbox / sid
        if folder.exists():
            shutil.rmtree(folder)
    return Promotion(winners, gaps)
