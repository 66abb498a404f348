"""Steward commands: budgets, releases, governance approvals, retention, exports."""

from __future__ import annotations

import getpass
import math
from datetime import date
from pathlib import Path
from typing import Any

import click
from rich.table import Table

from pipelines.cli.hub import open_hub_vault
from pipelines.cli.options import HubFailure, console, home_option, ngo_option, period_option
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
    help="Set the period's default for every NGO without its own.",
)
@period_option()
@click.option(
    "--rho", type=float, required=True, help="The budget in zCDP rho (shown also as epsilon)."
)
@click.option("--note", default=None, help="Why (recorded in the audit log).")
@_by_option
@home_option
def budget_set(
    *,
    ngo_id: str | None,
    default: bool,
    period: Period,
    rho: float,
    note: str | None,
    by: str,
    home: Home,
) -> None:
    """Set one NGO's budget (--ngo) or the period's default (--default) for a period."""
    from pipelines.hub.ledger import BudgetError, set_budget
    from pipelines.hub.vault.budgets import DEFAULT
    from pipelines.privacy.mechanisms import epsilon_at

    if bool(ngo_id) == default:
        raise click.UsageError("give exactly one of --ngo ID or --default")
    if ngo_id:
        _require_registered(home, ngo_id)
    plan = _plan()
    target = DEFAULT if default else str(ngo_id)
    with open_hub_vault(home).connect() as con:
        try:
            set_budget(con, plan, period=str(period), ngo_id=target, rho=rho, by=by, note=note)
        except BudgetError as exc:
            raise HubFailure(str(exc)) from None
    who = "every NGO without its own budget" if default else ngo_id
    console.print(
        f"Budget for {who} in {period}: rho {rho:g} (epsilon {epsilon_at(rho, plan.delta):.2f} "
        f"at delta {plan.delta:g})."
    )


@budget.command("show")
@period_option(required=False, help_text="Only this period.")
@ngo_option(required=False, help_text="Only this NGO.")
@home_option
def budget_show(period: Period | None, ngo_id: str | None, home: Home) -> None:
    """Budget set, spent and left per NGO and period (rho, and epsilon at the plan's delta)."""
    from pipelines.hub.ledger import balances
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
            rows += balances(con, plan, per, ngos)
    if not rows:
        console.print("No budgets yet: nothing has been submitted or set.")
        return
    table = Table(
        title=f"Privacy budgets (rho; epsilon at delta {plan.delta:g})", title_justify="left"
    )
    for col in ("Period", "NGO", "Budget", "Spent", "Left", "Budget as epsilon"):
        table.add_column(col, justify="left" if col in ("Period", "NGO") else "right")
    for b in rows:
        table.add_row(
            b.period,
            b.ngo_id,
            f"{b.budget:.4g}",
            f"{b.spent:.4g}",
            f"{b.left:.4g}",
            f"{epsilon_at(b.budget, plan.delta):.2f}",
        )
    console.print(table)


