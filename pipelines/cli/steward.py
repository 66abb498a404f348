"""Steward commands: budgets, releases, governance approvals, retention, exports."""

from __future__ import annotations

import dataclasses
import getpass
import math
from datetime import date
from pathlib import Path
from typing import Any

import click
from rich.table import Table

from pipelines.cli.hub import open_hub_vault
from pipelines.cli.options import HubFailure, console, home_option, ngo_option, period_option
from pipelines.cli.proposals import print_proposal
from pipelines.home import Home
from pipelines.standard.periods import Period

DEFAULT_BY = getpass.getuser() if hasattr(getpass, "getuser") else "steward"


def _plan() -> Any:
    from pipelines.privacy.plan import PlanError, load_plan

    try:
        return load_plan()
    except PlanError as exc:
        raise HubFailure(str(exc)) from None


def _by_option(func: Any) -> Any:
    return click.option(
        "--by",
        "by",
        default=DEFAULT_BY,
        show_default=True,
        help="Who is doing this (recorded in the audit log).",
    )(func)


def _require_registered(home: Home, ngo_id: str) -> None:
    """Refuse an NGO the register does not know, saying how to register it."""
    from pipelines.hub.desk import register
    from pipelines.hub.desk.store import opened

    with opened(home) as desk:
        try:
            register.require(desk, ngo_id, active=False)
        except register.RegisterError as exc:
            raise HubFailure(str(exc)) from None


@click.group()
def budget() -> None:
    """Privacy budgets: set them, see them, and plan what they buy before spending."""


@budget.command("set")
@ngo_option(required=False, help_text="The NGO whose budget to set.")
@click.option(
    "--default",
    "default",
    is_flag=True,
    help="Set the default for every NGO without its own (the period's, or the annual cap's).",
)
@period_option(required=False, help_text="The period of a --rho budget, like 2026-Q3.")
@click.option(
    "--rho", type=float, default=None, help="The budget in zCDP rho (shown also as epsilon)."
)
@click.option(
    "--annual-rho",
    "annual_rho",
    type=float,
    default=None,
    help="The rolling-year cap instead: the rho any four consecutive quarters may spend.",
)
@click.option("--note", default=None, help="Why (recorded in the audit log).")
@_by_option
@home_option
def budget_set(
    *,
    ngo_id: str | None,
    default: bool,
    period: Period | None,
    rho: float | None,
    annual_rho: float | None,
    note: str | None,
    by: str,
    home: Home,
) -> None:
    """Set one NGO's (--ngo) or the default (--default) budget for a period (--period P --rho R),
    or rolling-year cap (--annual-rho R)."""
    from pipelines.hub.ledger import BudgetError, set_budget
    from pipelines.hub.rolling_year import set_annual_cap
    from pipelines.hub.vault.budgets import DEFAULT
    from pipelines.privacy.mechanisms import epsilon_at

    if bool(ngo_id) == default:
        raise click.UsageError("give exactly one of --ngo ID or --default")
    if (rho is None) == (annual_rho is None):
        raise click.UsageError("give exactly one of --rho R (with --period) or --annual-rho R")
    if rho is not None and period is None:
        raise click.UsageError("a --rho budget is for one period: give --period, like 2026-Q3")
    if annual_rho is not None and period is not None:
        raise click.UsageError(
            "an annual cap holds for any four consecutive quarters: give it without --period"
        )
    if ngo_id:
        _require_registered(home, ngo_id)
    plan = _plan()
    target = DEFAULT if default else str(ngo_id)
    with open_hub_vault(home).connect() as con:
        try:
            if annual_rho is not None:
                set_annual_cap(con, plan, ngo_id=target, rho=annual_rho, by=by, note=note)
            else:
                assert rho is not None
                set_budget(con, plan, period=str(period), ngo_id=target, rho=rho, by=by, note=note)
        except BudgetError as exc:
            raise HubFailure(str(exc)) from None
    value = annual_rho if annual_rho is not None else rho
    assert value is not None
    as_epsilon = f"(epsilon {epsilon_at(value, plan.delta):.2f} at delta {_plain(plan.delta)})"
    if annual_rho is not None:
        who = "every NGO without its own cap" if default else ngo_id
        console.print(
            f"Rolling-year cap for {who}: rho {value:g} {as_epsilon} over any four consecutive "
            "quarters."
        )
        return
    who = "every NGO without its own budget" if default else ngo_id
    console.print(f"Budget for {who} in {period}: rho {value:g} {as_epsilon}.")


