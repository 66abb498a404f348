"""Privacy budgets for the steward: set, spent and left per NGO and period.

The Steward page shows a summary per period; each period's per-NGO table is on
pages of its own, ``BUDGET_PAGE_ROWS`` NGOs a page, so a national period stays
well under the page budget. Budgets are exact bookkeeping: no interval.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from dashboards import labels
from dashboards.charts import Downloads, Row, Table, exact_chart, frame_csv
from dashboards.page import Page, Section
from dashboards.pages.ngos import (
    BUDGET_COLUMNS,
    BUDGET_NAMES,
    YEAR_COLUMNS,
    YEAR_NAMES,
    ngo_href,
    year_cells,
)
from dashboards.zone import Zone

USED_BANDS = (
    ("under_25", "under 25% spent", 0.0, 0.25),
    ("25_to_75", "25% to 75% spent", 0.25, 0.75),
    ("75_to_99", "75% to 99% spent", 0.75, 0.99),
    ("spent", "99% or more spent", 0.99, float("inf")),
)
BUDGET_PAGE_ROWS = 500
"""NGOs per budget page, so a national period (2,000 NGOs) stays well under the page budget."""


def _max(frame: pd.DataFrame, column: str) -> float | None:
    values = frame[column].dropna() if column in frame else pd.Series(dtype=float)
    return float(values.max()) if len(values) else None


def _min(frame: pd.DataFrame, column: str) -> float | None:
    values = frame[column].dropna() if column in frame else pd.Series(dtype=float)
    return float(values.min()) if len(values) else None


def budget_page_path(period: str, part: int = 1) -> str:
    return f"steward/budgets-{labels.slug(period)}-{part}.html"


def budget_section(zone: Zone, downloads: Downloads) -> tuple[Section, list[Page]]:
    budgets = zone.budgets
    if budgets.empty:
        return Section(
            heading="Privacy budgets", id="budgets", intro=("No budgets have been published yet.",)
        ), []
    share = (budgets["spent_rho"] / budgets["budget_rho"].where(budgets["budget_rho"] > 0)).fillna(
        0.0
    )
    summary_rows = []
    for period, group in budgets.assign(_share=share).groupby("period", sort=True):
        row: dict[str, Any] = {
            "period": str(period),
            "ngos": len(group),
            "budget_min": float(group["budget_rho"].min()),
            "budget_max": float(group["budget_rho"].max()),
            "spent_max": float(group["spent_rho"].max()),
            "left_min": float(group["left_rho"].min()),
            "year_spent_max": _max(group, "year_spent_rho"),
            "year_left_min": _min(group, "year_left_rho"),
        }
        for key, _name, lo, hi in USED_BANDS:
            row[key] = int(((group["_share"] >= lo) & (group["_share"] < hi)).sum())
        summary_rows.append(row)
    summary = pd.DataFrame(summary_rows)
    chart = exact_chart(
        downloads,
        id="budget-used",
        download="steward/budget-used",
        title="NGOs by share of their budget spent, per period",
        caption="How many NGOs have spent how much of each period's privacy budget.",
        frame=summary,
        category="period",
        values=[k for k, *_ in USED_BANDS],
        names={"period": "Period", **{k: n for k, n, *_ in USED_BANDS}},
        value_title="NGOs",
    )
    # Budgets belong to one NGO each: a sum across NGOs would describe nobody's privacy, so the
    # summary gives the extremes (the NGO that spent most, the one with least left) instead.
    table = Table(
        "Budgets per period, per NGO (\u03c1; exact; never added across NGOs)",
        (
            "Period",
            "NGOs",
            "Smallest budget",
            "Largest budget",
            "Most spent by one NGO",
            "Least left to one NGO",
            "Most spent by one NGO over four quarters",
            "Least left to one NGO of its four-quarter cap",
        ),
        tuple(
            Row(
                (
                    r["period"],
                    f"{r['ngos']:,}",
                    labels.number(r["budget_min"], "rho"),
                    labels.number(r["budget_max"], "rho"),
                    labels.number(r["spent_max"], "rho"),
                    labels.number(r["left_min"], "rho"),
                    labels.number(r["year_spent_max"], "rho"),
                    labels.number(r["year_left_min"], "rho"),
                ),
                href=budget_page_path(r["period"]),
            )
            for r in summary_rows
        ),
    )
    pages = []
    for period, group in budgets.sort_values(["period", "ngo_id"]).groupby("period", sort=True):
        frame = group[["ngo_id", *BUDGET_COLUMNS, *(c for c in YEAR_COLUMNS if c in group)]]
        csv = downloads.add(f"steward/budgets-{labels.slug(str(period))}", frame_csv(frame))
        records = frame.to_dict("records")
        parts = [
            records[i : i + BUDGET_PAGE_ROWS] for i in range(0, len(records), BUDGET_PAGE_ROWS)
        ]
        index_links = tuple(
            (
                budget_page_path(str(period), n),
                f"NGOs {zone.name(str(chunk[0]['ngo_id']))} to "
                f"{zone.name(str(chunk[-1]['ngo_id']))}",
                "",
            )
            for n, chunk in enumerate(parts, start=1)
        )
        for n, chunk in enumerate(parts, start=1):
            detail = Table(
                f"Budget set, spent and left per NGO, {period}, and over the NGO's busiest four "
                "quarters that include it (exact)",
                ("NGO", *BUDGET_NAMES[1:], *YEAR_NAMES),
                tuple(
                    Row(
                        (
                            zone.name(str(r["ngo_id"])),
                            *(labels.number(r[c], "rho") for c in BUDGET_COLUMNS[1:4]),
                            *(f"{r[c]:.2f}" for c in BUDGET_COLUMNS[4:]),
                            *year_cells(r),
                        ),
                        href=ngo_href(str(r["ngo_id"])),
                    )
                    for r in chunk
                ),
            )
            pages.append(
                Page(
                    budget_page_path(str(period), n),
                    f"Budgets, {period}"
                    + (f" (part {n} of {len(parts)})" if len(parts) > 1 else ""),
                    "steward",
                    intro=(
                        f"Each NGO's privacy budget for {period}: set, spent by releases, and left, "
                        "in \u03c1 (zero-concentrated differential privacy) and as \u03b5 at "
                        f"\u03b4 = {zone.publication.get('delta', 0):g}. The download holds every "
                        "NGO of the period.",
                    ),
                    sections=(
                        Section(
                            heading="Per NGO",
                            id="per-ngo",
                            tables=((detail, csv),),
                            links=(
                                ("steward.html", "Back to the Steward page", ""),
                                *(index_links if len(parts) > 1 else ()),
                            ),
                        ),
                    ),
                )
            )
    section = Section(
        heading="Privacy budgets",
        id="budgets",
        intro=(
            "Each NGO has a budget per period, and a cap on what any four consecutive quarters "
            "spend together; every release spends from both. Each budget protects that NGO's "
            "clients only, so budgets are never added across NGOs. Select a period for its "
            "per-NGO table.",
        ),
        charts=(chart,),
        tables=((table, downloads.add("steward/budgets", frame_csv(summary))),),
    )
    return section, pages
