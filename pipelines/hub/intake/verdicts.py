"""The hub's decision on one submission, and how it is recorded in the vault and the audit log."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path

import duckdb
import pandas as pd

from pipelines.hub import audit
from pipelines.hub.inbox import InboxError, InboxItem
from pipelines.hub.vault import submissions
from pipelines.validation.findings import Finding, IdentifierFinding


class VerdictStatus(StrEnum):
    """What intake decided about a submission."""

    STAGED = "staged"
    """Passed re-validation: its rows wait in the vault for the blocking check and promotion."""
    REFUSED = "refused"
    """Failed: quarantined with a report."""
    DUPLICATE = "duplicate"
    """The current (or a purged) submission sent again: nothing to do."""


@dataclass(frozen=True)
class Verdict:
    """The hub's decision on one submission; refused ones carry their quarantine folder."""

    submission_id: str
    ngo_id: str
    period: str
    dataset: str
    sha256: str
    rows: int
    status: VerdictStatus
    findings: tuple[Finding, ...] = ()
    identifiers: tuple[IdentifierFinding, ...] = ()
    report_dir: Path | None = None

    @classmethod
    def of(
        cls,
        item: InboxItem,
        status: VerdictStatus,
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

    @classmethod
    def refused_at_the_door(cls, item: InboxItem, error: InboxError) -> Verdict:
        """A submission refused before validation: it is not what its manifest says."""
        finding = Finding(
            rule=error.rule,
            kind="hub",
            columns=(),
            description=error.message,
            fix="Submit the extract again with `outcomes submit`.",
            count=0,
        )
        return cls.of(item, VerdictStatus.REFUSED, (finding,))

    @property
    def reason(self) -> str:
        if self.identifiers:
            return "direct identifiers: " + ", ".join(sorted({f.label for f in self.identifiers}))
        return "; ".join(f"{f.rule} ({f.count} rows)" if f.count else f.rule for f in self.findings)


def record_verdicts(
    con: duckdb.DuckDBPyConnection,
    items: Sequence[InboxItem],
    verdicts: Sequence[Verdict],
    actor: str,
) -> None:
    """Record each verdict in ``submissions`` and the audit log (inside the caller's transaction)."""
    now = datetime.now(UTC)
    by_id = {i.submission_id: i for i in items}
    rows = []
    for v in verdicts:
        manifest = by_id[v.submission_id].manifest
        rows.append(
            {
                "submission_id": v.submission_id,
                "ngo_id": v.ngo_id,
                "period": v.period,
                "dataset": v.dataset,
                "contract": manifest.contract if manifest else "",
                "sha256": v.sha256,
                "rows": v.rows,
                "submitted_at": (
                    manifest.submitted_at.isoformat()
                    if manifest and manifest.submitted_at
                    else None
                ),
                "submitted_on": manifest.submitted_on.isoformat() if manifest else None,
                "received_at": by_id[v.submission_id].received_at or now.isoformat(),
                "status": str(v.status),
                "reason": v.reason or None,
            }
        )
    submissions.record(con, pd.DataFrame(rows, columns=list(submissions.COLUMNS)))
    audit.record(
        con,
        [
            audit.Event(
                actor,
                "refused" if v.status == VerdictStatus.REFUSED else "validated",
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
