"""Shared fixtures: no network, an isolated hub home, small valid extracts, the CLI.

Every enum value in the fixtures comes from the contracts, never from a list
typed here, so a contract change cannot leave the tests checking stale values.
"""

from __future__ import annotations

import csv
import hashlib
import io
import ipaddress
import socket
import subprocess
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from ngo_helpers import hand_in
from service_helpers import HubProcess, start_hub

from pipelines.home import Home
from pipelines.ngo.folder import NgoHome
from pipelines.standard.contract import Contract, load_contract
from pipelines.standard.periods import Period

PERIOD = Period.parse("2025-Q3")
"""A closed quarter well in the past, so no fixture date is ever 'in the future'."""

Rows = list[dict[str, str]]


# --- no network, ever ------------------------------------------------------------------------


class NetworkBlocked(RuntimeError):
    """A test tried to open a network connection."""


def _is_local(address: Any) -> bool:
    if isinstance(address, str | bytes):  # AF_UNIX path (or abstract socket)
        return True
    if not isinstance(address, tuple) or not address:
        return False
    host = address[0]
    if isinstance(host, bytes):
        host = host.decode()
    if host in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(str(host).split("%")[0]).is_loopback
    except ValueError:
        return False


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail any test whose code connects anywhere but loopback or a Unix socket."""
    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex
    real_create_connection = socket.create_connection

    def guarded(real: Callable[..., Any]) -> Callable[..., Any]:
        def connect(self: socket.socket, address: Any) -> Any:
            if self.family == getattr(socket, "AF_UNIX", None) or _is_local(address):
                return real(self, address)
            raise NetworkBlocked(f"tests make no network connections (tried {address!r})")

        return connect

    def create_connection(address: Any, *args: Any, **kwargs: Any) -> socket.socket:
        if not _is_local(address):
            raise NetworkBlocked(f"tests make no network connections (tried {address!r})")
        return real_create_connection(address, *args, **kwargs)

    monkeypatch.setattr(socket.socket, "connect", guarded(real_connect))
    monkeypatch.setattr(socket.socket, "connect_ex", guarded(real_connect_ex))
    monkeypatch.setattr(socket, "create_connection", create_connection)


# --- an isolated hub ---------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No test sees another's Dagster home, hub home or vault key, even under xdist.

    ``prepare_dagster_home`` writes ``DAGSTER_HOME`` into ``os.environ``; setting it here
    first means monkeypatch restores the original when the test ends.
    """
    for name in (
        "OUTCOMES_HOME",
        "OUTCOMES_VAULT_KEY",
        "OUTCOMES_VAULT_KEY_FILE",
        "OUTCOMES_AUDIT_KEY_FILE",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "no-dagster-home"))
    monkeypatch.setenv("DAGSTER_DISABLE_TELEMETRY", "1")
    monkeypatch.setenv("GX_ANALYTICS_ENABLED", "False")


@pytest.fixture
def home(tmp_path: Path) -> Home:
    """A hub's runtime folder of its own (not created until something writes to it)."""
    return Home(tmp_path / "home")


@pytest.fixture
def ngo_home(tmp_path: Path) -> NgoHome:
    """The NGO's own folder, on 'its own computer': apart from any hub's home."""
    return NgoHome(tmp_path / "ngo-side")


@pytest.fixture
def hub_server(home: Home, tmp_path: Path) -> Iterator[Callable[..., HubProcess]]:
    """Start ``outcomes serve`` for this test's hub on a free loopback port, in a subprocess
    (``hub_server(*serve_args, at=home, ca_file=…)``); every one started is stopped at the end."""
    started: list[HubProcess] = []

    def start(*args: str | Path, at: Home | None = None, ca_file: Path | None = None) -> HubProcess:
        served = start_hub(at or home, tmp_path / "service", *args, ca_file=ca_file)
        started.append(served)
        return served

    yield start
    for served in started:
        if not served.stopped:
            try:
                served.stop(timeout=30)
            except subprocess.TimeoutExpired:
                served.kill()


@pytest.fixture
def deliver(home: Home, ngo_home: NgoHome) -> Callable[..., list[str]]:
    """:func:`hand_in` for this test's hub and NGO folder."""
    return lambda ngo_id=None: hand_in(home, ngo_home, ngo_id)


# --- contracts and small valid extracts --------------------------------------------------------


@pytest.fixture(scope="session")
def episodes_contract() -> Contract:
    return load_contract("episodes")


@pytest.fixture(scope="session")
def assessments_contract() -> Contract:
    return load_contract("assessments")


def _pick(contract: Contract, column: str, i: int) -> str:
    values = contract.column(column).accepted_values
    return values[i % len(values)]


def make_episode_rows(n: int = 4, period: Period = PERIOD) -> Rows:
    """``n`` valid episode rows (text cells) for ``period``: every enum value from the contract."""
    contract = load_contract("episodes")
    rows = []
    for i in range(n):
        ended = i % 2 == 1
        start = period.start + timedelta(days=i % 28)
        rows.append(
            {
                "client_id": f"C{1000 + i // 2}",
                "episode_id": f"E{5000 + i}",
                "programme": _pick(contract, "programme", i),
                "region": _pick(contract, "region", i),
                "age_band": _pick(contract, "age_band", i),
                "gender": _pick(contract, "gender", i),
                "ethnicity": _pick(contract, "ethnicity", i),
                "referral_source": _pick(contract, "referral_source", i),
                "start_date": start.isoformat(),
                "end_date": (start + timedelta(days=30)).isoformat() if ended else "",
                "sessions": str(3 + i),
                "exit_reason": _pick(contract, "exit_reason", i) if ended else "",
                "consent_aggregate": contract.column("consent_aggregate").true_spellings[0],
            }
        )
    return rows


