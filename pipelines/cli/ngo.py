"""NGO-side commands: ``outcomes generate`` (sample data) and ``outcomes submit``.

The NGO works in a folder of its own (``--ngo-home``), on its own computer, and
reaches the hub only through the hub's API (``--hub URL``) with its token.
Exit codes: 0 accepted and delivered, 1 refused (here or by the hub), 2 usage
error, 3 validated here but not yet delivered (it waits in the outbox).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import click
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from pipelines.cli.options import (
    EXIT_NOT_DELIVERED,
    EXIT_REFUSED,
    HubFailure,
    console,
    ngo_option,
    period_option,
)
from pipelines.cli.remote import Hub, delivery_line, hub_options, ngo_home_option, open_hub
from pipelines.standard.periods import Period, parse_range
from pipelines.validation.report import Report, rows_text


def bar() -> Progress:
    return Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    )


def _parse_periods(
    _ctx: click.Context | None, _param: click.Parameter | None, value: str | None
) -> tuple[Period, ...] | None:
    if value is None:
        return None
    try:
        return parse_range(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


@click.command()
@click.option(
    "--ngos", type=click.IntRange(min=1, max=10_000), required=True, help="How many NGOs."
)
@period_option(required=False, help_text="One quarter, like 2026-Q3 (or --periods).")
@click.option(
    "--periods",
    callback=_parse_periods,
    default=None,
    help="Consecutive quarters, FIRST..LAST like 2025-Q4..2026-Q3: the same clients come back "
    "quarter after quarter; one sub-folder per quarter.",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Same seed, same files.")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="Folder to write one sub-folder per NGO into.",
)
@click.option(
    "--messy",
    is_flag=True,
    help="Write what real exports look like: BOMs, CRLF, odd headers, "
    "extra columns, regions without macrons, some XLSX.",
)
@click.option(
    "--messy-share",
    type=click.FloatRange(0, 1),
    default=1.0,
    show_default=True,
    help="With --messy: the share of NGOs whose exports are messy.",
)
@click.option(
    "--faulty",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="How many NGOs' episodes extracts break contract rules (for demonstrations).",
)
def generate(
    *,
    ngos: int,
    period: Period | None,
    periods: tuple[Period, ...] | None,
    seed: int,
    out: Path,
    messy: bool,
    messy_share: float,
    faulty: int,
) -> None:
    """Write a realistic synthetic sector: episodes and assessments extracts per NGO.

    Many small NGOs (20–300 clients a quarter), a few large ones (5,000+),
    deterministic per seed. One quarter (--period) goes to OUT/<ngo>/; a range of
    quarters (--periods) to OUT/<period>/<ngo>/, with clients who persist: most
    continue from one quarter to the next, some leave, new ones arrive, and an
    episode open at a quarter's end appears again in the next.
    """
    from pipelines.sample.generate import generate_quarters, generate_sector

    if (period is None) == (periods is None):
        raise click.UsageError("give exactly one of --period P or --periods FIRST..LAST")
    if faulty > ngos:
        raise click.BadParameter(f"--faulty ({faulty}) cannot exceed --ngos ({ngos})")
    with bar() as progress:
        task = progress.add_task("generating NGO extracts", total=ngos)

        def report(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        try:
            if period is not None:
                sectors: tuple[Any, ...] = (
                    generate_sector(
                        out, ngos=ngos, period=period, seed=seed, messy=messy,
                        messy_share=messy_share, faulty=faulty, progress=report,
                    ),
                )  # fmt: skip
            else:
                assert periods is not None
                sectors = generate_quarters(
                    out, ngos=ngos, periods=periods, seed=seed, messy=messy,
                    messy_share=messy_share, faulty=faulty, progress=report,
                )  # fmt: skip
        except ValueError as exc:
            raise click.BadParameter(str(exc)) from None
    for sector in sectors:
        clients = sum(n.clients for n in sector.ngos)
        episodes = sum(n.episodes for n in sector.ngos)
        assessments = sum(n.assessments for n in sector.ngos)
        again = sum(n.continuing for n in sector.ngos)
        also = f" ({again:,} of them also the quarter before)" if again else ""
        console.print(
            f"Wrote {len(sector.ngos):,} NGOs for {sector.period} to {sector.out_dir}: "
            f"{clients:,} clients{also}, {episodes:,} episodes, {assessments:,} assessment rows."
        )


def print_report(report: Report, report_dir: Path | None) -> None:
    """The terminal summary of a validation report: rules, columns, rows, fixes; never values."""
    style = "green" if report.accepted else "red"
    console.print(f"[bold {style}]{report.headline}[/]")
    if report.identifiers:
        table = Table(title="Direct identifiers (never accepted)", title_justify="left")
        for col in ("Column", "Looks like", "Found by", "Rows"):
            table.add_column(col)
        for found in report.identifiers:
            where = "whole column" if found.how == "name" else rows_text(found.rows, found.count)
            how = "its name" if found.how == "name" else "its values"
            table.add_row(found.column, found.label, how, where)
        console.print(table)
    if report.failures:
        table = Table(title="Rules to fix", title_justify="left", show_lines=True)
        for col in ("Rule", "What to do", "Rows"):
            table.add_column(col, overflow="fold")
        for f in report.failures:
            table.add_row(
                f"{f.description}\n[dim]{f.rule}[/]",
                f.fix,
                rows_text(f.rows, f.count) or "whole file",
            )
        console.print(table)
    if report.dropped_columns:
        console.print(
            f"Columns left out (not in the standard): {', '.join(report.dropped_columns)}"
        )
    if report.note:
        console.print(f"[yellow]{report.note}[/]")
    if report_dir is not None:
        console.print(f"Report: {report_dir / 'report.html'} (and report.json)")


def _key_notice(key: Any) -> None:
    console.print(
        f"[bold]A new pseudonymisation key was made for this NGO:[/] {key.path}\n"
        "It turns client and episode references into pseudonyms and never leaves this computer. "
        "Back it up somewhere safe: if it is lost, next quarter's clients get new pseudonyms and "
        "the hub can no longer follow their outcomes over time. To move it to a new computer: "
        "outcomes key export / outcomes key import."
    )


def _deliver(hub: Hub, ngo_home: Any, package: Any) -> None:
    """Send the package now; exit 1 if the hub refused it, 3 if it waits in the outbox."""
    from pipelines.ngo.deliver import deliver

    with console.status(f"sending to {hub.url}"), open_hub(hub) as client:
        result = deliver(ngo_home, client, package, attempts=2, backoff_s=0.5)
    delivery_line(result)
    if result.outcome == "refused":
        raise SystemExit(EXIT_REFUSED)
    if result.outcome == "waiting":
        console.print(
            "It waits in the outbox; nothing was lost. Send it later with: outcomes outbox send "
            f"--ngo {package.ngo_id} --hub {hub.url}"
        )
        raise SystemExit(EXIT_NOT_DELIVERED)


@click.command()
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@ngo_option()
@period_option()
@click.option(
    "--dataset",
    type=click.Choice(["episodes", "assessments"]),
    required=True,
    help="Which extract this file is.",
)
@hub_options(required=False)
@ngo_home_option
def submit(
    *,
    file: Path,
    ngo_id: str,
    period: Period,
    dataset: str,
    hub: Hub | None,
    ngo_home: Any,
) -> None:
    """Validate FILE (CSV, XLSX or Parquet), pseudonymise it and send it to the hub.

    Runs on the NGO's computer: direct identifiers are refused, only contract
    columns are kept, and client and episode references are replaced by keyed
    hashes under a key that never leaves the NGO's folder. The sanitised package
    waits in the NGO's outbox until the hub's receipt arrives. Exit 0 accepted and
    delivered (or already), 1 refused, 2 usage error, 3 validated but not yet
    delivered (the hub could not be reached, or no --hub was given): send it
    later with outcomes outbox send.
    """
    from pipelines.ngo.keys import UnsafeKeyError
    from pipelines.ngo.submit import submit as run_submit

    try:
        missing = not file.exists()
    except OSError:  # a folder on the way this account may not open: submit says so, in words
        missing = False
    if missing:
        raise click.BadParameter(f"there is no file at {file}", param_hint="FILE")
    try:
        with console.status("validating") as status:
            outcome = run_submit(
                file,
                home=ngo_home,
                ngo_id=ngo_id,
                period=period,
                dataset=dataset,
                today=date.today(),
                progress=status.update,
            )
    except UnsafeKeyError as exc:  # the message says what to do; a traceback would not
        raise HubFailure(str(exc)) from None
    if outcome.key is not None and outcome.key.created:
        _key_notice(outcome.key)
    if outcome.status == "duplicate":
        console.print(outcome.message)
        if outcome.package is None:
            return
    else:
        assert outcome.report is not None
        print_report(outcome.report, outcome.report_dir)
        if outcome.status != "accepted":
            raise SystemExit(EXIT_REFUSED)
        console.print(f"Packed for the hub as submission {outcome.submission_id}.")
    if hub is None:
        console.print(
            "Not sent: no hub was given. It waits in the outbox; send it with: outcomes outbox "
            f"send --ngo {ngo_id} --hub URL"
        )
        raise SystemExit(EXIT_NOT_DELIVERED)
    _deliver(hub, ngo_home, outcome.package)


COMMANDS = (generate, submit)
