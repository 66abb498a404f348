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

from pipelines.cli.demo_ngos import (
    DemoNgo,
    Tally,
    both_files,
    download_figures,
    read_verdict,
    register_ngos,
    send,
    submit_quarter,
)
from pipelines.cli.hub import print_submissions, submission_rows
from pipelines.cli.ngo import bar
from pipelines.cli.options import HubFailure, console, creating_home_option
from pipelines.home import Home
from pipelines.standard.periods import Period

MARKER = ".outcomes-demo"
DEMO_NGOS = 20
DEMO_SEED = 7
STEWARD = "Ana Rewi (data steward)"
"""Who approves the demo's releases and sets its budgets (recorded in the audit log)."""


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


def _generate(home: Home, periods: tuple[Period, ...]) -> tuple[Any, ...]:
    """The sector's four quarters, clients persisting, and the faulty NGO's fixed exports."""
    from pipelines.sample.generate import generate_quarters

    try:
        with bar() as progress:
            task = progress.add_task("generating the sector's quarters", total=DEMO_NGOS)
            sectors = generate_quarters(
                home.root / "extracts",
                ngos=DEMO_NGOS,
                periods=periods,
                seed=DEMO_SEED,
                messy=True,
                messy_share=1 / DEMO_NGOS,
                faulty=1,
                progress=lambda d, t: progress.update(task, completed=d, total=t),
            )
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--periods") from None
    first = periods[0]
    console.print(
        f"$ outcomes generate --ngos {DEMO_NGOS} --periods {first}..{periods[-1]} "
        f"--seed {DEMO_SEED} --out {home.root / 'extracts'} --messy --messy-share "
        f"{1 / DEMO_NGOS:g} --faulty 1"
    )
    counts = ", ".join(f"{s.period}: {sum(n.clients for n in s.ngos):,}" for s in sectors)
    back = ", ".join(f"{s.period}: {sum(n.continuing for n in s.ngos):,}" for s in sectors[1:])
    console.print(
        f"Clients served per quarter, {counts}; of them served the quarter before, {back}."
    )
    return sectors


def _fixed(home: Home, periods: tuple[Period, ...], ngo_id: str) -> dict[str, Any]:
    """The faulty NGO's exports once it has fixed them (the same data, no broken rules)."""
    from pipelines.sample.generate import generate_quarters

    index = int(ngo_id.rpartition("-")[2])
    sectors = generate_quarters(
        home.root / "extracts-fixed", ngos=index, periods=periods, seed=DEMO_SEED
    )
    return {s.period: {n.ngo_id: n for n in s.ngos}[ngo_id] for s in sectors}


@dataclass(frozen=True)
class Cast:
    """The NGOs with a part in the story: one whose exports break rules in the first quarter,
    one late with the second quarter, one correcting the next-to-last quarter."""

    faulty: str
    late: str
    correcting: str
    late_period: str
    corrected_period: str


def _cast(sectors: tuple[Any, ...]) -> Cast:
    first = sectors[0].ngos
    plain = [n.ngo_id for n in first if not (n.messy or n.faulty) and n.file_format == "csv"]
    return Cast(
        faulty=next(n.ngo_id for n in first if n.faulty),
        late=plain[2],
        correcting=plain[4],
        late_period=sectors[1].period,
        corrected_period=sectors[-2].period,
    )


def _take_in(home: Home, periods: list[str]) -> None:
    from pipelines.assets.runs import run_intake
    from pipelines.hub.inbox import pending_ids

    pending = pending_ids(home)
    with bar() as progress:
        task = progress.add_task("intake", total=len(pending))
        runs = run_intake(home, lambda d, t: progress.update(task, completed=d, total=t))
    console.print(f"$ outcomes intake --home {home.root}")
    for period in periods:
        console.print(f"{period}: ", end="")
        print_submissions(home, submission_rows(home, period=Period.parse(period)))
    if not all(r.success for r in runs):
        raise HubFailure("an intake run failed; open the Dagster UI with `make ui` to see why")


PREVIEWED = (
    "ngo_clients_total",
    "ngo_sessions_total",
    "ngo_share_satisfied",
    "ngo_share_improved",
    "clients_total",
    "share_improved_overall",
)
"""The measures the demo's budget preview shows (``outcomes budget plan`` shows them all)."""