@budget.command("show")
@period_option(required=False, help_text="Only this period.")
@ngo_option(required=False, help_text="Only this NGO.")
@home_option
def budget_show(period: Period | None, ngo_id: str | None, home: Home) -> None:
    """Budget set, spent and left per NGO and period, and in the rolling year (rho, and epsilon at
    the plan's delta)."""
    from pipelines.hub.ledger import balances
    from pipelines.hub.rolling_year import year_balances
    from pipelines.hub.vault import budgets, releases, submissions
    from pipelines.hub.vault.statuses import HELD, SubmissionStatus
    from pipelines.privacy.mechanisms import epsilon_at

    plan = _plan()
    with open_hub_vault(home).connect() as con:
        pairs = sorted(
            set(submissions.ngo_periods(con, (*HELD, SubmissionStatus.PURGED)))
            | set(releases.spend_pairs(con))
            | set(budgets.set_pairs(con))
        )
        rows = []
        for per in sorted({p for p, _ in pairs}):
            if period and per != str(period):
                continue
            ngos = [n for p, n in pairs if p == per and (not ngo_id or n == ngo_id)]
            years = {y.ngo_id: y for y in year_balances(con, plan, per, ngos)}
            rows += [(b, years[b.ngo_id]) for b in balances(con, plan, per, ngos)]
    if not rows:
        console.print("No budgets yet: nothing has been submitted or set.")
        return
    table = Table(
        title=f"Privacy budgets (rho; epsilon at delta {_plain(plan.delta)}): each quarter's, and the "
        "rolling year's (the busiest four consecutive quarters that include it)",
        title_justify="left",
    )
    for col in ("Period", "NGO", "Budget", "Spent", "Left", "Budget as epsilon", *_YEAR_COLUMNS):
        table.add_column(col, justify="left" if col in ("Period", "NGO", "Year") else "right")
    for b, year in rows:
        table.add_row(
            b.period,
            b.ngo_id,
            f"{b.budget:.4g}",
            f"{b.spent:.4g}",
            f"{b.left:.4g}",
            f"{epsilon_at(b.budget, plan.delta):.2f}",
            *_year_cells(year, plan.delta),
        )
    console.print(table)


_YEAR_COLUMNS = ("Year", "Year cap", "Year spent", "Year left", "Cap as epsilon")


def _year_cells(year: Any, delta: float) -> tuple[str, ...]:
    """The rolling-year columns of a budget row (see pipelines.hub.rolling_year)."""
    from pipelines.privacy.mechanisms import epsilon_at

    return (
        year.window,
        f"{year.cap:.4g}",
        f"{year.spent:.4g}",
        f"{year.left:.4g}",
        f"{epsilon_at(year.cap, delta):.2f}",
    )


