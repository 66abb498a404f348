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
from pipelines.standard.contract import Contract, load_contract
from pipelines.standard.periods import Period
from pipelines.standard.rules import rule_by_id
from pipelines.validation.findings import ROW, SUBMISSION, Finding, IdentifierFinding
from pipelines.validation.identifiers import find_direct_identifiers
from pipelines.validation.prepare import Context, prepare
from pipelines.validation.report import Report, write_report
from pipelines.validation.sql_rules import count_orphans, count_violations
from pipelines.validation.validate import findings_from, run_suite

CHUNK_ROWS = 400_000
"""Rows validated per Great Expectations call: bounds memory, keeps fixed costs per chunk."""

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
    return Verdict(
        item.submission_id,
        item.ngo_id,
        item.period,
        item.dataset,
        item.sha256,
        item.rows,
        "refused",
        (finding,),
    )


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
    chunks = [_Chunk()]
    for item in items:
        if chunks[-1].items and chunks[-1].rows + item.rows > CHUNK_ROWS:
            chunks.append(_Chunk())
        chunks[-1].items.append(item)
        chunks[-1].rows += item.rows
    return [c for c in chunks if c.items]


def _read_as_text(
    con: duckdb.DuckDBPyConnection, contract: Contract, items: list[InboxItem]
) -> pd.DataFrame:
    """All payloads of a chunk as one text frame, the way the NGO side saw them."""
    files = [str(i.payload) for i in items]
    ids = pd.DataFrame({"filename": files, SUBMISSION: [i.submission_id for i in items]})
    con.register("_chunk_files", ids)
    casts = ", ".join(f'CAST("{c.name}" AS VARCHAR) AS "{c.name}"' for c in contract.columns)
    frame = con.execute(
        f"SELECT f.{SUBMISSION}, p.source_row AS {ROW}, {casts} "
        "FROM read_parquet(?, filename = true) p JOIN _chunk_files f USING (filename)",
        [files],
    ).df()
    con.unregister("_chunk_files")
    for column in contract.columns:
        if column.logical_type == "boolean":
            frame[column.name] = frame[column.name].str.lower()
    return frame


def _relationship_flags(
    con: duckdb.DuckDBPyConnection,
    contract: Contract,
    frame: pd.DataFrame,
    items: list[InboxItem],
    staged_episode_ids: list[str],
) -> dict[str, np.ndarray]:
    """Does each row's episode exist, for the same client, in the episodes that will be current?"""
    flags: dict[str, np.ndarray] = {}
    meta = pd.DataFrame(
        {
            SUBMISSION: [i.submission_id for i in items],
            "ngo_id": [i.ngo_id for i in items],
            "period": [i.period for i in items],
        }
    )
    for rel in contract.relationships:
        keys = frame[[SUBMISSION, *rel.columns]].merge(meta, on=SUBMISSION, how="left")
        keys["_i"] = np.arange(len(keys))
        con.register("_keys", keys)
        con.register(
            "_staged_ids", pd.DataFrame({"submission_id": staged_episode_ids}, dtype="str")
        )
        on = " AND ".join(
            f'k."{a}" = n."{b}"' for a, b in zip(rel.columns, rel.to_columns, strict=True)
        )
        cols = ", ".join(f'"{c}"' for c in rel.to_columns)
        found = con.execute(
            f"""
            WITH staged AS (
                SELECT * FROM staged_{rel.to_dataset} WHERE submission_id IN (SELECT submission_id FROM _staged_ids)
            ), replaced AS (SELECT DISTINCT ngo_id, period FROM staged),
            known AS (
                SELECT ngo_id, period, {cols} FROM staged
                UNION ALL
                SELECT c.ngo_id, c.period, {", ".join(f'c."{x}"' for x in rel.to_columns)}
                FROM current_{rel.to_dataset} c ANTI JOIN replaced r USING (ngo_id, period)
            )
            SELECT k._i FROM _keys k JOIN known n ON k.ngo_id = n.ngo_id AND k.period = n.period AND {on}
            """
        ).fetchnumpy()["_i"]
        con.unregister("_keys")
        con.unregister("_staged_ids")
        mask = np.zeros(len(keys), dtype=bool)
        mask[found] = True
        flags[rel.id] = mask
    return flags


def _stage(con: duckdb.DuckDBPyConnection, contract: Contract, items: list[InboxItem]) -> None:
    if not items:
        return
    files = [str(i.payload) for i in items]
    con.register(
        "_stage_files",
        pd.DataFrame(
            {
                "filename": files,
                "submission_id": [i.submission_id for i in items],
                "ngo_id": [i.ngo_id for i in items],
                "period": [i.period for i in items],
            }
        ),
    )
    names = [n for n, _ in row_columns(contract)]
    select = ", ".join(
        f'f."{n}"' if n in ("submission_id", "ngo_id", "period") else f'p."{n}"' for n in names
    )
    con.execute(
        f"INSERT INTO staged_{contract.dataset} SELECT {select} "
        "FROM read_parquet(?, filename = true) p JOIN _stage_files f USING (filename)",
        [files],
    )
    con.unregister("_stage_files")