def make_assessment_rows(episodes: Rows) -> Rows:
    """Two valid assessment rows per episode, each in a different contract domain."""
    contract = load_contract("assessments")
    rows = []
    for i, episode in enumerate(episodes):
        for j in range(2):
            rows.append(
                {
                    "client_id": episode["client_id"],
                    "episode_id": episode["episode_id"],
                    "domain": _pick(contract, "domain", 2 * i + j),
                    "pre_score": str(1 + (i + j) % 4),
                    "post_score": str(2 + (i + j) % 4) if j == 0 else "",
                    "assessed_by": _pick(contract, "assessed_by", i),
                }
            )
    return rows


def csv_bytes(
    rows: Rows,
    header: Sequence[str] | None = None,
    *,
    delimiter: str = ",",
    newline: str = "\n",
    encoding: str = "utf-8",
    bom: bool = False,
) -> bytes:
    """Rows as CSV bytes; ``header`` renames (or reorders) the columns as written."""
    keys = list(rows[0]) if rows else list(header or [])
    text = io.StringIO()
    writer = csv.writer(text, delimiter=delimiter, lineterminator=newline)
    writer.writerow(list(header) if header is not None else keys)
    for row in rows:
        writer.writerow([row.get(k, "") for k in keys])
    data = text.getvalue().encode(encoding)
    return (b"\xef\xbb\xbf" + data) if bom else data


@pytest.fixture
def episode_rows() -> Callable[..., Rows]:
    """:func:`make_episode_rows`: ``episode_rows(n, period)`` valid episode rows as text."""
    return make_episode_rows


@pytest.fixture
def assessment_rows() -> Callable[[Rows], Rows]:
    """:func:`make_assessment_rows`: valid assessment rows for the given episode rows."""
    return make_assessment_rows


@pytest.fixture
def to_csv() -> Callable[..., bytes]:
    """:func:`csv_bytes`: rows as CSV bytes, with a chosen header, delimiter, newline, BOM."""
    return csv_bytes


@pytest.fixture
def ngo_files(tmp_path: Path) -> Path:
    """The NGO's own folder of extracts (outside the hub's home)."""
    folder = tmp_path / "ngo-files"
    folder.mkdir()
    return folder


@pytest.fixture
def write_csv(ngo_files: Path) -> Callable[..., Path]:
    """Write rows as a CSV in the NGO's folder; keyword arguments as for :func:`csv_bytes`."""

    def write(name: str, rows: Rows, header: Sequence[str] | None = None, **kw: Any) -> Path:
        path = ngo_files / name
        path.write_bytes(csv_bytes(rows, header, **kw))
        return path

    return write


@pytest.fixture
def episodes_csv(write_csv: Callable[..., Path]) -> Path:
    """A small valid episodes extract."""
    return write_csv("episodes.csv", make_episode_rows())


@pytest.fixture
def assessments_csv(write_csv: Callable[..., Path]) -> Path:
    """A small valid assessments extract for the episodes of :func:`episodes_csv`."""
    return write_csv("assessments.csv", make_assessment_rows(make_episode_rows()))


# --- the command line ----------------------------------------------------------------------------


@dataclass(frozen=True)
class CliResult:
    exit_code: int
    output: str
    exception: BaseException | None = None


@pytest.fixture
def run_cli(monkeypatch: pytest.MonkeyPatch) -> Callable[..., CliResult]:
    """Run ``outcomes ARGS…`` in-process; return its exit code and everything it printed."""
    from pipelines.cli import main
    from pipelines.cli.options import console, errors

    # A wide terminal, so rule ids and column names are not folded across lines.
    for con in (console, errors):
        monkeypatch.setattr(con, "_width", 200)

    def run(*args: str | Path) -> CliResult:
        result = CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=True)
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise result.exception
        return CliResult(result.exit_code, result.output, result.exception)

    return run


@pytest.fixture
def submit_cli(run_cli: Callable[..., CliResult], ngo_home: NgoHome) -> Callable[..., CliResult]:
    """``outcomes submit FILE --ngo ngo-0042 --period 2025-Q3 --dataset episodes --ngo-home D``
    with no hub: an accepted file is packed into the outbox and the command exits 3 (validated
    here, not yet delivered); ``hub_args`` adds ``--hub URL --token-file F`` and the like."""

    def submit(
        path: Path,
        *,
        dataset: str = "episodes",
        ngo: str = "ngo-0042",
        period: str | Period = PERIOD,
        at: NgoHome | None = None,
        hub_args: Sequence[str | Path] = (),
    ) -> CliResult:
        return run_cli(
            "submit",
            path,
            "--ngo",
            ngo,
            "--period",
            str(period),
            "--dataset",
            dataset,
            "--ngo-home",
            (at or ngo_home).root,
            *hub_args,
        )

    return submit


# --- small helpers shared by tests ---------------------------------------------------------------


def tree(root: Path) -> dict[str, str]:
    """Every file under ``root`` (relative path -> sha256 of its bytes); folders as ``<dir>``."""
    if not root.exists():
        return {}
    out = {}
    for path in sorted(root.rglob("*")):
        rel = str(path.relative_to(root))
        out[rel] = "<dir>" if path.is_dir() else hashlib.sha256(path.read_bytes()).hexdigest()
    return out


@pytest.fixture
def files_under() -> Callable[[Path], dict[str, str]]:
    """:func:`tree` as a fixture, for snapshots of a folder before and after."""
    return tree