@budget.command("plan")
@click.option(
    "--rho",
    type=float,
    default=None,
    help="Proposed per-NGO budget a quarter: what it buys, measure by measure.",
)
@click.option(
    "--target",
    "targets",
    multiple=True,
    metavar="UNIT=VALUE",
    help="Ask the reverse: the budget at which every measure read in UNIT has a 95% ± of at "
    "most VALUE. UNIT is clients, sessions, share (in percentage points), score (score "
    "points) or rate (sessions per client). Repeatable, one per unit.",
)
@click.option(
    "--sizes",
    default=None,
    metavar="N,N,…",
    help="NGO sizes (clients a quarter) to judge per-NGO cells at. Default: the quartiles and "
    "90th percentile of the last published release's clients served, else 50,200,1000.",
)
@click.option(
    "--cell-size",
    type=float,
    default=100.0,
    show_default=True,
    help="With --target: shares and means are for cells of this many clients.",
)
@click.option(
    "--sector",
    type=click.IntRange(min=1),
    default=None,
    help="With --rho: clients the whole sector serves a quarter. Default: the last published "
    "release's clients served, else 4000.",
)
@click.option("--measure", "measures", multiple=True, help="Only these measures (plan ids).")
@home_option
def budget_plan(
    *,
    rho: float | None,
    targets: tuple[str, ...],
    sizes: str | None,
    cell_size: float,
    sector: int | None,
    measures: tuple[str, ...],
    home: Home,
) -> None:
    """Preview accuracy before spending anything. With --rho: each measure's expected 95% ±
    in its own unit, and how many of each NGO's cells would be ok, low or withheld for NGOs of
    typical sizes. With --target: the budget each measure needs. Reads no data and spends
    nothing."""
    from pipelines.hub.ledger import BudgetError, check_rho
    from pipelines.privacy.planner import DEFAULT_SIZES, Typical, typical_from_published

    plan = _plan()
    if (rho is None) == (not targets):
        raise click.UsageError("give exactly one of --rho R or --target UNIT=VALUE (repeatable)")
    if not (math.isfinite(cell_size) and cell_size >= 1):
        raise click.BadParameter(f"--cell-size must be at least 1, got {cell_size}")
    known = {m.id for m in plan.measures} | {d.id for d in plan.derived}
    unknown = set(measures) - known
    if unknown:
        raise click.BadParameter(
            f"unknown measure(s) {sorted(unknown)}; the plan's ids are in "
            "contracts/release_plan.v1.yaml",
            param_hint="--measure",
        )
    if targets:
        _print_targets(plan, _parse_targets(targets), cell_size, set(measures))
        _print_year(plan, None)
        return
    assert rho is not None
    try:
        check_rho(rho, plan)
    except BudgetError as exc:
        raise click.BadParameter(str(exc), param_hint="--rho") from None
    found = typical_from_published(home.published_db) if home.published_db.exists() else None
    typical = found[1] if found else Typical()
    if sector is not None:
        typical = dataclasses.replace(typical, sector=sector)
    chosen = _parse_sizes(sizes) if sizes else (found[0] if found else DEFAULT_SIZES)
    print_plan(plan, rho, sizes=chosen, typical=typical, cell_size=cell_size, only=set(measures))
    _print_year(plan, rho)


def _parse_sizes(text: str) -> tuple[int, ...]:
    try:
        sizes = tuple(sorted({int(part) for part in text.split(",") if part.strip()}))
    except ValueError:
        sizes = ()
    if not sizes or sizes[0] < 1 or len(sizes) > 6:
        raise click.BadParameter(
            f"give one to six whole numbers of clients, like 50,200,1000; got {text!r}",
            param_hint="--sizes",
        )
    return sizes


def _parse_targets(texts: tuple[str, ...]) -> dict[str, float]:
    from pipelines.privacy.planner import UNIT_KEYS

    out: dict[str, float] = {}
    for text in texts:
        unit, _, value = text.partition("=")
        unit = unit.strip().lower()
        try:
            number = float(value.strip().removesuffix("pp"))
        except ValueError:
            number = math.nan
        if unit not in UNIT_KEYS or not (math.isfinite(number) and number > 0) or unit in out:
            raise click.BadParameter(
                f"{text!r}: write UNIT=VALUE, once per unit, with UNIT one of "
                f"{', '.join(UNIT_KEYS)} and VALUE a positive number (share=5 means "
                "± 5 percentage points)",
                param_hint="--target",
            )
        out[unit] = number
    return out


