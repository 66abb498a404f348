"""The intake run: read, validate and stage chunk after chunk, using both cores.

Great Expectations runs on the calling thread; one I/O thread reads the next
chunk and stages the last one meanwhile (FIFO, one worker, so the audit
chain stays in order). Every episode is staged before any assessment is
checked against them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor

import duckdb

from pipelines.db import transaction
from pipelines.home import Home
from pipelines.hub.crash import pausepoint
from pipelines.hub.inbox import InboxError, InboxItem, check_integrity, ordered
from pipelines.hub.intake.quarantine import file_verdict
from pipelines.hub.intake.read import chunks, read_as_text
from pipelines.hub.intake.stage import stage_and_record
from pipelines.hub.intake.validate import validate_chunk
from pipelines.hub.intake.verdicts import Verdict, VerdictStatus, record_verdicts
from pipelines.hub.vault import submissions, worker_cursor
from pipelines.hub.vault.statuses import SubmissionStatus
from pipelines.standard.contract import DATASETS, load_contract

Progress = Callable[[int, int], None]

_ALREADY_HELD = (SubmissionStatus.ACCEPTED, SubmissionStatus.PURGED)
"""A superseded file sent again is the NGO going back to it: it is validated again and may
become current. Only the current file, or a purged one, is a duplicate."""


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
    known = submissions.statuses_of(con, [i.submission_id for i in items])
    todo: list[InboxItem] = []
    broken: list[Verdict] = []  # refused before validation: not what their manifest says
    for item in items:
        if known.get(item.submission_id) in _ALREADY_HELD:
            verdicts.append(Verdict.of(item, VerdictStatus.DUPLICATE))
            continue
        try:
            check_integrity(item)
        except InboxError as error:
            broken.append(Verdict.refused_at_the_door(item, error))
            continue
        todo.append(item)
    if broken:
        # A refusal is a decision like any other: it goes in submissions and the audit log.
        with transaction(con):
            record_verdicts(con, items, broken, actor)
        verdicts += broken
    done = len(verdicts)
    worker = worker_cursor(con)
    try:
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="intake-io") as io:
            for dataset in DATASETS:
                contract = load_contract(dataset)
                work = chunks([i for i in todo if i.dataset == dataset])
                staging: list[Future[None]] = []
                reading = io.submit(read_as_text, worker, contract, work[0].items) if work else None
                for n, chunk in enumerate(work):
                    assert reading is not None
                    frame = reading.result()
                    if n + 1 < len(work):
                        reading = io.submit(read_as_text, worker, contract, work[n + 1].items)
                    chunk_verdicts = validate_chunk(con, contract, chunk.items, frame)
                    del frame
                    pausepoint("intake-validated")
                    staging.append(
                        io.submit(
                            stage_and_record, worker, contract, chunk.items, chunk_verdicts, actor
                        )
                    )
                    verdicts.extend(chunk_verdicts)
                    done += len(chunk.items)
                    if progress:
                        progress(done, len(items))
                for future in staging:
                    future.result()  # every episode is staged before assessments are checked
    finally:
        worker.close()
    by_id = {i.submission_id: i for i in items}
    return [file_verdict(home, con, by_id[v.submission_id], v, actor) for v in verdicts]
