"""Steward: budgets set, spent and left; the ledger of releases; accuracy against budget;
reliability flags; submissions accepted and refused (counts only); the audit log's signed head.

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
CHECKPOINTS_SHOWN = 20
"""The newest signed checkpoints listed on the page; the download holds every one."""
CHECKPOINT_COLUMNS = {
    "seq": "Entry",
    "signed_at": "Signed at (UTC)",
    "reason": "Signed because",
    "key_fingerprint": "Key fingerprint",
    "hash": "Hash of the entry",
}
REASONS = {
    "entries": "the log grew by the set number of entries",
    "time": "the set time passed",
    "publication": "a publication",
}


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
    in_force = _in_force(zone)
    if in_force is not None and len(frame):
        low, high = float(frame["halfwidth_95"].min()), float(frame["halfwidth_95"].max())
        traces.append(
            {
                "type": "scatter",
                "mode": "lines",
                "name": figures.esc(f"Budget in force: \u03c1 {in_force:g} per NGO per quarter"),
                "x": [in_force, in_force],
                "y": [low, high],
                "line": {"color": "#222222", "width": 2, "dash": "dash"},
                "hoverinfo": "name",
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
            + (
                f" The dashed line marks the budget in force: \u03c1 {in_force:g} per NGO per "
                f"quarter ({_epsilon(zone, in_force)})."
                if in_force is not None
                else ""
            )
        ),
        figure=figures.figure_json({"data": traces, "layout": layout, "config": figures.CONFIG}),
        table=table,
        csv=downloads.add(f"steward/accuracy-{key}", frame_csv(frame[cols])),
        not_noisy="The plan's expectations, computed from no client data: nothing to add an interval to.",
        alt=f"Chart: expected accuracy against budget for measures in {unit}. The same numbers are in the table below it.",
    )


def _in_force(zone: Zone) -> float | None:
    """The budget most NGOs have in the view's latest period, else the plan's default."""
    budgets = zone.budgets
    if zone.latest is not None and not budgets.empty:
        now = budgets.loc[budgets["period"].astype(str) == zone.latest, "budget_rho"].dropna()
        if len(now):
            return float(now.mode().iloc[0])
    default = zone.publication.get("default_rho")
    return float(default) if default else None


def _epsilon(zone: Zone, rho: float) -> str:
    """``ε 5.6 at δ 1e-07`` for a budget of ``rho``, from the published budgets (exact)."""
    rows = zone.budgets.loc[zone.budgets["budget_rho"] == rho, "budget_epsilon"].dropna()
    delta = zone.publication.get("delta")
    if not len(rows) or not delta:
        return "its \u03b5 is on the Methodology page"
    return f"\u03b5 {float(rows.iloc[0]):.2f} at \u03b4 {float(delta):g}"


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


STATUS_ORDER = ("submitted", "late", "not submitted")
NAMED_AT_MOST = 40
"""NGOs named per status and period on the page; the download names every one."""


def _submission_status(zone: Zone, downloads: Downloads) -> Section:
    """Who submitted, who was late and who has not, per released period up to the view's."""
    if not zone.statuses:
        return Section(
            heading="Who has submitted",
            id="submission-status",
            intro=("This publication holds no submission status.",),
        )
    by_period: dict[str, dict[str, list[str]]] = {}
    for (period, ngo), status in sorted(zone.statuses.items()):
        if period in zone.periods:
            by_period.setdefault(period, {}).setdefault(status, []).append(ngo)
    rows = []
    for period in sorted(by_period, reverse=True):
        found = by_period[period]
        named = []
        for status in ("late", "not submitted"):
            ngos = sorted(found.get(status, []), key=zone.name)
            if ngos:
                shown = ", ".join(zone.name(n) for n in ngos[:NAMED_AT_MOST])
                more = f" and {len(ngos) - NAMED_AT_MOST} more" if len(ngos) > NAMED_AT_MOST else ""
                named.append(f"{status}: {shown}{more}")
        rows.append(
            Row(
                (
                    period,
                    *(f"{len(found.get(s, [])):,}" for s in STATUS_ORDER),
                    "; ".join(named) or "every NGO submitted in time",
                ),
            )
        )
    table = Table(
        "Submission status per period: NGOs that submitted in the window, late, or not at all",
        ("Period", "Submitted", "Late", "Not submitted", "Late or missing NGOs"),
        tuple(rows),
    )
    frame = pd.DataFrame(
        [
            {"period": p, "ngo_id": n, "name": zone.name(n), "status": s}
            for (p, n), s in sorted(zone.statuses.items())
            if p in zone.periods
        ],
        columns=["period", "ngo_id", "name", "status"],
    )
    return Section(
        heading="Who has submitted",
        id="submission-status",
        intro=(
            "From when each NGO's extract reached the hub, never from what it holds: submitted "
            "means in time for the period's release (before its submission window closed, or "
            "before the steward released it), late means after both (its figures follow in an "
            "addendum), not submitted means a registered NGO sent nothing for the period.",
        ),
        tables=((table, downloads.add("steward/submission-status", frame_csv(frame))),),
    )