@budget.command("plan")
@click.option(
    "--rho",
    type=float,
    default=None,
    help="Proposed per-NGO budget: show each cell's expected 95% ±.",
)
@click.option(
    "--target-halfwidth",
    type=float,
    default=None,
    help="Ask the reverse: what budget gives each cell a 95% half-width of at most this?",
)
@click.option(
    "--cell-size",
    type=float,
    default=100.0,
    show_default=True,
    help="For shares and means: the number of clients the ratio is over.",
)
@click.option("--measure", "measures", multiple=True, help="Only these measures (repeatable).")
@home_option
def budget_plan(
    rho: float | None,
    target_halfwidth: float | None,
    cell_size: float,
    measures: tuple[str, ...],
    home: Home,
) -> None:
    """Preview accuracy before spending anything: per cell class, the expected 95% half-width
    for a proposed budget (--rho), or the budget for a target half-width (--target-halfwidth)."""
    from pipelines.hub.ledger import BudgetError, check_rho
    from pipelines.privacy.mechanisms import epsilon_at
    from pipelines.privacy.planner import accuracy_table, budget_for

    plan = _plan()
    if (rho is None) == (target_halfwidth is None):
        raise click.UsageError("give exactly one of --rho R or --target-halfwidth N")
    if not (math.isfinite(cell_size) and cell_size >= 1):
        raise click.BadParameter(f"--cell-size must be at least 1, got {cell_size}")
    if rho is not None:
        try:
            check_rho(rho, plan)
        except BudgetError as exc:
            raise click.BadParameter(str(exc), param_hint="--rho") from None
        frame = accuracy_table(plan, rho, cell_size)
        title = (
            f"Expected 95% half-widths at rho {rho:g} per NGO (epsilon {epsilon_at(rho, plan.delta):.2f} "
            f"at delta {plan.delta:g}); ratios for cells of {cell_size:g} clients. Nothing is spent."
        )
    else:
        assert target_halfwidth is not None
        try:
            frame = budget_for(plan, target_halfwidth, cell_size)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--target-halfwidth") from None
        title = (
            f"Per-NGO budget needed for a 95% half-width of at most {target_halfwidth:g} "
            f"(ratios: cells of {cell_size:g} clients). Nothing is spent."
        )
    if measures:
        unknown = set(measures) - set(frame["measure"])
        if unknown:
            raise click.BadParameter(
                f"unknown measure(s) {sorted(unknown)}", param_hint="--measure"
            )
        frame = frame[frame["measure"].isin(measures)]
    table = Table(title=title, title_justify="left")
    for col in ("Measure", "Scope", "Unit"):
        table.add_column(col)
    if rho is not None:
        table.add_column("95% ±", justify="right")
        for r in frame.itertuples():
            table.add_row(r.measure, r.scope, r.unit, f"{r.halfwidth_95:.3g}")
    else:
        table.add_column("rho needed", justify="right")
        table.add_column("epsilon", justify="right")
        for r in frame.itertuples():
            needed = "beyond reach" if not math.isfinite(r.rho_needed) else _up(r.rho_needed)
            eps = "" if not math.isfinite(r.epsilon_needed) else f"{r.epsilon_needed:.2f}"
            flag = "" if r.within_max_rho else " (above max_rho)"
            table.add_row(r.measure, r.scope, r.unit, needed + flag, eps)
    console.print(table)


def _up(rho: float, digits: int = 3) -> str:
    """``rho`` to ``digits`` significant figures, rounded up: a budget shown as enough is enough."""
    step = 10.0 ** (math.floor(math.log10(rho)) - digits + 1)
    return f"{math.ceil(rho / step) * step:.{digits}g}"


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


def print_headlines(home: Home, period: str) -> None:
    """The released headline numbers with their intervals, and the budget the release spent."""
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
    spends = read_table(home.published_db, "spends", "period = ?", [period])
    budgets = read_table(home.published_db, "budgets", "period = ?", [period])
    if not spends.empty:
        per_ngo = spends.groupby("ngo_id")["rho"].sum()
        console.print(
            f"Budget spent: {len(per_ngo)} NGOs charged rho {per_ngo.min():.4g} to {per_ngo.max():.4g} each "
            f"(of budgets {budgets['budget_rho'].min():.4g} to {budgets['budget_rho'].max():.4g}; "
            f"epsilon at most {budgets['spent_epsilon'].max():.2f} at delta {budgets['delta'].iloc[0]:g})."
        )


@click.command()
@period_option(
    required=False, help_text="Release this period (default: every period whose window has closed)."
)
@click.option(
    "--supersede", is_flag=True, help="Release again with the current plan; spends budget again."
)
@_by_option
@home_option
def release(period: Period | None, supersede: bool, by: str, home: Home) -> None:
    """Release periods with differential privacy, through the same Dagster job the schedule runs.

    A release is computed once: running again returns the stored release and
    spends nothing. Exit 0 when released or nothing to release, 1 when refused.
    """
    from pipelines.assets.runs import run_release
    from pipelines.hub.release import ReleaseError
    from pipelines.hub.vault import submissions

    if period is None:
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
    for p in periods:
        with console.status(f"releasing {p}"):
            try:
                run_release(home, p, supersede=supersede, requested_by=by)
            except ReleaseError as exc:
                raise HubFailure(str(exc)) from None
            except Exception as exc:  # a fault, not a refusal
                raise HubFailure(
                    f"The release job for {p} stopped: {type(exc).__name__}: {exc}. A release "
                    "and its spends are committed together or not at all; `outcomes budget show` "
                    "says what was spent. The run's full log is in the Dagster UI (outcomes ui)."
                ) from None
        print_headlines(home, p)
    _warn_late(home, periods)
    console.print(f"Published zone: {home.published_db}; exports in {home.exports}")


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
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@_by_option
@home_option
def purge(days: int, yes: bool, by: str, home: Home) -> None:
    """Delete the vault's individual-level rows of released periods; published releases stay."""
    from pipelines.hub.retention import purge as run_purge

    if not yes:
        click.confirm(
            f"Delete the vault rows of released periods that ended more than {days} days ago?",
            abort=True,
        )
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
