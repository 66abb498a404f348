"""The release's store: who contributes, and the one transaction that commits a release.

The release, its parts, its cells, the ledger's spends, the use of the steward's
approval and the audit entry are written together. Until the transaction commits nothing is spent and nothing
exists; a crash before it leaves no trace; a crash after it leaves a complete
release that the next run publishes.
"""

from __future__ import annotations

from datetime import UTC, datetime

import duckdb
import pandas as pd

from pipelines.db import transaction
from pipelines.hub import audit
from pipelines.hub.release.draft import ReleaseDraft
from pipelines.hub.release.parts import contributing
from pipelines.hub.vault import proposals, releases, submissions
from pipelines.hub.vault.proposals import StoredApproval
from pipelines.hub.vault.statuses import ProposalStatus
from pipelines.privacy.plan import ReleasePlan


def contributing_ngos(con: duckdb.DuckDBPyConnection, period: str) -> dict[str, list[str]]:
    """NGOs with a current accepted submission of each dataset for the period."""
    return contributing(submissions.current_ngos(con, period))


def commit(
    con: duckdb.DuckDBPyConnection,
    plan: ReleasePlan,
    draft: ReleaseDraft,
    cells: pd.DataFrame,
    *,
    actor: str,
    plan_text: str,
    approval: StoredApproval,
) -> None:
    """Write the draft's release, parts, cells and spends and its audit entry, and mark the
    approved proposal released (so one approval pays for one release), all or nothing."""
    now = datetime.now(UTC)
    per_part = cells["part_id"].value_counts()
    part_rows = pd.DataFrame(
        [
            {
                "release_id": draft.release_id,
                "part_id": p.part_id,
                "measure": p.measure.id,
                "component": str(p.component),
                "scope": p.measure.scope,
                "ngo_id": p.ngo_id,
                "rho": p.calibration.rho,
                "l2_sensitivity": p.calibration.l2_sensitivity,
                "noise_scale": p.calibration.scale,
                "cells": int(per_part.get(p.part_id, 0)),
                "computed_at": now,
            }
            for p in draft.parts
        ]
    )
    spend_rows = pd.DataFrame(
        [
            {
                "release_id": draft.release_id,
                "part_id": p.part_id,
                "ngo_id": n,
                "period": draft.period,
                "rho": p.calibration.rho,
                "spent_at": now,
            }
            for p in draft.parts
            for n in p.charged
        ]
    )
    dims = list(plan.published_dimensions)
    cell_rows = cells[
        ["part_id", "measure", "ngo_id", *dims, "raw_value", "noise_scale", "rho"]
    ].assign(release_id=draft.release_id)
    asked = draft.charges
    with transaction(con):
        if draft.kind == "new":
            releases.insert_release(
                con,
                release_id=draft.release_id,
                period=draft.period,
                version=draft.version,
                plan_version=plan.version,
                plan_digest=plan.digest,
                plan_text=plan_text,
                created_at=now,
                created_by=actor,
                supersedes=draft.supersedes,
                inputs=draft.inputs,
            )
            releases.append(
                con,
                "release_allotments",
                releases.allotment_frame(draft.release_id, draft.allotted),
            )
        else:
            late = draft.late_inputs
            releases.add_inputs(con, draft.release_id, late)
            known = releases.allotments(con, draft.release_id)
            releases.append(
                con,
                "release_allotments",
                releases.allotment_frame(
                    draft.release_id,
                    {n: r for n, r in draft.allotted.items() if n not in known and n in asked},
                ),
            )
        releases.append(con, "release_parts", part_rows)
        releases.append(con, "spends", spend_rows)
        releases.append(con, "release_cells", cell_rows)
        proposals.set_status(con, approval.proposal_id, ProposalStatus.RELEASED, now)
        audit.record(
            con,
            [
                audit.Event(
                    actor,
                    "release" if draft.kind == "new" else "release_addendum",
                    draft.release_id,
                    {
                        "period": draft.period,
                        "plan_digest": plan.digest,
                        "parts": len(draft.parts),
                        "ngos_charged": len(asked),
                        "max_rho_charged": round(max(asked.values(), default=0.0), 12),
                        "supersedes": draft.supersedes,
                        "late_submissions": len(draft.late_inputs),
                        "proposal": approval.proposal_id,
                        "proposal_digest": approval.digest,
                        "approved_by": approval.approved_by,
                    },
                )
            ],
        )