def _signed_time(value: Any) -> str:
    text = _text(value)
    return text.replace("T", " ").removesuffix("+00:00") if text != "\u2014" else text


def _anchor(zone: Zone, downloads: Downloads) -> Section:
    """The audit log's head as published, signed, and every checkpoint signed before it."""
    heading, anchor_id = "Audit log anchor", "audit-anchor"
    pub = zone.publication
    if pub.get("audit_seq") is None:
        return Section(
            heading=heading,
            id=anchor_id,
            intro=(
                "The audit log had no entries when this was published: there is no head to sign yet.",
            ),
        )
    signed = pub.get("audit_signature") is not None
    intro = [
        "The hub records every submission, budget, approval, release and purge in an "
        "append-only audit log, each entry's hash covering the entry before it. At every "
        "publication, and whenever the log has grown by a set number of entries or a set time "
        "has passed, the newest entry's hash is signed with the hub's audit signing key "
        "(Ed25519), which is not the key of its vault.",
        "Keep a copy of this head (this page, or exports/audit_anchor.json beside the exported "
        "cells). If the log is later cut short or an earlier entry rewritten, the hub's check "
        "against your copy (outcomes audit --verify --against audit_anchor.json) says so, and "
        "no one without the signing key can make a signature that passes. Check that the key "
        "fingerprint is the one the hub gave you.",
    ]
    if not signed:
        intro.append(
            "This head was published without a signature (the hub had no signing key), so on "
            "its own it proves nothing about the log's history."
        )
    fields = (
        ("Entry", str(int(pub["audit_seq"]))),
        ("Hash of the entry (SHA-256 chain)", _text(pub.get("audit_hash"))),
        ("Signed at (UTC)", _signed_time(pub.get("audit_signed_at"))),
        ("Key fingerprint", _text(pub.get("audit_key_fingerprint"))),
        ("Public key (Ed25519, hex)", _text(pub.get("audit_public_key"))),
        ("Signature (hex)", _text(pub.get("audit_signature"))),
    )
    head = Table(
        "The newest entry of the audit log when this was published",
        ("Field", "Value"),
        tuple(Row(pair) for pair in fields),
    )
    frame = zone.audit_checkpoints.sort_values("seq", ascending=False)
    tables: list[tuple[Table, str]] = [(head, "")]
    if not frame.empty:
        newest = frame.head(CHECKPOINTS_SHOWN)
        checkpoints = Table(
            f"Signed checkpoints, newest first ({len(newest):,} of {len(frame):,}; the download "
            "holds every one, with its signature and public key)",
            tuple(CHECKPOINT_COLUMNS.values()),
            tuple(
                Row(
                    (
                        str(int(r["seq"])),
                        _signed_time(r["signed_at"]),
                        REASONS.get(str(r["reason"]), _text(r["reason"])),
                        _text(r["key_fingerprint"]),
                        _text(r["hash"]),
                    )
                )
                for r in newest.to_dict("records")
            ),
        )
        tables.append((checkpoints, downloads.add("steward/audit-checkpoints", frame_csv(frame))))
    return Section(heading=heading, id=anchor_id, intro=tuple(intro), tables=tuple(tables))


def pages(zone: Zone, downloads: Downloads) -> list[Page]:
    budgets, budget_pages = budget_section(zone, downloads)
    sections = (
        budgets,
        _ledger(zone, downloads),
        _accuracy(zone, downloads),
        _flags(zone, downloads),
        _submission_status(zone, downloads),
        _submissions(zone, downloads),
        _anchor(zone, downloads),
    )
    return [
        Page(
            "steward.html",
            "Steward",
            "steward",
            intro=(
                "For the data steward: budgets, the release ledger, what each budget buys, the "
                "reliability of what was published, the submissions behind it (counts only), and "
                "the audit log's signed head. These are exact bookkeeping numbers, not estimates, "
                "so they carry no interval.",
            ),
            sections=sections,
        ),
        *budget_pages,
    ]
