"""Equity: who each programme serves, by ethnicity, age band and gender.

Captions describe services and the people they reach, never a group in
deficit terms. Cells of Māori-data values that the Māori data governance group
has not approved are shown as withheld with that reason: never zero, never
missing.
"""

from __future__ import annotations

import pandas as pd

from dashboards import labels
from dashboards.charts import Downloads, Row, Table, frame_csv, measure_chart
from dashboards.page import Page, Section
from dashboards.zone import Zone

BREAKDOWNS = (
    ("clients_by_ethnicity", "ethnicity"),
    ("clients_by_age_band", "age_band"),
    ("clients_by_gender", "gender"),
)


def _approvals(zone: Zone, downloads: Downloads) -> tuple[Table, str] | None:
    frame = zone.approvals
    if frame.empty:
        return None
    frame = frame.sort_values(["period", "dimension", "value"])
    rows = tuple(
        Row(
            (
                str(r["period"]),
                labels.dimension_name(str(r["dimension"])),
                labels.value_label(str(r["dimension"]), str(r["value"])),
                "approved, in force" if bool(r["in_force"]) else "not in force (withdrawn)",
                "" if pd.isna(r["decided_at"]) else str(r["decided_at"])[:16],
            )
        )
        for r in frame.to_dict("records")
    )
    table = Table(
        "Governance decisions on Māori-data breakdowns",
        ("Period", "Breakdown", "Value", "Decision", "Decided at (UTC)"),
        rows,
    )
    return table, downloads.add("equity/approvals", frame_csv(frame))


def pages(zone: Zone, downloads: Downloads) -> list[Page]:
    charts = []
    for measure, dimension in BREAKDOWNS:
        name = labels.dimension_name(dimension).lower()
        made = measure_chart(
            zone,
            downloads,
            id=measure,
            download=f"equity/{measure}",
            measure=measure,
            cells=zone.pooled(measure),
            category="programme",
            series=dimension,
            horizontal=True,
            caption=(
                f"How many clients each programme served, by {name}, so that funders and NGOs can "
                "see whom each service reaches."
            ),
        )
        if made is not None:
            charts.append(made)
    approvals = _approvals(zone, downloads)
    governance = Section(
        heading="Māori data governance",
        id="governance",
        intro=(
            "Figures about Māori clients are Māori data. They are released only with the approval "
            "of the Māori data governance group. Until the group approves a period's release, those "
            "cells are shown as withheld with that reason: they are not zero, and they are not "
            "missing by accident.",
        ),
        tables=((approvals,) if approvals else ()),
    )
    return [
        Page(
            "equity.html",
            "Equity",
            "equity",
            intro=(
                f"Whom each programme served in {zone.latest_label}: clients by ethnicity, age band and "
                "gender, with 95% intervals.",
            ),
            sections=(
                Section(heading="Whom each programme serves", id="reach", charts=tuple(charts)),
                governance,
            ),
        )
    ]
