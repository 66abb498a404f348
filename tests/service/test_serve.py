"""`outcomes serve` and `outcomes ui` as a service manager sees them: what they start, and that
SIGTERM stops all of it."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from ngo_helpers import pack_rows
from service_helpers import OUTCOMES, HubProcess

from pipelines.home import Home
from pipelines.hub.inbox import pending_ids
from pipelines.ngo.folder import NgoHome
from pipelines.standard.api import SUBMISSIONS


def descendants(pid: int) -> set[int]:
    """Every process started, directly or not, by ``pid`` (from /proc)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(entry.name))
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def alive(pids: set[int]) -> set[int]:
    out = set()
    for pid in pids:
        try:
            state = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z":
            out.add(pid)
    return out


def test_serve_refuses_to_listen_beyond_this_computer_without_tls(
    home: Home, run_cli: Callable[..., Any]
) -> None:
    """Tests that `outcomes serve --host 0.0.0.0` without --tls-cert/--tls-key refuses to start
    (exit 2) saying why and what to give, before creating anything."""
    result = run_cli("serve", "--host", "0.0.0.0", "--home", home.root)  # noqa: S104
    assert result.exit_code == 2
    text = " ".join(result.output.split())
    assert "the hub would listen on 0.0.0.0 without TLS" in text
    assert "Give --tls-cert FILE --tls-key FILE" in text
    assert not home.root.exists()


@pytest.mark.slow
def test_serve_takes_uploads_in_through_its_daemon_and_sigterm_stops_every_process(
    home: Home,
    ngo_home: NgoHome,
    hub_server: Callable[..., HubProcess],
    episode_rows: Callable[..., Any],
) -> None:
    """Tests that one `outcomes serve` runs the API and the Dagster daemon, whose inbox sensor
    takes an upload in without anyone running intake (the NGO then reads 'accepted'), and that
    SIGTERM stops the API, the daemon and everything they started, with exit 0."""
    hub = hub_server("--with-daemon")
    token = hub.token_file("ngo-0042")
    package = pack_rows(ngo_home, "ngo-0042", episode_rows(5))
    from ngo_helpers import multipart

    body, kind = multipart(package.manifest_bytes(), package.payload.read_bytes())
    with hub.client(token) as client:
        assert (
            client.post(SUBMISSIONS, content=body, headers={"Content-Type": kind}).status_code
            == 202
        )
        deadline = time.monotonic() + 240
        status = "received"
        while status == "received" and time.monotonic() < deadline:
            time.sleep(2)
            status = client.get(f"{SUBMISSIONS}/{package.submission_id}").json()["status"]
    assert status == "accepted", hub.output()
    assert pending_ids(home) == []
    started = descendants(hub.proc.pid)
    assert len(started) >= 2  # the API and the daemon (and what the daemon runs)

    assert hub.stop() == 0
    assert alive(started) == set()
    assert "Stopping the hub (SIGTERM)" in hub.output()


@pytest.mark.slow
def test_ui_opens_without_the_newsletter_prompt_and_sigterm_stops_its_servers(
    home: Home, tmp_path: Path
) -> None:
    """Tests that `outcomes ui` serves the Dagster UI for the hub with the instance's nux
    setting off (no newsletter prompt) and that SIGTERM stops the webserver and the daemon,
    which used to survive it."""
    home.create()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    log = tmp_path / "ui.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [OUTCOMES, "ui", "--home", str(home.root), "--port", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 120
        while True:
            assert proc.poll() is None, log.read_text()
            try:
                if httpx.get(f"http://127.0.0.1:{port}/server_info", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.5)
        config = (home.dagster_home / "dagster.yaml").read_text()
        assert "nux:\n  enabled: false" in config
        started = descendants(proc.pid)
        assert len(started) >= 2
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0
        assert alive(started) == set()
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