def _validate_chunk(
    con: duckdb.DuckDBPyConnection,
    contract: Contract,
    items: list[InboxItem],
    staged_episode_ids: list[str],
) -> list[Verdict]:
    frame = _read_as_text(con, contract, items)
    identifiers = find_direct_identifiers(frame, contract)
    flags = _relationship_flags(con, contract, frame, items, staged_episode_ids)
    contexts = {
        i.submission_id: Context(Period.parse(i.period), i.submitted_on, i.submission_id)
        for i in items
    }
    prepared = prepare(frame, contract, contexts, flags)
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
        verdicts.append(
            Verdict(
                item.submission_id,
                item.ngo_id,
                item.period,
                item.dataset,
                item.sha256,
                item.rows,
                status,
                tuple(own),
                own_ids,
            )
        )
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
            verdicts.append(
                Verdict(
                    item.submission_id,
                    item.ngo_id,
                    item.period,
                    item.dataset,
                    item.sha256,
                    item.rows,
                    "duplicate",
                )
            )
            continue
        try:
            check_integrity(item)
        except InboxError as error:
            verdicts.append(_refused(item, _hub_finding(error)))
            broken.append(item)
            continue
        todo.append(item)
    con.execute("BEGIN")
    if todo or broken:
        ids = [i.submission_id for i in todo + broken]
        con.register("_ids", pd.DataFrame({"id": ids}, dtype="str"))
        for dataset in ("episodes", "assessments"):
            con.execute(
                f"DELETE FROM staged_{dataset} WHERE submission_id IN (SELECT id FROM _ids)"
            )
        con.unregister("_ids")
    if broken:
        # A refusal is a decision like any other: it goes in submissions and the audit log.
        _record_verdicts(con, broken, [v for v in verdicts if v.status == "refused"], actor)
    con.execute("COMMIT")
    done = len(verdicts)
    staged_episodes: list[str] = []
    for dataset in ("episodes", "assessments"):
        contract = load_contract(dataset)
        for chunk in _chunks([i for i in todo if i.dataset == dataset]):
            chunk_verdicts = _validate_chunk(con, contract, chunk.items, staged_episodes)
            accepted = {v.submission_id for v in chunk_verdicts if v.status == "staged"}
            con.execute("BEGIN")
            _stage(con, contract, [i for i in chunk.items if i.submission_id in accepted])
            _record_verdicts(con, chunk.items, chunk_verdicts, actor)
            con.execute("COMMIT")
            if dataset == "episodes":
                staged_episodes.extend(accepted)
            verdicts.extend(chunk_verdicts)
            done += len(chunk.items)
            if progress:
                progress(done, len(items))
    by_id = {i.submission_id: i for i in items}
    return [_file_verdict(home, con, by_id[v.submission_id], v, actor) for v in verdicts]


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
            f"(SELECT r.*, s.submitted_on FROM staged_{dataset} r JOIN submissions s USING (submission_id) "
            "WHERE s.status = 'staged')"
        )
        counts = count_violations(con, contract, relation)
        for rel in contract.relationships:
            known = (
                f"(SELECT * FROM staged_{rel.to_dataset} WHERE submission_id IN "
                "(SELECT submission_id FROM submissions WHERE status = 'staged') "
                f"UNION ALL SELECT c.* FROM current_{rel.to_dataset} c ANTI JOIN "
                f"(SELECT DISTINCT ngo_id, period FROM staged_{rel.to_dataset} WHERE submission_id IN "
                "(SELECT submission_id FROM submissions WHERE status = 'staged')) USING (ngo_id, period))"
            )
            counts.update(count_orphans(con, contract, relation, known))
        found.update({f"{dataset}: {rule}": n for rule, n in counts.items() if n})
    return found


def promote(
    home: Home,
    con: duckdb.DuckDBPyConnection,
    ids: Iterable[str] | None = None,
    *,
    actor: str = "hub intake",
) -> list[str]:
    """Make staged submissions (all, or those in ``ids``) current, superseding those they replace.

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
        return []
    for dataset in ("episodes", "assessments"):
        # A submission staged again (a superseded file sent again) replaces its archived rows.
        con.execute(
            f"DELETE FROM {dataset} WHERE submission_id IN (SELECT DISTINCT submission_id "
            f"FROM staged_{dataset} WHERE submission_id IN "
            "(SELECT loser FROM _promotion UNION SELECT winner FROM _promotion))"
        )
        con.execute(
            f"INSERT INTO {dataset} SELECT * FROM staged_{dataset} "
            "WHERE submission_id IN (SELECT loser FROM _promotion UNION SELECT winner FROM _promotion)"
        )
        con.execute(
            f"DELETE FROM staged_{dataset} "
            "WHERE submission_id IN (SELECT loser FROM _promotion UNION SELECT winner FROM _promotion)"
        )
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
    audit.record(con, events)
    con.execute("DROP TABLE _promotion")
    con.execute("COMMIT")
    con.unregister("_scope")
    for sid in {r[0] for r in rows} | {r[5] for r in rows if r[5]}:
        folder = home.inbox / sid
        if folder.exists():
            shutil.rmtree(folder)
    return winners
