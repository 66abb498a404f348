"""Steward: budgets set, spent and left; the ledger of releases; accuracy against budget;
reliability flags; submissions accepted and refused (counts only).

Everything here is exact bookkeeping from the published zone (no individual
record, no client id); the accuracy curves are the release plan's expectations.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from dashboards import figures, labels
from dashboards.charts import Chart, Downloads, Row, Table, exact_chart, frame_csv
from dashboards.page import Page, Section
from dashboards.pages.budgets import budget_section
from dashboards.zone import Zone

LEDGER = {
    "release_id": "Release",
    "period": "Period",
    "version": "Version",
    "status": "Status",
    "superseded_by": "Superseded by",
    "released_at": "Released at (UTC)",
    "plan_version": "Plan version",
    "ngos_charged": "NGOs charged",
    "rho_max_per_ngo": "Largest \u03c1 charged to an NGO",
    "rho_total": "Total \u03c1 charged",
}
FLAGS = ("ok", "low", "withheld")


def _text(value: Any) -> str:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return "\u2014"
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, pd.Timestamp):
        return str(value.strftime("%Y-%m-%d %H:%M"))
    return str(value)


def _ledger(zone: Zone, downloads: Downloads) -> Section:
    frame = zone.releases.sort_values(["period", "version"])
    columns = [c for c in LEDGER if c in frame.columns]
    table = Table(
        "Every release, current and superseded",
        tuple(LEDGER[c] for c in columns),
        tuple(Row(tuple(_text(r[c]) for c in columns)) for r in frame.to_dict("records")),
    )
    return Section(
        heading="Ledger of releases",
        id="ledger",
        intro=(
            "A release is computed once; a superseded release stays in the ledger with the budget it spent.",
        ),
        tables=((table, downloads.add("steward/releases", frame_csv(frame[columns]))),),
    )


def _accuracy_chart(zone: Zone, downloads: Downloads, unit: str, frame: pd.DataFrame) -> Chart:
    traces = []
    for i, ((scope, _measure, title), group) in enumerate(
        frame.groupby(["scope", "measure", "title"], sort=False)
    ):
        ordered = group.sort_values("rho")
        name = f"{title} ({'each NGO' if scope == 'ngo' else 'all NGOs'})"
        traces.append(
            {
                "type": "scatter",
                "mode": "lines+markers",
                "name": figures.esc(name),
                "x": [float(v) for v in ordered["rho"]],
                "y": [float(v) for v in ordered["halfwidth_95"]],
                "customdata": [f"{e:.2f}" for e in ordered["epsilon"]],
                "line": {
                    "color": figures.colour(i),
                    "dash": ("solid", "dash", "dot", "dashdot")[(i // 8) % 4],
                },
                "hovertemplate": f"{figures.esc(name)}<br>\u03c1 %{{x}} (\u03b5 %{{customdata}}): \u00b1 %{{y:.3g}}<extra></extra>",
            }
        )
    share = labels.is_share(unit)
    layout = {
        "height": 420,
        "margin": {"l": 10, "r": 20, "t": 10, "b": 10},
        "font": {"family": figures.FONT, "size": 12, "color": "#222222"},
        "paper_bgcolor": "#ffffff",
        "plot_bgcolor": "#ffffff",
        "legend": {"font": {"size": 11}},
        "xaxis": {
            "title": {"text": "Budget per NGO per period (\u03c1, log scale)"},
            "type": "log",
            "gridcolor": "#e5e5e5",
            "automargin": True,
        },
        "yaxis": {
            "title": {"text": figures.esc(f"Expected 95% \u00b1 ({unit})")},
            "type": "log",
            "gridcolor": "#e5e5e5",
            "automargin": True,
            **({"tickformat": ".1%"} if share else {}),
        },
    }
    cols = ["measure", "title", "scope", "unit", "rho", "epsilon", "halfwidth_95", "cell_size"]
    table = Table(
        f"Expected 95% half-width against budget ({unit})",
        ("Measure", "Scope", "\u03c1", "\u03b5", "Expected \u00b1", "Cell size for ratios"),
        tuple(
            Row(
                (
                    str(r["title"]),
                    str(r["scope"]),
                    f"{r['rho']:g}",
                    f"{r['epsilon']:.2f}",
                    f"{r['halfwidth_95']:.3g}",
                    f"{r['cell_size']:g}",
                )
            )
            for r in frame.sort_values(["scope", "measure", "rho"]).to_dict("records")
        ),
    )
    key = labels.slug(unit)
    return Chart(
        id=f"accuracy-{key}",
        title=f"Accuracy against budget: {unit}",
        caption=(
            "What the release plan expects: the 95% half-width of a cell for each budget per NGO. "
            "A larger budget buys a narrower interval. Ratios assume cells of "
            f"{frame['cell_size'].iloc[0]:g} clients."
        ),
        figure=figures.figure_json({"data": traces, "layout": layout, "config": figures.CONFIG}),
        table=table,
        csv=downloads.add(f"steward/accuracy-{key}", frame_csv(frame[cols])),
        not_noisy="The plan's expectations, computed from no client data: nothing to add an interval to.",
        alt=f"Chart: expected accuracy against budget for measures in {unit}. The same numbers are in the table below it.",
    )


def _accuracy(zone: Zone, downloads: Downloads) -> Section:
    frame = zone.plan_accuracy
    charts = tuple(
        _accuracy_chart(zone, downloads, str(unit), group)
        for unit, group in frame.groupby("unit", sort=True)
    )
    return Section(
        heading="Accuracy against budget",
        id="accuracy",
        intro=(
            "Before spending, the steward can see what each budget buys: nothing here spends anything.",
        ),
        charts=charts,
    )


def _flags(zone: Zone, downloads: Downloads) -> Section:
    counts: dict[tuple[str, str], dict[str, int]] = {}
    by_measure: dict[str, dict[str, int]] = {}
    for cell in zone.cells:
        scope = "each NGO" if cell.ngo_id else "all NGOs"
        row = counts.setdefault((cell.period, scope), dict.fromkeys(FLAGS, 0))
        row[cell.reliability] = row.get(cell.reliability, 0) + 1
        if cell.period == zone.latest:
            per = by_measure.setdefault(cell.measure, dict.fromkeys(FLAGS, 0))
            per[cell.reliability] = per.get(cell.reliability, 0) + 1
    flags = sorted(
        {f for row in counts.values() for f in row},
        key=lambda f: (f not in FLAGS, FLAGS.index(f) if f in FLAGS else 0, f),
    )
    frame = pd.DataFrame(
        [
            {"cells": f"{p} {s}", "period": p, "scope": s, **row}
            for (p, s), row in sorted(counts.items())
        ],
        columns=["cells", "period", "scope", *flags],
    )
    chart = exact_chart(
        downloads,
        id="flags",
        download="steward/flags",
        title="Reliability flags of published cells",
        caption="How many current cells are ok, low or withheld, per period, pooled and per NGO.",
        frame=frame,
        category="cells",
        values=flags,
        names={"cells": "Period and scope", "ok": "ok", "low": "low", "withheld": "withheld"},
        value_title="Cells",
    )
    detail = pd.DataFrame(
        [
            {"measure": m, "title": zone.measure(m).title, **row}
            for m, row in sorted(by_measure.items())
        ],
        columns=["measure", "title", *flags],
    )
    table = Table(
        f"Flags per measure, {zone.latest_label} (exact counts of cells)",
        ("Measure", "Title", *flags),
        tuple(Row(tuple(str(v) for v in r.values())) for r in detail.to_dict("records")),
    )
    return Section(
        heading="Reliability flags",
        id="flags",
        intro=("The Methodology page explains each flag.",),
        charts=(chart,),
        tables=((table, downloads.add("steward/flags-by-measure", frame_csv(detail))),),
    )


def _submissions(zone: Zone, downloads: Downloads) -> Section:
    frame = zone.submission_counts.sort_values(["period", "dataset"]).copy()
    if frame.empty:
        return Section(
            heading="Submissions",
            id="submissions",
            intro=("No submissions have been counted yet.",),
        )
    frame.insert(0, "submissions", frame["period"].astype(str) + " " + frame["dataset"].astype(str))
    chart = exact_chart(
        downloads,
        id="submissions",
        download="steward/submissions",
        title="Submissions accepted, superseded and refused",
        caption="Counts of submissions per period and dataset, never their contents.",
        frame=frame,
        category="submissions",
        values=["accepted", "superseded", "refused"],
        names={
            "submissions": "Period and dataset",
            "accepted": "accepted",
            "superseded": "superseded",
            "refused": "refused",
        },
        value_title="Submissions",
    )
    return Section(heading="Submissions", id="submissions", charts=(chart,))


def pages(zone: Zone, downloads: Downloads) -> list[Page]:
    budgets, budget_pages = budget_section(zone, downloads)
    sections = (
        budgets,
        _ledger(zone, downloads),
        _accuracy(zone, downloads),
        _flags(zone, downloads),
        _submissions(zone, downloads),
    )
    return [
        Page(
            "steward.html",
            "Steward",
            "steward",
            intro=(
                "For the data steward: budgets, the release ledger, what each budget buys, the "
                "reliability of what was published, and the submissions behind it (counts only). "
                "These are exact bookkeeping numbers, not estimates, so they carry no interval.",
            ),
            sections=sections,
        ),
        *budget_pages,
    ]
