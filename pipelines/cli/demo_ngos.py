"""The demo's sample NGOs, each on its own "computer": registered at the hub with their public
facts, submitting their extracts over HTTP with their own tokens, and reading the hub's verdicts
and their released figures, as `outcomes submit`, `status --hub` and `figures --hub` do."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from rich.table import Table

from pipelines.cli.ngo import bar
from pipelines.cli.options import console
from pipelines.home import Home
from pipelines.ngo.folder import NgoHome
from pipelines.standard.contract import load_contract
from pipelines.standard.periods import Period

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


def register_ngos(home: Home, sector: Any) -> list[DemoNgo]:
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


@dataclass
class Tally:
    """What the NGOs' own computers did, per quarter (the hub's side is read from its vault)."""

    refused_here: dict[str, int] = field(default_factory=dict)
    late: dict[str, list[str]] = field(default_factory=dict)

    def refused(self, period: str, count: int) -> None:
        self.refused_here[period] = self.refused_here.get(period, 0) + count


def submit_files(url: str, period: str, ngo: DemoNgo, files: list[tuple[str, Path]]) -> list[Any]:
    """What `outcomes submit FILE … --hub URL --token-file F` does, file by file."""
    from pipelines.ngo.client import HubClient
    from pipelines.ngo.deliver import deliver
    from pipelines.ngo.submit import submit
    from pipelines.ngo.token import read_token

    results = []
    with HubClient(url, read_token(ngo.token_file)) as client:
        for dataset, path in files:
            outcome = submit(
                path,
                home=ngo.folder,
                ngo_id=ngo.ngo_id,
                period=Period.parse(period),
                dataset=dataset,
                today=date.today(),
            )
            sent = deliver(ngo.folder, client, outcome.package) if outcome.package else None
            results.append((outcome, sent))
    return results


def both_files(extract: Any) -> list[tuple[str, Path]]:
    return [("episodes", extract.episodes_path), ("assessments", extract.assessments_path)]


def submit_quarter(
    url: str, sector: Any, ngos: list[DemoNgo], *, skip: set[str], use: dict[str, Any], tally: Tally
) -> None:
    """Every NGO but those in ``skip`` submits its quarter (``use``: an NGO's own fixed files)."""
    table = Table(title_justify="left")
    for col in ("NGO", "Episodes", "Assessments", "Notes"):
        table.add_column(col, overflow="fold")
    refused: list[Path] = []
    files = {n.ngo_id: n for n in sector.ngos}
    with bar() as progress:
        task = progress.add_task(f"submitting {sector.period} over HTTP", total=len(ngos))
        for ngo in ngos:
            progress.advance(task)
            if ngo.ngo_id in skip:
                table.add_row(ngo.ngo_id, "—", "—", "[yellow]late: nothing sent this quarter[/]")
                continue
            extract = use.get(ngo.ngo_id, files[ngo.ngo_id])
            results = submit_files(url, sector.period, ngo, both_files(extract))
            here = [o.report_dir / "report.html" for o, _ in results if o.status == "refused"]
            refused += [r for r in here if r.parent != Path()]
            tally.refused(sector.period, len(here))
            notes = [
                n
                for n, on in (
                    ("messy export", extract.messy),
                    (extract.file_format, extract.file_format != "csv"),
                    ("breaks contract rules", extract.faulty),
                    ("fixed export", ngo.ngo_id in use),
                )
                if on
            ]
            table.add_row(ngo.ngo_id, *[_cell(o, s) for o, s in results], ", ".join(notes))
    console.print(
        f"$ outcomes submit FILE --ngo ID --period {sector.period} --dataset "
        f"episodes|assessments --hub {url} --token-file ngos/ID/hub.token --ngo-home ngos"
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


def send(url: str, period: str, ngo: DemoNgo, files: list[tuple[str, Path]]) -> None:
    for outcome, sent in submit_files(url, period, ngo, files):
        console.print(f"{ngo.ngo_id}: {outcome.message} {sent.message if sent else ''}")


def read_verdict(url: str, period: str, ngo: DemoNgo) -> None:
    from pipelines.cli.remote import Hub, print_remote_status
    from pipelines.ngo.token import read_token

    console.print(
        f"$ outcomes status --hub {url} --token-file ngos/{ngo.ngo_id}/hub.token   ({ngo.name})"
    )
    print_remote_status(Hub(url, read_token(ngo.token_file), None), Period.parse(period))


def download_figures(url: str, period: str, ngo: DemoNgo) -> None:
    from pipelines.cli.remote import print_figures
    from pipelines.ngo.client import HubClient
    from pipelines.ngo.token import read_token

    with HubClient(url, read_token(ngo.token_file)) as client:
        result = client.figures(period)
    console.print(
        f"$ outcomes figures --hub {url} --token-file ngos/{ngo.ngo_id}/hub.token "
        f"--period {period}   ({ngo.name})"
    )
    print_figures(result)