def _breakdown(dims: tuple[str, ...]) -> str:
    return ", ".join(d.replace("_", " ") for d in dims) if dims else "total"


def print_plan(
    plan: Any,
    rho: float,
    *,
    sizes: tuple[int, ...],
    typical: Any,
    cell_size: float,
    only: set[str],
) -> None:
    """The steward's reading of a budget: each NGO's figures by NGO size, then the sector's."""
    from pipelines.privacy.mechanisms import epsilon_at
    from pipelines.privacy.plan import QUESTIONS
    from pipelines.privacy.planner import steward_plan

    rows = [
        r
        for r in steward_plan(plan, rho, sizes, typical, cell_size)
        if not only or r.measure in only
    ]
    console.print(
        f"[bold]What rho {rho:g} per NGO a quarter buys[/bold] (epsilon "
        f"{epsilon_at(rho, plan.delta):.2f} at delta {_plain(plan.delta)}). Nothing is spent; no "
        "data is read."
    )
    ngo_rows = [r for r in rows if r.scope == "ngo"]
    if ngo_rows:
        table = Table(
            title="Each NGO's own figures: expected 95% ± and how its cells would be flagged, "
            "for NGOs of these sizes",
            title_justify="left",
        )
        table.add_column("Measure")
        table.add_column("By")
        table.add_column("Cells", justify="right")
        for size in sizes:
            table.add_column(f"NGO of {size:,} clients")
        table.add_column("Plan id", style="dim")
        for question, heading in QUESTIONS.items():
            group = [r for r in ngo_rows if r.question == question]
            if group:
                table.add_row(f"[bold]{heading}", *[""] * (len(sizes) + 3))
            for r in group:
                cells = []
                for (_size, flag), hw in zip(r.verdicts, r.halfwidths, strict=True):
                    what = flag if r.cells == 1 else f"{r.cells} {flag}"
                    cells.append(f"{r.unit.plus_minus(hw)} · {what}")
                table.add_row(r.title, _breakdown(r.breakdown), str(r.cells), *cells, r.measure)
        console.print(table)
    pooled = [r for r in rows if r.scope == "pooled"]
    if pooled:
        table = Table(
            title=f"The sector's figures (all NGOs together, {typical.sector:,} clients a "
            "quarter): expected 95% ± of one cell and how a typical cell would be flagged",
            title_justify="left",
        )
        for col in ("Measure", "By", "Cells", "95% ± · flag", "Plan id"):
            table.add_column(
                col,
                justify="right" if col == "Cells" else "left",
                style="dim" if col == "Plan id" else None,
            )
        for question, heading in QUESTIONS.items():
            group = sorted(
                (r for r in pooled if r.question == question), key=lambda r: not r.headline
            )
            if group:
                table.add_row(f"[bold]{heading}", "", "", "", "")
            for r in group:
                star = "★ " if r.headline else ""
                (_sector, flag), hw = r.verdicts[0], r.halfwidths[0]
                table.add_row(
                    f"{star}{r.title}",
                    _breakdown(r.breakdown),
                    str(r.cells),
                    f"{r.unit.plus_minus(hw)} · {flag}",
                    r.measure,
                )
        console.print(table)
    console.print(
        "★ a headline figure. Shares are in percentage points; mean changes in score points. "
        "ok: shown as is; low: shown, marked as uncertain; withheld: too "
        "noisy to be useful, not shown. Per-NGO cells assume clients spread evenly over the "
        f"breakdown, an NGO running {typical.programmes} programmes in {typical.regions} "
        f"regions, and a mix ({typical.sessions_per_client:.1f} sessions per client, "
        f"{typical.share_paired:.0%} assessed twice, {typical.share_satisfied:.0%} satisfied, "
        f"{typical.share_improved:.0%} improved) taken from {typical.source}."
    )


