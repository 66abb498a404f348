"""``outcomes serve`` (the whole hub: its API and its Dagster daemon) and ``outcomes ui``."""

from __future__ import annotations

import fcntl
import ipaddress
import os
import signal
import socket
import ssl
import stat
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from pipelines.cli.options import HubFailure, console, creating_home_option, home_option
from pipelines.cli.processes import Child, Supervisor
from pipelines.home import Home

REPO = Path(__file__).resolve().parents[2]
WORKSPACE = REPO / "workspace.yaml"


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _check_tls(host: str, cert: Path | None, key: Path | None) -> None:
    if (cert is None) != (key is None):
        raise click.UsageError("give both --tls-cert and --tls-key, or neither")
    if cert is None and not _is_loopback(host):
        raise click.UsageError(
            f"the hub would listen on {host} without TLS: NGOs' tokens and data would cross the "
            "network unencrypted. Give --tls-cert FILE --tls-key FILE (see docs/deploying.md), "
            "or listen on this computer only (--host 127.0.0.1)."
        )
    if cert is None or key is None:
        return
    if stat.S_IMODE(key.stat().st_mode) & 0o007:
        raise click.UsageError(f"{key} can be read by every user; restrict it: chmod 600 {key}")
    try:
        ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(cert, key)
    except (ssl.SSLError, OSError) as exc:
        raise click.UsageError(
            f"{cert} and {key} are not a certificate and its private key in PEM ({exc.__class__.__name__})"
        ) from None


