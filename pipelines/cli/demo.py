"""``outcomes demo`` (what ``make demo`` runs): the whole path on a built-in sample sector."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import click
from rich.table import Table

from pipelines.cli.hub import print_submissions, submission_rows
from pipelines.cli.ngo import bar
from pipelines.cli.options import HubFailure, console, creating_home_option
from pipelines.home import Home
from pipelines.ngo.folder import NgoHome
from pipelines.standard.contract import load_contract
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


NAMES = (
    "Kōwhai Trust", "Tōtara Family Services", "Rimu Whānau Support", "Kauri Trust",
    "Pōhutukawa Community Care", "Harakeke Services", "Mānuka Services", "Tūī Trust",
    "Kererū Trust", "Pīwakawaka Futures", "Kōtuku Services", "Ruru Trust",
    "Kea Services", "Kākā Trust", "Tīeke Community Trust", "Hoiho Family Trust",
    "Mataī Community Trust", "Miro Support Services", "Kahikatea Whānau Ora", "Karaka Trust",
)  # fmt: skip
"""Made-up names for the sample NGOs (the register's names are public facts)."""


@dataclass(frozen=True)
class DemoNgo:
    """A sample NGO on its own 'computer': its folder, and the token file the hub gave it."""

    ngo_id: str
    name: str
    folder: NgoHome
    token_file: Path


def _public_facts(path: Path) -> tuple[list[str], list[str]]:
    """The programmes an NGO runs and the regions it works in (those with a tenth of its
    episodes), read from its own extract: what the demo registers it for."""
    from pipelines.validation.extract import read_extract

    frame = read_extract(path).frame
    contract = load_contract("episodes")
    programmes = [
        p for p in contract.column("programme").accepted_values if p in set(frame["programme"])
    ]
    region = contract.column("region")
    shares = frame["region"].map(lambda r: region.aliases.get(r, r)).value_counts(normalize=True)
    regions = [r for r in region.accepted_values if shares.get(r, 0.0) >= 0.1]
    return programmes, regions


def _register(home: Home, sector: Any) -> list[DemoNgo]:
    from pipelines.hub.desk import register
    from pipelines.hub.desk.store import opened

    table = Table(title_justify="left")
    for col in ("NGO", "Name", "Programmes", "Regions"):
        table.add_column(col, overflow="fold")
    ngos = []
    with opened(home) as desk:
        for ngo, name in zip(sector.ngos, NAMES, strict=False):
            programmes, regions = _public_facts(ngo.episodes_path)
            token = register.register(
                desk,
                ngo_id=ngo.ngo_id,
                name=name,
                programmes=programmes,
                regions=regions,
                actor="outcomes demo",
            )
            folder = NgoHome(home.root / "ngos")
            token_file = folder.prepare(ngo.ngo_id) / "hub.token"
            fd = os.open(token_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as fh:
                fh.write(token + "\n")
            ngos.append(DemoNgo(ngo.ngo_id, name, folder, token_file))
            table.add_row(ngo.ngo_id, name, ", ".join(programmes), ", ".join(regions))
    console.print(
        f'$ outcomes ngo register --ngo ID --name "NAME" --programmes … --regions … --home {home.root}'
    )
    console.print(table)
    console.print(
        f"Each NGO's token went to a file only its account can read: "
        f"{home.root / 'ngos' / '<ngo>' / 'hub.token'}"
    )
    return ngos


def _submit(url: str, quarter: Period, ngo: DemoNgo, files: Any) -> list[Any]:
    """What `outcomes submit FILE … --hub URL --token-file F` does, for both of an NGO's files."""
    from pipelines.ngo.client import HubClient
    from pipelines.ngo.deliver import deliver
    from pipelines.ngo.submit import submit
    from pipelines.ngo.token import read_token

    results = []
    with HubClient(url, read_token(ngo.token_file)) as client:
        for dataset, path in (
            ("episodes", files.episodes_path),
            ("assessments", files.assessments_path),
        ):
            outcome = submit(
                path,
                home=ngo.folder,
                ngo_id=ngo.ngo_id,
                period=quarter,
                dataset=dataset,
                today=date.today(),
            )
            sent = deliver(ngo.folder, client, outcome.package) if outcome.package else None
            results.append((outcome, sent))
    return results


def _submit_all(url: str, quarter: Period, sector: Any, ngos: list[DemoNgo]) -> None:
    table = Table(title_justify="left")
    for col in ("NGO", "Episodes", "Assessments", "Notes"):
        table.add_column(col, overflow="fold")
    refused: list[Path] = []
    files = {n.ngo_id: n for n in sector.ngos}
    with bar() as progress:
        task = progress.add_task("submitting over HTTP", total=len(ngos))
        for ngo in ngos:
            results = _submit(url, quarter, ngo, files[ngo.ngo_id])
            cells = [_cell(outcome, sent) for outcome, sent in results]
            refused += [
                o.report_dir / "report.html"
                for o, _ in results
                if o.status == "refused" and o.report_dir
            ]
            extract = files[ngo.ngo_id]
            notes = [
                n
                for n, on in (
                    ("messy export", extract.messy),
                    (extract.file_format, extract.file_format != "csv"),
                    ("breaks contract rules", extract.faulty),
                )
                if on
            ]
            table.add_row(ngo.ngo_id, *cells, ", ".join(notes))
            progress.advance(task)
    console.print(
        f"$ outcomes submit FILE --ngo ID --period {quarter} --dataset episodes|assessments "
        f"--hub {url} --token-file ngos/ID/hub.token --ngo-home ngos"
    )
    console.print(table)
    for report in refused:
        console.print(f"  refused on the NGO's side, with a report for the NGO: {report}")


def _cell(outcome: Any, sent: Any) -> str:
    if outcome.status == "refused":
        return "[red]refused here[/]"
    if sent is None or sent.outcome != "delivered":
        return f"[yellow]waiting: {sent.message if sent else outcome.message}[/]"
    return "[green]delivered[/]"


def _take_in(home: Home, quarter: Period) -> None:
    from pipelines.assets.runs import run_intake
    from pipelines.hub.inbox import pending_ids

    pending = pending_ids(home)
    with bar() as progress:
        task = progress.add_task("intake", total=len(pending))
        runs = run_intake(home, lambda d, t: progress.update(task, completed=d, total=t))
    console.print(f"$ outcomes intake --home {home.root}")
    print_submissions(home, submission_rows(home, period=quarter))
    if not all(r.success for r in runs):
        raise HubFailure("an intake run failed; open the Dagster UI with `make ui` to see why")


def _verdict(url: str, quarter: Period, ngo: DemoNgo) -> None:
    from pipelines.cli.remote import Hub, print_remote_status
    from pipelines.ngo.token import read_token

    console.print(
        f"$ outcomes status --hub {url} --token-file ngos/{ngo.ngo_id}/hub.token   ({ngo.name})"
    )
    print_remote_status(Hub(url, read_token(ngo.token_file), None), quarter)


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


@contextlib.contextmanager
def _service(home: Home) -> Iterator[str]:
    """`outcomes serve` for the demo's hub on a free loopback port, as a process of its own;
    yields its URL once it answers, and stops it (SIGTERM) whatever happens."""
    import httpx

    log = home.hub / "service.log"
    home.hub.mkdir(parents=True, exist_ok=True)
    argv = [str(Path(sys.executable).with_name("outcomes")), "serve", "--home", str(home.root)]
    argv += ["--port", "0"]
    with log.open("wb") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)  # noqa: S603
    try:
        url = None
        deadline = time.monotonic() + 120
        while url is None:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise HubFailure(f"the hub's service did not start; its log is {log}")
            found = re.search(r"on (http://127\.0\.0\.1:\d+)", log.read_text(errors="replace"))
            try:
                if found and httpx.get(f"{found.group(1)}/healthz", timeout=2).status_code == 200:
                    url = found.group(1)
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        console.print(f"$ outcomes serve --home {home.root} --port 0")
        console.print(
            f"The hub's API answers on {url} (docs at {url}/docs); its Dagster daemon runs the "
            "inbox sensor. Its log: " + str(log)
        )
        yield url
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


def _figures(url: str, quarter: Period, ngo: DemoNgo) -> None:
    from pipelines.cli.remote import print_figures
    from pipelines.ngo.client import HubClient
    from pipelines.ngo.token import read_token

    with HubClient(url, read_token(ngo.token_file)) as client:
        result = client.figures(str(quarter))
    console.print(
        f"$ outcomes figures --hub {url} --token-file ngos/{ngo.ngo_id}/hub.token "
        f"--period {quarter}   ({ngo.name})"
    )
    print_figures(result)


@click.command()
@click.option(
    "--period", default="2026-Q3", show_default=True, help="The quarter the sample sector reports."
)
@creating_home_option
def demo(period: str, home: Home) -> None:
    """Run the hub end to end on a built-in sample sector of 20 NGOs, over HTTP.

    Generates the sector (one NGO's exports are messy, one NGO's episodes break
    contract rules), starts the hub's service (outcomes serve) on a free port of
    this computer and registers the NGOs. Each NGO validates its extracts in a
    folder of its own and submits them to the API with its token; the hub takes
    them in through the Dagster intake job; one NGO reads the hub's verdict. The
    quarter is released with differential privacy (headline numbers with their
    95% intervals and the budget spent), the NGO downloads its own figures, the
    funder site is built, and the service is stopped.
    """
    quarter = Period.parse(period)
    _fresh_home(home)
    home.create()

    _step(f"1. Generate a sample sector: {DEMO_NGOS} NGOs, {quarter}")
    sector = _generate(home, quarter, "extracts", faulty=1)
    console.print(
        f"$ outcomes generate --ngos {DEMO_NGOS} --period {quarter} --seed {DEMO_SEED} "
        f"--out {home.root / 'extracts'} --messy --messy-share {1 / DEMO_NGOS:g} --faulty 1"
    )

    _step("2. The hub starts its service and registers the NGOs (public facts, one token each)")
    with _service(home) as url:
        ngos = _register(home, sector)

        _step("3. Each NGO validates its extracts in its own folder and submits them over HTTP")
        _submit_all(url, quarter, sector, ngos)

        faulty = [n for n in sector.ngos if n.faulty]
        by_id = {n.ngo_id: n for n in ngos}
        if faulty:
            _step("4. The NGO whose extract broke rules fixes it and submits again")
            fixed = {
                n.ngo_id: n for n in _generate(home, quarter, "extracts-corrected", faulty=0).ngos
            }
            for ngo in faulty:
                for outcome, sent in _submit(url, quarter, by_id[ngo.ngo_id], fixed[ngo.ngo_id]):
                    console.print(f"{ngo.ngo_id}: {outcome.message} {sent.message if sent else ''}")

        _step("5. The hub takes in what arrived (re-validation, vault, checks)")
        _take_in(home, quarter)
        reader = by_id[faulty[0].ngo_id] if faulty else ngos[0]
        _verdict(url, quarter, reader)

        _step(
            "6. The steward previews accuracy, then releases the quarter with differential privacy"
        )
        _release(home, quarter)
        _figures(url, quarter, reader)

        _step("7. The funder site is built from the published zone only")
        site_index = _site(home)
        console.print("$ kill -TERM <outcomes serve>   (the demo stops the hub's service)")

    _step("Where things are")
    console.print(
        f"The NGOs' own folders:    {home.root / 'ngos' / '<ngo>'} (key, reports, receipts)"
    )
    console.print(f"Hub quarantine reports:   {home.quarantine}")
    console.print(f"Encrypted vault:          {home.vault_file}")
    console.print(f"The hub's desk:           {home.desk} (register, receipts)")
    console.print(f"Published zone:           {home.published_db}")
    console.print(f"Exports (CSV, Parquet):   {home.exports}")
    console.print(f"The whole hub again:      outcomes serve --home {home.root} --ui")
    console.print(f"Dagster UI:               make ui   (or: outcomes ui --home {home.root})")
    console.print(f"Report card (open it):    {site_index}")