def _print_targets(plan: Any, targets: dict[str, float], cell_size: float, only: set[str]) -> None:
    from pipelines.privacy.planner import budget_for_targets, unit_of

    frame = budget_for_targets(plan, targets, cell_size)
    if only:
        frame = frame[frame["measure"].isin(only)]
    table = Table(
        title="Per-NGO budget a quarter each measure needs for the 95% ± asked "
        f"(shares and means: cells of {cell_size:,.0f} clients). Nothing is spent.",
        title_justify="left",
    )
    for col in ("Measure", "Scope", "Target", "rho needed", "epsilon", "Plan id"):
        table.add_column(col, style="dim" if col == "Plan id" else None)
    titles = {m.id: m.title for m in plan.measures} | {d.id: d.title for d in plan.derived}
    for r in frame.itertuples():
        unit = unit_of(plan, r.measure)
        needed = "beyond reach" if not math.isfinite(r.rho_needed) else _up(r.rho_needed)
        eps = "" if not math.isfinite(r.epsilon_needed) else f"{r.epsilon_needed:.2f}"
        flag = "" if r.within_max_rho else " (above the plan's max_rho)"
        table.add_row(
            f"{titles[r.measure]} ({_breakdown(plan.dimensions_of(r.measure))})",
            "each NGO" if r.scope == "ngo" else "all NGOs",
            f"± {r.target:g} {unit.name}",
            needed + flag,
            eps,
            r.measure,
        )
    console.print(table)


def _print_year(plan: Any, rho: float | None) -> None:
    """What a quarter's budget means over a year: a client served all year is in four releases,
    and any four consecutive quarters together may spend at most the rolling-year cap."""
    from pipelines.privacy.mechanisms import epsilon_at

    cap = plan.annual_rho
    console.print(
        f"Over a year: any four consecutive quarters may spend at most rho {cap:g} per NGO "
        f"(epsilon {epsilon_at(cap, plan.delta):.2f} at delta {_plain(plan.delta)}), the plan's "
        "rolling-year cap (stewards may set another per NGO); a client served all year is in "
        "four releases, so that is their guarantee."
    )
    if rho is not None:
        year = 4 * rho
        fits = math.floor(cap / rho * (1 + 1e-9))
        console.print(
            f"At rho {rho:g} a quarter, four quarters spend rho {year:g} (epsilon "
            f"{epsilon_at(year, plan.delta):.2f}); "
            + (
                "they fit within the cap."
                if fits >= 4
                else f"only {fits} such quarter(s) fit within the cap, so a later one would be refused."
            )
        )


def _up(rho: float, digits: int = 3) -> str:
    """``rho`` to ``digits`` significant figures, rounded up: a budget shown as enough is enough."""
    step = 10.0 ** (math.floor(math.log10(rho)) - digits + 1)
    steps = rho / step
    # A value already on a step (0.0001 is 100 steps, give or take a last bit) stays itself.
    whole = round(steps) if math.isclose(steps, round(steps), rel_tol=1e-9) else math.ceil(steps)
    return f"{whole * step:.{digits}g}"


def releasable_periods(home: Home) -> list[str]:
    """Periods the release schedule would release today (see pipelines.hub.release)."""
    from pipelines.hub.release import releasable_periods as due

    with open_hub_vault(home).connect() as con:
        return due(con, _plan(), date.today())


def _warn_late(home: Home, periods: list[str]) -> None:
    from pipelines.hub.release import late_submissions

    with open_hub_vault(home).connect() as con:
        late = {p: late_submissions(con, p) for p in periods}
    for period, count in late.items():
        if count:
            console.print(
                f"[yellow]{count} submission(s) for {period} were accepted after its release and are not "
                f"in it.[/] To include them: raise budgets, then `outcomes release --period {period} "
                "--supersede`."
            )