def _preview() -> None:
    """What the default budget buys, as the steward reads it: a few headline measures, each in
    its unit and flagged for NGOs of typical sizes (nothing is spent, no data is read)."""
    from pipelines.cli.steward import print_plan
    from pipelines.privacy.plan import load_plan
    from pipelines.privacy.planner import DEFAULT_SIZES, Typical

    plan = load_plan()
    console.print(
        f"$ outcomes budget plan --rho {plan.default_rho:g} --sizes "
        f"{','.join(map(str, DEFAULT_SIZES))}   (nothing is spent; a few of its rows)"
    )
    print_plan(
        plan,
        plan.default_rho,
        sizes=DEFAULT_SIZES,
        typical=Typical(),
        cell_size=100.0,
        only=set(PREVIEWED),
    )


def _release(home: Home, period: str, *, supersede: bool = False, accuracy: bool = False) -> None:
    """`outcomes release --period P [--supersede] --yes --by STEWARD`: the proposal is shown, the
    steward's approval recorded, the release made (the site is built once, at the end) and its
    headline numbers printed; an addendum, which leaves those as they were, says what it
    charged instead."""
    from pipelines.assets.runs import run_release
    from pipelines.cli.steward import print_headlines, show_and_approve
    from pipelines.hub.release import ReleaseError

    again = " --supersede" if supersede else ""
    console.print(
        f'$ outcomes release --period {period}{again} --yes --by "{STEWARD}" --home {home.root}'
    )
    if not show_and_approve(
        home,
        period,
        supersede=supersede,
        proposal_id=None,
        yes=True,
        by=STEWARD,
        accuracy=accuracy,
    ):
        raise HubFailure(f"the release of {period} was not approved")
    with console.status(f"releasing {period}"):
        try:
            run = run_release(
                home, period, supersede=supersede, requested_by=STEWARD, build_site=False
            )
        except ReleaseError as exc:
            raise HubFailure(str(exc)) from None
    if run.status == "addendum":
        _charged(home, run.release_id)
        return
    print_headlines(home, period, run)


def _charged(home: Home, release_id: str) -> None:
    """What the latest addendum to ``release_id`` charged, per NGO."""
    from pipelines.hub.vault import open_vault, releases

    with open_vault(home).connect() as con:
        commits = releases.spent_by_commit(con)
    mine = commits[commits["release_id"] == release_id]
    latest = mine[mine["spent_at"] == mine["spent_at"].max()]
    charged = ", ".join(f"{r.ngo_id} rho {r.rho:.4g}" for r in latest.itertuples())
    console.print(
        f"Added to {release_id}, charged to {charged}; the sector-wide headline numbers are as "
        "released."
    )


def _refused(home: Home, period: str, *, supersede: bool = False) -> None:
    """A release the hub refuses before anything is approved or spent, as the steward sees it."""
    from pipelines.cli.steward import show_and_approve

    again = " --supersede" if supersede else ""
    console.print(
        f'$ outcomes release --period {period}{again} --by "{STEWARD}" --home {home.root}'
    )
    try:
        show_and_approve(
            home,
            period,
            supersede=supersede,
            proposal_id=None,
            yes=False,
            by=STEWARD,
            accuracy=False,
        )
    except HubFailure as exc:
        console.print(f"[bold red]Refused:[/] {exc.message}")
        return
    raise HubFailure(f"the demo expected the release of {period} to be refused")


def _budget(home: Home, args: list[str]) -> None:
    """`outcomes budget set …`, run as the steward would run it."""
    from pipelines.cli.steward import budget

    shown = " ".join(a if " " not in a else f'"{a}"' for a in args)
    console.print(f"$ outcomes budget set {shown} --home {home.root}")
    budget.main(
        ["set", *args, "--by", STEWARD, "--home", str(home.root)],
        prog_name="outcomes budget",
        standalone_mode=False,
    )


def _correct(extract: Any, out: Path) -> Path:
    """The NGO's corrected export: one episode's session count was one short. Nothing of it is
    printed; the file stays in the NGO's own folder."""
    import pandas as pd

    frame = pd.read_csv(extract.episodes_path, dtype=str, keep_default_na=False)
    frame.loc[0, "sessions"] = str(int(frame.loc[0, "sessions"]) + 1)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "episodes.csv"
    frame.to_csv(path, index=False)
    return path


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


