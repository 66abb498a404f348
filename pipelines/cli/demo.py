"""``outcomes demo`` (what ``make demo`` runs): the whole path on a built-in sample sector."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path
from typing import Any

import click
from rich.table import Table

from pipelines.cli.hub import print_submissions, submission_rows
from pipelines.cli.ngo import bar
from pipelines.cli.options import HubFailure, console, home_option
from pipelines.home import Home
from pipelines.standard.periods import Period

MARKER = ".outcomes-demo"
DEMO_NGOS = 20
DEMO_SEED = 7


def _fresh_home(home: Home) -> None:
    """Start from an empty demo home; refuse to wipe a folder the demo did not make."""
    if home.root.exists() and any(home.root.iterdir()):
        if not (home.root / MARKER).exists():
            raise HubFailure(
                f"{home.root} holds a hub that the demo did not create; "
                "give the demo an empty folder with --home"
            )
        shutil.rmtree(home.root)
    home.root.mkdir(parents=True, exist_ok=True)
    (home.root / MARKER).write_text(
        "made by `outcomes demo`; the demo wipes this folder when it runs\n"
    )


def _step(text: str) -> None:
    console.rule(f"[bold]{text}", align="left")


def _generate(home: Home, quarter: Period, folder: str, faulty: int) -> Any:
    from pipelines.sample.generate import generate_sector

    with bar() as progress:
        task = progress.add_task(f"generating {folder}", total=DEMO_NGOS)
        return generate_sector(
            home.root / folder,
            ngos=DEMO_NGOS,
            period=quarter,
            seed=DEMO_SEED,
            messy=True,
            messy_share=1 / DEMO_NGOS,
            faulty=faulty,
            progress=lambda d, t: progress.update(task, completed=d, total=t),
        )


def _submit(home: Home, quarter: Period, ngo: Any) -> list[Any]:
    from pipelines.ngo.submit import submit

    return [
        submit(
            path, home=home, ngo_id=ngo.ngo_id, period=quarter, dataset=dataset, today=date.today()
        )
        for dataset, path in (
            ("episodes", ngo.episodes_path),
            ("assessments", ngo.assessments_path),
        )
    ]


def _submit_all(home: Home, quarter: Period, sector: Any) -> None:
    table = Table(title_justify="left")
    for col in ("NGO", "Episodes", "Assessments", "Notes"):
        table.add_column(col, overflow="fold")
    refused: list[Path] = []
    with bar() as progress:
        task = progress.add_task("submitting", total=len(sector.ngos))
        for ngo in sector.ngos:
            outcomes = _submit(home, quarter, ngo)
            cells = [
                "[green]accepted[/]" if o.status == "accepted" else "[red]refused[/]"
                for o in outcomes
            ]
            refused += [
                o.report_dir / "report.html"
                for o in outcomes
                if o.status == "refused" and o.report_dir
            ]
            notes = [
                n
                for n, on in (
                    ("messy export", ngo.messy),
                    (ngo.file_format, ngo.file_format != "csv"),
                    ("breaks contract rules", ngo.faulty),
                )
                if on
            ]
            table.add_row(ngo.ngo_id, *cells, ", ".join(notes))
            progress.advance(task)
    console.print(table)
    console.print(
        f"$ outcomes submit FILE --ngo ID --period {quarter} --dataset episodes|assessments"
    )
    for report in refused:
        console.print(f"  refused, with a report for the NGO: {report}")


def _take_in(home: Home) -> None:
    from pipelines.assets.runs import run_intake
    from pipelines.hub.inbox import pending_ids

    pending = pending_ids(home)
    with bar() as progress:
        task = progress.add_task("intake", total=len(pending))
        runs = run_intake(home, lambda d, t: progress.update(task, completed=d, total=t))
    console.print(f"$ outcomes intake --home {home.root}")
    print_submissions(home, submission_rows(home, ids=pending))
    if not all(r.success for r in runs):
        raise HubFailure("an intake run failed; open the Dagster UI with `make ui` to see why")


def _release(home: Home, quarter: Period) -> None:
    from pipelines.assets.runs import run_release
    from pipelines.cli.steward import print_headlines
    from pipelines.hub.release import ReleaseError, propose_and_approve
    from pipelines.hub.vault import open_vault
    from pipelines.privacy.plan import load_plan
    from pipelines.privacy.planner import accuracy_table

    plan = load_plan()
    preview = accuracy_table(plan, plan.default_rho)
    shown = preview[
        preview["measure"].isin(["clients_total", "ngo_clients_total", "share_paired_overall"])
    ]
    console.print(f"$ outcomes budget plan --rho {plan.default_rho:g}   (nothing is spent)")
    for row in shown.itertuples():
        console.print(
            f"  {row.measure:24s} {row.scope:7s} expected 95% ± {row.halfwidth_95:.3g} {row.unit}"
        )
    with console.status(f"releasing {quarter}"):
        try:
            with open_vault(home).connect() as con:  # the steward approves what is proposed
                propose_and_approve(con, plan, str(quarter), by="outcomes demo")
            run = run_release(home, str(quarter), requested_by="outcomes demo")
        except ReleaseError as exc:
            raise HubFailure(str(exc)) from None
    console.print(f"$ outcomes release --period {quarter} --yes --home {home.root}")
    print_headlines(home, str(quarter), run)
    console.print(
        "Cells broken down by ethnicity = maori are withheld until the Māori data governance group "
        f"approves: outcomes approve --dimension ethnicity --value maori --period {quarter} "
        "--by NAME --note TEXT"
    )


def _site(home: Home) -> Path:
    from dashboards import SiteError, build_site

    try:
        report = build_site(home.published_db, home.site)
    except SiteError as exc:
        raise HubFailure(str(exc)) from None
    console.print(f"$ outcomes site --home {home.root}")
    console.print(
        f"Built {len(report.pages):,} pages and {report.downloads:,} CSV downloads in "
        f"{report.seconds:.1f} s; no page needs the network."
    )
    return report.index


@click.command()
@click.option(
    "--period", default="2026-Q3", show_default=True, help="The quarter the sample sector reports."
)
@home_option
def demo(period: str, home: Home) -> None:
    """Run the hub end to end on a built-in sample sector of 20 NGOs.

    Generates the sector (one NGO's exports are messy, one NGO's episodes break
    contract rules), submits every extract on the NGO side, takes the inbox
    through the Dagster intake job, shows what was accepted and refused, then
    releases the quarter with differential privacy and prints the headline
    numbers with their 95% intervals and the budget spent. Ends by building the
    funder site and printing the path of its report card.
    """
    quarter = Period.parse(period)
    _fresh_home(home)

    _step(f"1. Generate a sample sector: {DEMO_NGOS} NGOs, {quarter}")
    sector = _generate(home, quarter, "extracts", faulty=1)
    console.print(
        f"$ outcomes generate --ngos {DEMO_NGOS} --period {quarter} --seed {DEMO_SEED} "
        f"--out {home.root / 'extracts'} --messy --messy-share {1 / DEMO_NGOS:g} --faulty 1"
    )

    _step("2. Each NGO validates and submits its extracts (NGO side)")
    _submit_all(home, quarter, sector)

    faulty = [n for n in sector.ngos if n.faulty]
    if faulty:
        _step("3. The NGO whose extract broke rules fixes it and submits again")
        fixed = {n.ngo_id: n for n in _generate(home, quarter, "extracts-corrected", faulty=0).ngos}
        for ngo in faulty:
            for outcome in _submit(home, quarter, fixed[ngo.ngo_id]):
                console.print(f"{ngo.ngo_id}: {outcome.message}")

    _step("4. The hub takes in the inbox through Dagster (re-validation, vault, checks)")
    _take_in(home)

    _step("5. The steward previews accuracy, then releases the quarter with differential privacy")
    _release(home, quarter)

    _step("6. The funder site is built from the published zone only")
    site_index = _site(home)

    _step("Where things are")
    console.print(f"NGO reports:              {home.root / 'ngos' / '<ngo>' / 'reports'}")
    console.print(f"Hub quarantine + reports: {home.quarantine}")
    console.print(f"Encrypted vault:          {home.vault_file}")
    console.print(f"Published zone:           {home.published_db}")
    console.print(f"Exports (CSV, Parquet):   {home.exports}")
    console.print(f"Dagster UI:               make ui   (or: outcomes ui --home {home.root})")
    console.print(f"Report card (open it):    {site_index}")