def print_headlines(home: Home, period: str, run: Any) -> None:
    """The released headline numbers with their intervals, and what this run spent: the budget
    a new release or an addendum charged, or that a stored release spent nothing now."""
    from pipelines.privacy.plan import QUESTIONS
    from pipelines.published.store import read_table

    cells = read_table(
        home.published_db, "cells", "is_current AND period = ? AND ngo_id IS NULL", [period]
    )
    table = Table(
        title=f"Released headline numbers, {period} (95% intervals)", title_justify="left"
    )
    for col in ("Question", "Measure", "Value", "95% interval", "Reliability"):
        table.add_column(col, justify="right" if col in ("Value", "95% interval") else "left")
    for question, ids in _plan().headlines.items():
        for measure in ids:
            row = cells[
                (cells["measure"] == measure)
                & cells[["programme", "region", "domain"]].isna().all(axis=1)
            ]
            if row.empty:
                continue
            r = row.iloc[0]
            share = r["kind"] == "ratio" and "share" in measure
            pattern = "{:.1%}" if share else "{:,.1f}" if r["kind"] == "ratio" else "{:,.0f}"
            fmt = pattern.format
            value = "withheld" if r["reliability"] == "withheld" else fmt(r["value"])
            interval = (
                ""
                if r["reliability"] == "withheld"
                else f"{fmt(r['ci95_low'])} – {fmt(r['ci95_high'])}"
            )
            table.add_row(QUESTIONS[question], r["title"], value, interval, r["reliability"])
    console.print(table)
    if not run.spent:
        console.print(
            f"{period} was already released as {run.release_id}: this run spent nothing and "
            "published the stored release again."
        )
        return
    spends = read_table(home.published_db, "spends", "release_id = ?", [run.release_id])
    budgets = read_table(home.published_db, "budgets", "period = ?", [period])
    if not spends.empty:
        per_ngo = spends.groupby("ngo_id")["rho"].sum()
        what = "Budget spent" if run.status == "new" else "Budget spent so far by this release"
        console.print(
            f"{what} ({run.release_id}): {len(per_ngo)} NGOs charged rho {per_ngo.min():.4g} to "
            f"{per_ngo.max():.4g} each (of budgets {budgets['budget_rho'].min():.4g} to "
            f"{budgets['budget_rho'].max():.4g}; epsilon at most "
            f"{budgets['spent_epsilon'].max():.2f} at delta {budgets['delta'].iloc[0]:g})."
        )


@click.command()
@period_option(
    required=False, help_text="Release this period (default: every period whose window has closed)."
)
@click.option(
    "--supersede",
    is_flag=True,
    help="Release again with the current plan and submissions; spends budget again.",
)
@click.option(
    "--proposal",
    "proposal_id",
    default=None,
    help="Approve this proposal (e.g. one the schedule made, 2026-Q3-p1); refused if what it "
    "would read or spend has changed since.",
)
@click.option("--yes", is_flag=True, help="Approve without asking (for scripts).")
@_by_option
@home_option
def release(
    *,
    period: Period | None,
    supersede: bool,
    proposal_id: str | None,
    yes: bool,
    by: str,
    home: Home,
) -> None:
    """Show each proposed release, record the steward's approval, and release it with differential
    privacy through the same Dagster job the schedule's proposals wait for.

    Nothing spends budget without a recorded approval: the proposal says which submissions the
    release would use, what it would spend per NGO in the quarter and the rolling year, its
    expected accuracy and what is missing, then asks (--yes approves; --by names who). A
    release is computed once: running again returns the stored release and spends nothing.
    Exit 0 when released, not approved or nothing to release; 1 when refused.
    """
    from pipelines.hub.vault import submissions

    if proposal_id is not None:
        periods = [proposal_id.rpartition("-p")[0]]
        if period is not None and str(period) != periods[0]:
            raise click.UsageError(f"proposal {proposal_id} is not a proposal of {period}")
    elif period is None:
        periods = releasable_periods(home)
        if not periods:
            console.print(
                "Nothing to release: no period with accepted submissions has a closed "
                "submission window and no release."
            )
            return
    else:
        with open_hub_vault(home).connect() as con:
            accepted = submissions.count_current(con, str(period))
        if not accepted:
            console.print(f"Nothing to release for {period}: it has no accepted submissions.")
            return
        periods = [str(period)]
    released = []
    for p in periods:
        if not show_and_approve(
            home, p, supersede=supersede, proposal_id=proposal_id, yes=yes, by=by
        ):
            continue
        run = _run_release(home, p, supersede=supersede, by=by)
        print_headlines(home, p, run)
        released.append(p)
    if released:
        _warn_late(home, released)
        console.print(f"Published zone: {home.published_db}; exports in {home.exports}")