def _rho(values: Any) -> str:
    low, high = float(min(values)), float(max(values))
    return f"{low:.3g}" if f"{low:.3g}" == f"{high:.3g}" else f"{low:.3g} to {high:.3g}"


def _summary(home: Home, periods: tuple[Period, ...], cast: Cast, tally: Tally) -> None:
    """Per quarter: submissions, releases (addenda, supersedes) and what each NGO spent, in the
    quarter and over the rolling year (per NGO, never summed across NGOs)."""
    from collections import Counter

    from pipelines.hub.rolling_year import year_balances
    from pipelines.hub.vault import open_vault, register, releases, submissions
    from pipelines.privacy.mechanisms import epsilon_at
    from pipelines.privacy.plan import load_plan

    plan = load_plan()
    quarters = [str(p) for p in periods]
    with open_vault(home).connect() as con:
        listed = {q: Counter(r[4] for r in submissions.listing(con, period=q)) for q in quarters}
        commits = releases.spent_by_commit(con)
        stored = releases.every_release(con).set_index("release_id")
        ngos = sorted(register.ids(con))
        years = {y.ngo_id: y for y in year_balances(con, plan, quarters[-1], ngos)}
    table = Table(title="A year of quarters", title_justify="left", show_lines=True)
    for col in ("Quarter", "Submissions", "Released (rho charged per NGO)", "Rho per NGO"):
        table.add_column(col, overflow="fold")
    for q in quarters:
        count = listed[q]
        subs = [f"{count['accepted']} accepted"]
        if count["superseded"]:
            subs.append(f"{count['superseded']} replaced by a correction")
        if count["refused"]:
            subs.append(f"{count['refused']} refused at the hub")
        if tally.refused_here.get(q):
            subs.append(f"{tally.refused_here[q]} refused on the NGO's computer, then fixed")
        if tally.late.get(q):
            subs.append(f"late: {', '.join(tally.late[q])}")
        done = commits[commits["period"] == q]
        lines, seen = [], set()
        for (release_id, _at), rows in done.groupby(["release_id", "spent_at"], sort=False):
            if release_id in seen:
                kind = f"addendum to {release_id}"
            elif isinstance(stored.at[release_id, "superseded_by"], str):
                kind = f"{release_id}, superseded by {stored.at[release_id, 'superseded_by']}"
            else:
                kind = str(release_id)
            seen.add(release_id)
            who = rows["ngo_id"].tolist()
            payers = who[0] if len(who) == 1 else f"{len(who)} NGOs"
            lines.append(f"{kind}: {payers}, {_rho(rows['rho'])}")
        per_ngo = done.groupby("ngo_id")["rho"].sum()
        table.add_row(q, "\n".join(subs), "\n".join(lines), _rho(per_ngo) if len(per_ngo) else "")
    console.print(table)
    window = next(iter(years.values())).window
    spent = [y.spent for y in years.values()]
    caps = [y.cap for y in years.values()]
    console.print(
        f"Over the rolling year {window}, each NGO spent rho {_rho(spent)} (epsilon up to "
        f"{epsilon_at(max(spent), plan.delta):.2f} at delta {plan.delta:g}) of its cap "
        f"{_rho(caps)}: a client served all year by one NGO is protected by that NGO's "
        "figure. Per NGO, by quarter:"
    )
    for role, ngo_id in (
        ("late with " + cast.late_period, cast.late),
        ("corrected " + cast.corrected_period, cast.correcting),
        ("fixed its exports", cast.faulty),
    ):
        y = years[ngo_id]
        console.print(
            f"  {ngo_id} ({role}): {y.spent_text()}; year {y.spent:.4g} of cap {y.cap:.4g}"
        )
    console.print(
        f"The steward's approvals and every spend are in the audit log: outcomes audit --home {home.root}"
    )


