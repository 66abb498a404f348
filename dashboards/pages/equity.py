"""Equity: who each programme serves, and how its clients' outcomes moved, by ethnicity, age
band and gender.

Outcomes by group (mean change, the share whose scores rose, the share whose
scores fell) are shown when the release plan publishes them; a zone without them
says so and shows reach only.

Captions describe services and the people they reach, never a group in
deficit terms. Cells of Māori-data values that the Māori data governance group
has not approved are shown as withheld with that reason: never zero, never
missing.
"""

from __future__ import annotations

import pandas as pd

from dashboards import labels
from dashboards.charts import Chart, Downloads, Row, Table, frame_csv, make_chart, measure_chart
from dashboards.page import Page, Section
from dashboards.zone import Zone

BREAKDOWNS = (
    ("clients_by_ethnicity", "ethnicity"),
    ("clients_by_age_band", "age_band"),
    ("clients_by_gender", "gender"),
)


GROUPS = ("ethnicity", "age_band", "gender")
OUTCOMES = (
    (
        "mean_change",
        "Average change in score",
        "How far clients' assessed scores moved on average between the first and the later "
        "assessment (1\u20135 scale), for the clients of each group: whether services work as "
        "well for everyone they serve.",
    ),
    (
        "share_improved",
        "Share of clients whose scores rose",
        "Of the clients assessed twice in each group, the share whose score went up.",
    ),
    (
        "share_worse",
        "Share of clients whose scores fell",
        "Of the clients assessed twice in each group, the share whose score went down: read it "
        "beside the share whose scores rose. A service that works for everyone sees few fall in "
        "any group.",
    ),
)
"""Pooled outcome measures by group, by id stem (``mean_change_by_ethnicity``), with titles
that describe what services achieved, never a group in deficit terms."""


def _outcome_chart(
    zone: Zone, downloads: Downloads, outcome: tuple[str, str, str], group: str
) -> Chart | None:
    stem, title, caption = outcome
    measure = f"{stem}_by_{group}"
    cells = zone.pooled(measure)
    if not cells:
        return None
    info = zone.measure(measure)
    name = labels.dimension_name(group).lower()
    other = sorted({k for c in cells for k in c.keys} - {group})
    # A second breakdown (a domain or domain group) goes along the axis and the groups become
    # the series, so each domain shows every group side by side.
    category = other[0] if other else group
    series = group if other else None
    categories = labels.ordered(category, {c.keys.get(category, "") for c in cells})
    serieses = labels.ordered(group, {c.keys.get(group, "") for c in cells}) if series else [""]
    index = {(c.keys.get(category, ""), c.keys.get(group, "") if series else ""): c for c in cells}
    return make_chart(
        zone,
        downloads,
        id=measure,
        download=f"equity/{measure}",
        title=f"{title}, by {name}",
        caption=caption,
        category_title=labels.dimension_name(category),
        categories=[labels.value_label(category, v) for v in categories],
        series=[
            (
                labels.value_label(group, s) if series else f"{title}",
                [index.get((v, s)) for v in categories],
            )
            for s in serieses
        ],
        unit=info.unit,
        value_title=info.unit.capitalize() if info.unit != "share" else "Share",
        bars=False,
        horizontal=True,
        series_title=labels.dimension_name(group) if series else "",
    )


def outcomes_section(zone: Zone, downloads: Downloads) -> Section:
    """Outcomes for every group, where the zone has them; otherwise a plain note."""
    charts = tuple(
        c
        for group in GROUPS
        for outcome in OUTCOMES
        if (c := _outcome_chart(zone, downloads, outcome, group)) is not None
    )
    if not charts:
        return Section(
            heading="Outcomes for each group",
            id="outcomes-by-group",
            intro=(
                "This release does not break outcomes down by ethnicity, age band or gender; the "
                "Outcomes page shows them for all clients together.",
            ),
        )
    return Section(
        heading="Outcomes for each group",
        id="outcomes-by-group",
        intro=(
            "Whether clients of every group are better off: the change in their assessed scores, "
            "by ethnicity, age band and gender, across all programmes, with 95% intervals. "
            "Figures about Māori clients appear once the Māori data governance group approves "
            "them; until then they show as waiting for approval.",
        ),
        charts=charts,
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
                f"Outcomes and reach for every group in {zone.latest_label}: how clients' scores "
                "moved, and whom each programme served, by ethnicity, age band and gender, with "
                "95% intervals.",
            ),
            sections=(
                outcomes_section(zone, downloads),
                Section(heading="Whom each programme serves", id="reach", charts=tuple(charts)),
                governance,
            ),
        )
    ]