def show_and_approve(
    home: Home,
    period: str,
    *,
    supersede: bool,
    proposal_id: str | None,
    yes: bool,
    by: str,
    accuracy: bool = True,
) -> bool:
    """Show the period's proposal and record the steward's approval of it. True when the
    release job may run: approved, or nothing to compute (the stored release is published).
    ``accuracy=False`` leaves the proposal's accuracy table out (the demo shows it once)."""
    from pipelines.hub.release import (
        Proposal,
        ReleaseError,
        approve,
        correction_refusal,
        propose,
    )
    from pipelines.hub.vault import proposals

    plan = _plan()
    with open_hub_vault(home).connect() as con:
        try:
            if proposal_id is not None:
                stored = proposals.get(con, proposal_id)
                if stored is None:
                    raise HubFailure(f"There is no proposal {proposal_id}.")
                made: Any = Proposal.from_stored(stored)
            else:
                made = propose(con, plan, period, by=by, supersede=supersede)
                if not isinstance(made, Proposal) and not supersede:
                    correction = correction_refusal(con, plan, period)
                    if correction is not None:
                        raise correction
        except ReleaseError as exc:
            raise HubFailure(str(exc)) from None
    if not isinstance(made, Proposal):
        return True
    print_proposal(made, plan, accuracy=accuracy)
    question = f"Approve {made.proposal_id} and release {period}, spending what it asks?"
    if not yes and not click.confirm(question, default=False):
        console.print(f"Not approved: {made.proposal_id} waits for a steward; nothing was spent.")
        return False
    with open_hub_vault(home).connect() as con:
        try:
            approve(con, plan, made.proposal_id, by=by)
        except ReleaseError as exc:
            raise HubFailure(str(exc)) from None
    console.print(
        f"Approved by {by}: {made.proposal_id} (digest {made.digest[:16]}), recorded in the "
        "audit log."
    )
    return True


def _run_release(home: Home, period: str, *, supersede: bool, by: str) -> Any:
    from pipelines.assets.runs import run_release
    from pipelines.hub.release import ReleaseError

    with console.status(f"releasing {period}"):
        try:
            return run_release(home, period, supersede=supersede, requested_by=by)
        except ReleaseError as exc:
            raise HubFailure(str(exc)) from None
        except Exception as exc:  # a fault, not a refusal
            raise HubFailure(
                f"The release job for {period} stopped: {type(exc).__name__}: {exc}. A release "
                "and its spends are committed together or not at all; `outcomes budget show` "
                "says what was spent. The run's full log is in the Dagster UI (outcomes ui)."
            ) from None


_GOVERNANCE_HELP = {
    "approve": (
        "Record the Māori data governance group's approval of releasing a dimension value.\n\n"
        "Until it is recorded, cells broken down by that value (for example ethnicity = maori) "
        "are withheld and spend nothing; the next release of the period computes them."
    ),
    "withdraw": (
        "Record the Māori data governance group's withdrawal of an approval.\n\n"
        "Cells broken down by that value are withheld again from the next publication on; "
        "what was already published stays in the exports people hold."
    ),
}