def _listen(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        sock = socket.create_server((host, port), family=family, backlog=512)
    except OSError as exc:
        raise HubFailure(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    sock.set_inheritable(True)
    return sock


def dagster_env(home: Home) -> dict[str, str]:
    """The environment of the hub's Dagster processes: its own instance (created now, so that
    they do not race to create it), its home, no telemetry."""
    from pipelines.assets.runs import prepare_instance

    return {
        **os.environ,
        "DAGSTER_HOME": str(prepare_instance(home)),
        "OUTCOMES_HOME": str(home.root),
        "DAGSTER_DISABLE_TELEMETRY": "1",
        "GX_ANALYTICS_ENABLED": "False",
    }


def _bin(name: str) -> str:
    return str(Path(sys.executable).with_name(name))


def _daemon_lock(home: Home) -> int | None:
    """Hold the lock that says a Dagster daemon runs for this hub; None when one already does
    (two daemons on one instance would each run the sensor)."""
    path = home.dagster_home / "daemon.lock"
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd  # held until this process exits


def dagster_children(home: Home, *, daemon: bool, ui_port: int | None) -> list[Child]:
    if not daemon and ui_port is None:
        return []
    env = dagster_env(home)
    children = []
    if daemon:
        if _daemon_lock(home) is None:
            console.print(
                "[yellow]A Dagster daemon already runs for this hub (outcomes serve?); "
                "not starting another.[/]"
            )
        else:
            children.append(
                Child(
                    "the Dagster daemon",
                    [_bin("dagster-daemon"), "run", "-w", str(WORKSPACE)],
                    env,
                    cwd=str(REPO),
                )
            )
    if ui_port is not None:
        children.append(
            Child(
                "the Dagster UI",
                [
                    _bin("dagster-webserver"),
                    "-w",
                    str(WORKSPACE),
                    "-h",
                    "127.0.0.1",
                    "-p",
                    str(ui_port),
                ],
                env,
                cwd=str(REPO),
            )
        )
    return children


def _supervise(children: list[Child], ready: Callable[[], None]) -> None:
    code = Supervisor(children, say=console.print).run(ready)
    if code:
        raise SystemExit(code)
    console.print("Stopped.")


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=8000,
    show_default=True,
    help="0: any free port.",
)
@click.option(
    "--tls-cert",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="The hub's certificate (PEM); needed off loopback.",
)
@click.option(
    "--tls-key",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Its private key (PEM), readable by the hub's account only.",
)
@click.option("--ui", is_flag=True, help="Also run the Dagster UI on 127.0.0.1 (--ui-port).")
@click.option(
    "--ui-port", type=int, default=3000, show_default=True, help="Port of the Dagster UI."
)
@click.option(
    "--no-daemon", is_flag=True, help="Run the API only; the Dagster daemon runs elsewhere."
)
@click.option(
    "--rate-limit",
    type=click.FloatRange(min=1),
    default=120,
    show_default=True,
    help="Requests a minute per token.",
)
@click.option(
    "--header-timeout",
    type=click.FloatRange(min=0.1),
    default=10,
    show_default=True,
    help="Seconds a client has to send a request's headers.",
)
@click.option(
    "--body-timeout",
    type=click.FloatRange(min=0.1),
    default=30,
    show_default=True,
    help="Seconds an upload may stall before it is refused.",
)
@creating_home_option
def serve(
    *,
    host: str,
    port: int,
    tls_cert: Path | None,
    tls_key: Path | None,
    ui: bool,
    ui_port: int,
    no_daemon: bool,
    rate_limit: float,
    header_timeout: float,
    body_timeout: float,
    home: Home,
) -> None:
    """Run the hub: its API for NGOs, and the Dagster daemon that takes uploads in.

    NGOs submit to the API with their tokens (outcomes ngo register issues them);
    the daemon's inbox sensor takes each upload through intake, and its schedule
    releases closed quarters. Creates the hub's folder if needed. Listening on any
    address but this computer's needs --tls-cert and --tls-key. SIGTERM or Ctrl-C
    stops every process of the hub; a restart loses nothing.
    """
    from pipelines.hub.service.routes import Settings
    from pipelines.hub.service.server import settings_argv

    _check_tls(host, tls_cert, tls_key)
    home.create()
    settings = Settings(
        rate_per_minute=rate_limit,
        rate_burst=max(1, int(rate_limit // 2)),
        header_timeout_s=header_timeout,
        body_idle_timeout_s=body_timeout,
    )
    sock = _listen(host, port)
    bound = sock.getsockname()[1]
    scheme = "https" if tls_cert else "http"
    shown = f"[{host}]" if ":" in host else host
    api: list[str] = [
        sys.executable,
        "-m",
        "pipelines.hub.service.server",
        "--home",
        str(home.root),
    ]
    api += ["--fd", str(sock.fileno()), *settings_argv(settings)]
    if tls_cert and tls_key:
        api += ["--tls-cert", str(tls_cert.resolve()), "--tls-key", str(tls_key.resolve())]
    children = [
        Child(
            "the hub's API",
            api,
            {**os.environ, "OUTCOMES_HOME": str(home.root)},
            pass_fds=(sock.fileno(),),
            on_parent_death=signal.SIGKILL,
        ),
        *dagster_children(home, daemon=not no_daemon, ui_port=ui_port if ui else None),
    ]

    def ready() -> None:
        sock.close()  # the API holds its own copy
        console.print(f"Hub API for {home.root} on {scheme}://{shown}:{bound} (docs at /docs)")
        if not no_daemon:
            console.print(
                "The Dagster daemon takes uploads in (inbox sensor) and runs the schedule."
            )
        if ui:
            console.print(f"Dagster UI on http://127.0.0.1:{ui_port}")
        console.print("Ctrl-C or SIGTERM stops the hub.", highlight=False)

    _supervise(children, ready)


@click.command()
@click.option("--port", type=int, default=3000, show_default=True, help="Port of the Dagster UI.")
@home_option
def ui(port: int, home: Home) -> None:
    """Open the Dagster UI for this hub: assets, checks, the inbox sensor, run history.

    Runs the Dagster webserver on 127.0.0.1 and, unless the hub's own daemon
    already runs (outcomes serve), a Dagster daemon. SIGTERM or Ctrl-C stops both.
    """
    children = dagster_children(home, daemon=True, ui_port=port)

    def ready() -> None:
        console.print(f"Dagster UI for {home.root} on http://127.0.0.1:{port} (Ctrl-C to stop)")

    _supervise(children, ready)


COMMANDS: tuple[Any, ...] = (serve, ui)