def _utility(home: Home, quarters: list[str]) -> None:
    """The utility targets, read from the published zone and the register's public facts: every
    figure of the latest quarter, and how many each earlier quarter met."""
    from pipelines.hub.utility import utility_figures

    for quarter in quarters[:-1]:
        figures = utility_figures(home, quarter)
        met = sum(f.met for f in figures)
        missed = (
            "; missed: " + ", ".join(f.name for f in figures if not f.met)
            if met < len(figures)
            else ""
        )
        console.print(f"{quarter}: {met} of {len(figures)} utility targets met{missed}")
    for figure in utility_figures(home, quarters[-1]):
        console.print(figure.line())


MIN_QUARTERS, MAX_QUARTERS = 4, 8
"""The story needs a year: a late second quarter, and a correction the rolling-year cap refuses."""


def _parse_periods(
    _ctx: click.Context | None, _param: click.Parameter | None, value: str
) -> tuple[Period, ...]:
    from pipelines.standard.periods import parse_range

    try:
        periods = parse_range(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None
    if not MIN_QUARTERS <= len(periods) <= MAX_QUARTERS:
        raise click.BadParameter(
            f"the demo runs {MIN_QUARTERS} to {MAX_QUARTERS} consecutive quarters (one NGO is "
            f"late with the second, one corrects the next-to-last); {value} has {len(periods)}"
        )
    if periods[-1].start > date.today():
        raise click.BadParameter(
            f"{periods[-1]} has not begun yet (it starts on {periods[-1].start}); the demo's "
            "last quarter must be one that has begun"
        )
    return periods


@click.command()
@click.option(
    "--periods",
    default="2025-Q4..2026-Q3",
    show_default=True,
    callback=_parse_periods,
    help="The consecutive quarters the sample sector reports, FIRST..LAST (4 to 8 quarters).",
)
@creating_home_option
def demo(periods: tuple[Period, ...], home: Home) -> None:
    """Run the hub end to end over a year of quarters on a built-in sample sector of 20 NGOs,
    over HTTP.

    Generates the sector's quarters (the same clients come back; one NGO's exports are messy,
    one NGO's episodes break contract rules), starts the hub's service (outcomes serve) on a
    free port of this computer and registers the NGOs. Then, quarter by quarter, each NGO
    validates its extracts in a folder of its own and submits them to the API with its
    token, the hub takes them in through the Dagster intake job, and the steward is shown
    each proposed release (what it uses, what it spends per NGO in the quarter and the
    rolling year, what is missing) and approves it; nothing spends without that recorded
    approval. The faulty NGO fixes its files and reads the hub's verdict; one NGO misses the
    second quarter and its figures follow as a late addendum; one NGO corrects the
    next-to-last quarter, which the steward re-releases with --supersede after raising the
    quarter's budget and the rolling-year cap. The funder site is built, a summary printed,
    and the service stopped.
    """
    _fresh_home(home)
    home.create()
    quarters = [str(p) for p in periods]
    tally = Tally()

    _step(f"1. Generate a sample sector: {DEMO_NGOS} NGOs, {quarters[0]} to {quarters[-1]}")
    sectors = _generate(home, periods)
    cast = _cast(sectors)
    tally.late[cast.late_period] = [cast.late]
    fixed = _fixed(home, periods, cast.faulty)

    _step("2. The hub starts its service and registers the NGOs (public facts, one token each)")
    with _service(home) as url:
        ngos = register_ngos(home, sectors[0])
        story = Story(home, url, sectors, {n.ngo_id: n for n in ngos}, cast, fixed, tally)
        for index in range(len(sectors)):
            _quarter(story, index)
        download_figures(url, quarters[-1], story.ngos[cast.faulty])
        _step(f"{len(sectors) + 3}. The funder site is built from the published zone only")
        site_index = _site(home)
        console.print("$ kill -TERM <outcomes serve>   (the demo stops the hub's service)")

    _step("Summary")
    _summary(home, periods, cast, tally)
    _step("Is what was published usable? Utility figures at the default budget")
    _utility(home, quarters)
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


@dataclass(frozen=True)
class Story:
    """Everything the demo's quarters share: the hub, the sector, the NGOs and their parts."""

    home: Home
    url: str
    sectors: tuple[Any, ...]
    ngos: dict[str, DemoNgo]
    cast: Cast
    fixed: dict[str, Any]
    tally: Tally


def _quarter(story: Story, index: int) -> None:
    """One quarter: the NGOs submit (and the late and correcting NGOs send what they owe), the
    hub takes it in, the steward approves and releases (and the late addendum, the supersede)."""
    sector, cast, url = story.sectors[index], story.cast, story.url
    quarter, ngos = sector.period, story.ngos
    first, last = index == 0, index == len(story.sectors) - 1
    late_now = index == 2  # the late NGO's files arrive during the third quarter
    step = f"{index + 3}"
    _step(f"{step}a. {quarter}, quarter {index + 1} of {len(story.sectors)}: the NGOs submit")
    if quarter == cast.late_period:
        console.print(f"{cast.late} ({ngos[cast.late].name}) misses {quarter}'s deadline.")
    submit_quarter(
        url,
        sector,
        list(ngos.values()),
        skip={cast.late} if quarter == cast.late_period else set(),
        use={} if first else {cast.faulty: story.fixed[quarter]},
        tally=story.tally,
    )
    touched = [quarter]
    if first:
        console.print(f"{cast.faulty} fixes its files from its report and submits them again:")
        send(url, quarter, ngos[cast.faulty], both_files(story.fixed[quarter]))
    if late_now:
        late = {n.ngo_id: n for n in story.sectors[1].ngos}[cast.late]
        console.print(f"{cast.late} now sends its {cast.late_period} files, late:")
        send(url, cast.late_period, ngos[cast.late], both_files(late))
        touched.insert(0, cast.late_period)
    if last:
        source = {n.ngo_id: n for n in story.sectors[-2].ngos}[cast.correcting]
        folder = story.home.root / "ngos" / cast.correcting / "corrected" / cast.corrected_period
        console.print(
            f"{cast.correcting} finds that its {cast.corrected_period} episodes file "
            "under-counted one episode's sessions, and sends a corrected file:"
        )
        corrected = _correct(source, folder)
        send(url, cast.corrected_period, ngos[cast.correcting], [("episodes", corrected)])
        touched.insert(0, cast.corrected_period)

    _step(f"{step}b. {quarter}: the hub takes in what arrived (re-validation, vault, checks)")
    _take_in(story.home, touched)
    if first:
        read_verdict(url, quarter, ngos[cast.faulty])

    _step(f"{step}c. {quarter}: the steward reads the proposed release, approves it, releases")
    if first:
        _preview()
    if late_now:
        console.print(
            f"{cast.late_period} was released without {cast.late}; its files arrived since, so "
            "the proposal is an addendum with that NGO's own figures, charged to it alone (the "
            "sector-wide cells stay as released; a supersede would redo them for every NGO):"
        )
        _release(story.home, cast.late_period)
        download_figures(url, cast.late_period, ngos[cast.late])
    _release(story.home, quarter, accuracy=first)
    if last:
        _step(f"{step}d. {cast.corrected_period} again: the correction, and the rolling-year cap")
        _supersede(story.home, cast)


def _supersede(home: Home, cast: Cast) -> None:
    """The correction of a released quarter: refused without --supersede (saying what it would
    spend), the quarter's budget raised, refused by the rolling-year cap, the cap raised with a
    note, then re-released."""
    from pipelines.privacy.plan import load_plan

    plan = load_plan()
    period = cast.corrected_period
    console.print(
        f"{cast.correcting}'s corrected file is not in {period}'s release. Asked to release "
        f"{period} again, the hub says what including it would cost:"
    )
    _refused(home, period)
    console.print(
        "A supersede re-releases the whole quarter (the sector-wide cells hold every NGO's "
        "rows), so every NGO of the quarter is charged again. The steward raises the "
        "quarter's budget so the new release is no noisier than the one it replaces:"
    )
    note = f"{cast.correcting} corrected its {period} episodes"
    _budget(
        home,
        ["--default", "--period", period, "--rho", f"{2 * plan.default_rho:g}", "--note", note],
    )
    _refused(home, period, supersede=True)
    console.print(
        "The steward decides the correction is worth it and records a rolling-year cap with "
        "room for one quarter re-released:"
    )
    cap = plan.annual_rho + plan.default_rho
    _budget(home, ["--default", "--annual-rho", f"{cap:g}", "--note", note])
    _release(home, period, supersede=True)