def _governance_command(action: str) -> Any:
    # The help is given to click here: a docstring set after decoration is never read.
    @click.command(action, help=_GOVERNANCE_HELP[action])
    @click.option("--dimension", required=True, help="The Māori-data dimension, e.g. ethnicity.")
    @click.option("--value", required=True, help="The value, e.g. maori.")
    @period_option()
    @click.option("--by", "by", required=True, help="Who records the governance group's decision.")
    @click.option("--note", required=True, help="What was decided, and where it is minuted.")
    @home_option
    def command(
        *, dimension: str, value: str, period: Period, by: str, note: str, home: Home
    ) -> None:
        from pipelines.hub.ledger import decide

        with open_hub_vault(home).connect() as con:
            try:
                decide(
                    con,
                    _plan(),
                    action=action,
                    dimension=dimension,
                    value=value,
                    period=str(period),
                    by=by,
                    note=note,
                )
            except ValueError as exc:
                raise HubFailure(str(exc)) from None
        if action == "approve":
            console.print(
                f"Approval recorded: {dimension}={value} may be released for {period}. "
                f"Run `outcomes release --period {period}` to compute those cells."
            )
        else:
            console.print(
                f"Approval withdrawn: {dimension}={value} cells for {period} are withheld "
                "from the next publication on."
            )

    return command


approve = _governance_command("approve")
withdraw = _governance_command("withdraw")


@click.command()
@click.option(
    "--older-than",
    "days",
    type=click.IntRange(min=0),
    required=True,
    help="Purge periods that ended more than this many days ago (and are released).",
)
@click.option(
    "--dry-run", is_flag=True, help="Say which periods and how many rows would go; delete nothing."
)
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@_by_option
@home_option
def purge(days: int, dry_run: bool, yes: bool, by: str, home: Home) -> None:
    """Delete the vault's individual-level rows of released periods; published releases stay, and
    so do the ledger and the audit log (budgets, caps, spends, releases, approvals)."""
    from pipelines.hub.retention import purge as run_purge
    from pipelines.hub.retention import purgeable

    with open_hub_vault(home).connect() as con:
        due = purgeable(home, con, older_than_days=days)
    if not due:
        console.print(
            f"Nothing to purge: no released period that ended over {days} days ago holds rows."
        )
        return
    for p in due:
        console.print(
            f"{'Would purge' if dry_run else 'To purge'} {p.period}: {p.rows:,} rows of "
            f"{p.submissions} submission(s), {p.quarantined_files} quarantined file(s)."
        )
    if dry_run:
        console.print(
            "Dry run: nothing was deleted. The ledger, the audit log and the published "
            "releases would stay as they are."
        )
        return
    if not yes:
        click.confirm(f"Delete the vault rows of these {len(due)} period(s)?", abort=True)
    with open_hub_vault(home).connect() as con:
        done = run_purge(home, con, older_than_days=days, actor=by)
    if not done:
        console.print("Nothing to purge.")
    for p in done:
        console.print(
            f"Purged {p.period}: {p.rows:,} rows of {p.submissions} submission(s), "
            f"{p.quarantined_files} quarantined file(s). Its releases stay published."
        )


@click.command("export")
@click.option("--format", "fmt", type=click.Choice(["csv", "parquet"]), required=True)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True)
@period_option(required=False, help_text="Only this period.")
@home_option
def export(fmt: str, out: Path, period: Period | None, home: Home) -> None:
    """Write the published cells (the current release of each period) as one tidy table."""
    from pipelines.published.export import export_cells
    from pipelines.published.store import NotPublished

    try:
        path = export_cells(home.published_db, fmt, out, str(period) if period else None)
    except NotPublished as exc:
        raise HubFailure(str(exc)) from None
    console.print(f"Wrote {path}")


COMMANDS = (budget, release, approve, withdraw, purge, export)


def _plain(number: float) -> str:
    """A small number as a steward reads it: 1e-07 is 0.0000001."""
    return f"{number:.12f}".rstrip("0").rstrip(".") if number < 1e-3 else f"{number:g}"
