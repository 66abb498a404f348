"""How a proposed release is shown to the steward who must approve it (``outcomes release``).

What it would read, what it would spend per NGO in the quarter and in the
rolling year (rho and epsilon), the accuracy its noise gives and what it will
not see: everything the steward needs to say yes, and nothing individual.
"""

from __future__ import annotations

from typing import Any

from rich.table import Table

from pipelines.cli.options import console
from pipelines.standard.names import SubmissionName

LISTED = 10
"""NGOs shown by name in each list; the rest are counted."""


def _names(ngos: tuple[str, ...]) -> str:
    more = f" and {len(ngos) - LISTED} more" if len(ngos) > LISTED else ""
    return ", ".join(ngos[:LISTED]) + more


def print_proposal(proposal: Any, plan: Any, *, accuracy: bool = True) -> None:
    """The proposal in words and two tables: spends (least left first) and expected accuracy
    (``accuracy=False`` leaves that table out, for a script that showed it already)."""
    from pipelines.privacy.mechanisms import epsilon_at

    p = proposal
    what = (
        "an addendum: cells the release lacks (a late NGO's own figures, or cells the "
        "governance group approved since), added to it"
        if p.kind == "addendum"
        else f"a new release superseding {p.supersedes}"
        if p.supersedes
        else "the period's first release"
    )
    console.rule(f"[bold]Proposed release {p.proposal_id} of {p.period}", align="left")
    console.print(
        f"{p.release_id}: {what}. Status: {p.status}. Made by {p.proposed_by} at "
        f"{p.proposed_at:%Y-%m-%d %H:%M} UTC; digest {p.digest[:16]}."
    )
    ngos = {SubmissionName.parse(sid).ngo_id for sid in p.inputs}
    if p.kind == "addendum":
        console.print(
            f"Computes cells for the {len(p.spends):,} NGO(s) it charges; the release's other "
            "cells stay as they are."
        )
    else:
        console.print(f"Uses {len(p.inputs):,} current submission(s) from {len(ngos):,} NGO(s).")
    if p.spends:
        asks = [s.asks for s in p.spends]
        years = [s.year_after for s in p.spends]
        console.print(
            f"Spends rho {min(asks):.4g} to {max(asks):.4g} per NGO in {p.period} (epsilon up to "
            f"{epsilon_at(max(asks), plan.delta):.2f} at delta {plan.delta:g}); after it, the "
            f"busiest four consecutive quarters reach rho {max(years):.4g} for an NGO (epsilon "
            f"{epsilon_at(max(years), plan.delta):.2f})."
        )
        console.print(_spends_table(p, plan))
    if accuracy:
        console.print(_accuracy_table(p, plan))
    if p.pending:
        console.print(
            f"Waiting for the Māori data governance group (withheld, nothing spent): "
            f"{_pending_text(p.pending, plan)}."
        )
    _print_missing(p)


def _spends_table(p: Any, plan: Any) -> Table:
    from pipelines.privacy.mechanisms import epsilon_at

    tightest = sorted(p.spends, key=lambda s: min(s.budget - s.quarter_after, s.year.left - s.asks))
    shown = tightest[:LISTED]
    more = f" ({len(p.spends) - len(shown):,} more not shown)" if len(p.spends) > len(shown) else ""
    table = Table(
        title=f"What it asks of each NGO, least left first (rho){more}", title_justify="left"
    )
    for col in (
        "NGO",
        "Asks",
        "Quarter after",
        "Budget",
        "Year",
        "Year after",
        "Cap",
        "as epsilon",
    ):
        table.add_column(
            col,
            justify="left" if col in ("NGO", "Year") else "right",
            overflow="fold" if col == "Year" else "ellipsis",
        )
    for s in shown:
        table.add_row(
            s.ngo_id,
            f"{s.asks:.4g}",
            f"{s.quarter_after:.4g}",
            f"{s.budget:.4g}",
            s.year.window,
            f"{s.year_after:.4g}",
            f"{s.year.cap:.4g}",
            f"{epsilon_at(s.year_after, plan.delta):.2f}",
        )
    return table


def _title(plan: Any, measure: str) -> str:
    try:
        return str(plan.measure(measure).title)
    except KeyError:
        return measure


def _accuracy_table(p: Any, plan: Any) -> Table:
    """Each measure the release computes: its expected 95% ± in the unit it is read in (a
    share's or a mean's parts are counts and totals), never in scientific notation."""
    from pipelines.privacy.planner import unit_of

    table = Table(
        title="Expected accuracy: 95% ± of each count or total it computes (noise only; shares "
        "and means divide two of these)",
        title_justify="left",
    )
    for col in ("Measure", "Scope", "95% ±", "Plan id"):
        table.add_column(col, justify="right" if col == "95% ±" else "left", overflow="fold")
    for a in p.accuracy:
        try:
            resolution = plan.measure(a.measure).statistic.resolution
            unit = unit_of(plan, a.measure)
        except KeyError:  # a measure of an earlier plan: shown as stored
            table.add_row(a.measure, a.scope, f"{a.low:,.0f} to {a.high:,.0f}", a.measure)
            continue
        low, high = (
            unit.plus_minus(a.low / resolution),
            unit.plus_minus(a.high / resolution),
        )
        spread = low if low == high else f"{low} to {high.removeprefix('± ')}"
        table.add_row(
            _title(plan, a.measure), "per NGO" if a.scope == "ngo" else a.scope, spread, a.measure
        )
    return table


def _pending_text(pending: Any, plan: Any) -> str:
    """``Clients served by programme and ethnicity (ethnicity Māori), …`` for the stored
    components ``clients_by_ethnicity:governed:ethnicity=maori, …``."""
    from pipelines.privacy.plan import Component
    from pipelines.standard.contract import value_label

    shown = []
    for part in pending:
        measure, _, component = str(part).partition(":")
        try:
            c = Component.parse(component)
        except ValueError:
            shown.append(str(part))
            continue
        value = value_label(c.dimension, c.value)
        shown.append(f"{_title(plan, measure)} ({c.dimension.replace('_', ' ')} {value})")
    return ", ".join(shown)


def _print_missing(p: Any) -> None:
    m = p.missing
    if not m.anything:
        note = "" if m.not_submitted is not None else " (no NGO register to compare with)"
        console.print(f"Nothing missing that the hub can see{note}.")
        return
    console.print("[yellow]What this release will not see:[/]")
    if m.not_submitted:
        console.print(f"  registered, no submission for {p.period}: {_names(m.not_submitted)}")
    if m.not_again:
        console.print(
            f"  in the previous quarter's release, no submission for {p.period}: "
            f"{_names(m.not_again)}"
        )
    if m.without_assessments:
        console.print(
            f"  episodes but no assessments (outcomes left out): {_names(m.without_assessments)}"
        )
    for message in m.unresolved[:LISTED]:
        console.print(f"  {message}")
    if len(m.unresolved) > LISTED:
        console.print(f"  … and {len(m.unresolved) - LISTED} more unresolved references")
