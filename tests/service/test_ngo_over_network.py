"""The NGO side over the network: submit, verdicts, figures and the outbox, against a real hub.

The NGO works in a folder of its own (never the hub's home) and reaches the hub
only through ``outcomes serve`` on loopback, with the token the register issued.
What must never happen is checked as the NGO would notice it: nothing is lost
when the hub is down, the connection drops or the hub is killed; an NGO cannot
read another's submissions or submit in its name.
"""

from __future__ import annotations

import csv
import io
import json
import socket
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from ngo_helpers import multipart
from service_helpers import HubProcess

from pipelines.home import Home
from pipelines.hub.inbox import pending_ids
from pipelines.ngo.folder import NgoHome
from pipelines.ngo.outbox import waiting
from pipelines.standard.api import SUBMISSIONS

NGO, OTHER = "ngo-0042", "ngo-0043"
NOT_DELIVERED = 3


def hub_args(hub: HubProcess, token: Path, *extra: str | Path) -> list[str | Path]:
    return ["--hub", hub.url, "--token-file", token, *extra]


def said(result: Any) -> str:
    return " ".join(result.output.split())


def package_of(result: Any) -> str:
    """The submission id `outcomes submit` packed."""
    return said(result).split("Packed for the hub as submission ", 1)[1].split(". ", 1)[0]


@pytest.mark.slow
def test_an_ngo_submits_from_its_own_folder_and_reads_its_verdict_and_its_figures(
    *,
    home: Home,
    ngo_home: NgoHome,
    hub_server: Callable[..., HubProcess],
    episodes_csv: Path,
    assessments_csv: Path,
    write_csv: Callable[..., Path],
    episode_rows: Callable[..., Any],
    submit_cli: Callable[..., Any],
    run_cli: Callable[..., Any],
    tmp_path: Path,
) -> None:
    """Tests the whole NGO path over HTTP: an NGO registered on the hub submits from a folder of
    its own (exit 0, the hub's receipt kept), reads its verdict with `outcomes status --hub`,
    is told plainly that nothing is released yet, then downloads its own figures and the pooled
    ones after the release; it never sees another NGO's submissions or cells, and cannot submit
    in another NGO's name."""
    from pipelines.assets.runs import run_intake, run_release
    from pipelines.hub.release import propose_and_approve
    from pipelines.hub.vault import open_vault
    from pipelines.privacy.plan import load_plan

    hub = hub_server()
    token, other_token = hub.token_file(NGO), hub.token_file(OTHER)
    assert not ngo_home.root.is_relative_to(home.root)

    first = submit_cli(episodes_csv, hub_args=hub_args(hub, token))
    assert first.exit_code == 0, first.output
    assert "Delivered" in said(first)
    assert "The hub received it" in said(first)
    assert (
        submit_cli(assessments_csv, dataset="assessments", hub_args=hub_args(hub, token)).exit_code
        == 0
    )
    assert waiting(ngo_home) == []
    assert len(list(ngo_home.receipts(NGO).glob("*.json"))) == 2

    other_rows = episode_rows(6)
    for row in other_rows:
        row["client_id"] = "X" + row["client_id"]
    theirs = submit_cli(
        write_csv("theirs.csv", other_rows),
        ngo=OTHER,
        at=NgoHome(tmp_path / "other"),
        hub_args=hub_args(hub, other_token),
    )
    assert theirs.exit_code == 0, theirs.output

    before = run_cli("status", *hub_args(hub, token))
    assert before.exit_code == 0
    assert said(before).count("received") >= 2
    assert "wait for the hub to validate them again" in said(before)
    assert OTHER not in before.output

    assert all(r.success for r in run_intake(home))
    verdict = run_cli("status", "--period", "2025-Q3", *hub_args(hub, token))
    assert verdict.exit_code == 0
    assert said(verdict).count("accepted") == 2
    assert OTHER not in verdict.output

    early = run_cli("figures", "--period", "2025-Q3", *hub_args(hub, token))
    assert early.exit_code == 1
    assert "Nothing has been released yet" in said(early)

    with open_vault(home).connect() as con:  # the steward approves the proposed release
        propose_and_approve(con, load_plan(), "2025-Q3", by="tests")
    run_release(home, "2025-Q3", requested_by="tests")
    shown = run_cli("figures", "--period", "2025-Q3", *hub_args(hub, token))
    assert shown.exit_code == 0, shown.output
    assert f"{NGO}, 2025-Q3:" in said(shown)
    out = tmp_path / "mine.csv"
    saved = run_cli("figures", "--period", "2025-Q3", "--out", out, *hub_args(hub, token))
    assert saved.exit_code == 0
    cells = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8"))))
    assert {c["scope"] for c in cells} == {"own", "pooled"}
    assert {c["ngo_id"] for c in cells} == {NGO, ""}
    as_json = tmp_path / "mine.json"
    assert (
        run_cli("figures", "--period", "2025-Q3", "--out", as_json, *hub_args(hub, token)).exit_code
        == 0
    )
    figures = json.loads(as_json.read_text())
    assert figures["ngo_id"] == NGO
    assert all(c["ci95_low"] is not None for c in figures["cells"] if c["value"] is not None)

    impostor = submit_cli(
        write_csv("impostor.csv", episode_rows(3)), ngo=OTHER, hub_args=hub_args(hub, token)
    )
    assert impostor.exit_code == 1
    assert f"Refused by the hub {package_of(impostor)}: This token belongs to {NGO}" in said(
        impostor
    )
    assert "stays in the outbox" in said(impostor)
    assert pending_ids(home) == []


def test_a_hub_that_is_down_loses_nothing_and_outbox_send_delivers_later(
    *,
    home: Home,
    ngo_home: NgoHome,
    hub_server: Callable[..., HubProcess],
    episodes_csv: Path,
    submit_cli: Callable[..., Any],
    run_cli: Callable[..., Any],
) -> None:
    """Tests that submitting while nothing answers at the hub's address exits 3 saying it waits
    in the outbox, that `outcomes outbox` lists it, and that `outcomes outbox send` delivers it
    once the hub runs (exit 0, the outbox empty, the hub's inbox holding it)."""
    from service_helpers import register_ngo

    token = register_ngo(home, NGO, home.root.parent / "tokens")
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        nowhere = f"http://127.0.0.1:{probe.getsockname()[1]}"
    down = submit_cli(episodes_csv, hub_args=["--hub", nowhere, "--token-file", token])
    assert down.exit_code == NOT_DELIVERED, down.output
    assert "nothing answered at that address: is the hub running?" in said(down)
    assert "It waits in the outbox; nothing was lost." in said(down)
    (package,) = waiting(ngo_home)
    listed = run_cli("outbox", "--ngo-home", ngo_home.root)
    assert "Waiting in the outbox (1)" in listed.output
    assert package.submission_id in listed.output

    hub = hub_server()
    sent = run_cli(
        "outbox", "send", "--ngo", NGO, "--ngo-home", ngo_home.root, *hub_args(hub, token)
    )
    assert sent.exit_code == 0, sent.output
    assert waiting(ngo_home) == []
    assert pending_ids(home) == [package.submission_id]
    assert "The outbox is empty" in run_cli("outbox", "--ngo-home", ngo_home.root).output


def _half_upload(hub: HubProcess, token: Path, body: bytes, kind: str) -> socket.socket:
    """Send an upload's headers and the first half of its body, then stop: a dropped link."""
    host, port = hub.url.removeprefix("http://").rsplit(":", 1)
    sock = socket.create_connection((host, int(port)), timeout=10)
    sock.sendall(
        f"POST {SUBMISSIONS} HTTP/1.1\r\nHost: hub\r\n"
        f"Authorization: Bearer {token.read_text().strip()}\r\nContent-Type: {kind}\r\n"
        f"Content-Length: {len(body)}\r\n\r\n".encode()
        + body[: len(body) // 2]
    )
    return sock


def _inbox(home: Home) -> list[str]:
    return sorted(p.name for p in home.inbox.iterdir()) if home.inbox.exists() else []


def _until(check: Callable[[], bool], seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_a_truncated_upload_leaves_nothing_and_outbox_send_completes_it(
    *,
    home: Home,
    ngo_home: NgoHome,
    hub_server: Callable[..., HubProcess],
    episodes_csv: Path,
    submit_cli: Callable[..., Any],
    run_cli: Callable[..., Any],
) -> None:
    """Tests that when the connection drops half-way through an upload, the hub keeps nothing
    of it (no submission, no half-written file) and gives no receipt, and that `outcomes outbox
    send` later delivers the package whole."""
    hub = hub_server()
    token = hub.token_file(NGO)
    assert submit_cli(episodes_csv).exit_code == NOT_DELIVERED
    (package,) = waiting(ngo_home)
    body, kind = multipart(package.manifest_bytes(), package.payload.read_bytes())
    sock = _half_upload(hub, token, body, kind)
    _until(lambda: any(n.startswith(".incoming-") for n in _inbox(home)))
    sock.close()  # the link drops

    _until(lambda: _inbox(home) == [])
    assert pending_ids(home) == []
    with hub.client(token) as client:
        assert client.get(SUBMISSIONS).json() == {"submissions": []}

    sent = run_cli(
        "outbox", "send", "--ngo", NGO, "--ngo-home", ngo_home.root, *hub_args(hub, token)
    )
    assert sent.exit_code == 0, sent.output
    assert pending_ids(home) == [package.submission_id]
    assert waiting(ngo_home) == []


@pytest.mark.slow
def test_a_hub_killed_during_an_upload_loses_nothing_after_its_restart(
    *,
    home: Home,
    ngo_home: NgoHome,
    hub_server: Callable[..., HubProcess],
    episodes_csv: Path,
    submit_cli: Callable[..., Any],
    run_cli: Callable[..., Any],
) -> None:
    """Tests that when the hub is killed with SIGKILL in the middle of an upload, nothing
    half-written is ever taken for a submission (no complete folder, no receipt), that the
    restarted hub clears what the upload left, and that the NGO's `outcomes outbox send`
    then delivers the package."""
    hub = hub_server()
    token = hub.token_file(NGO)
    assert submit_cli(episodes_csv).exit_code == NOT_DELIVERED
    (package,) = waiting(ngo_home)
    body, kind = multipart(package.manifest_bytes(), package.payload.read_bytes())
    sock = _half_upload(hub, token, body, kind)
    _until(lambda: any(n.startswith(".incoming-") for n in _inbox(home)))

    hub.kill()
    sock.close()
    assert pending_ids(home) == []  # only a hidden, half-written upload is left

    again = hub_server()
    assert _inbox(home) == []
    sent = run_cli(
        "outbox", "send", "--ngo", NGO, "--ngo-home", ngo_home.root, *hub_args(again, token)
    )
    assert sent.exit_code == 0, sent.output
    assert pending_ids(home) == [package.submission_id]
    with again.client(token) as client:
        (receipt,) = client.get(SUBMISSIONS).json()["submissions"]
    assert (receipt["submission_id"], receipt["status"]) == (package.submission_id, "received")


def _certificates(folder: Path) -> tuple[Path, Path, Path]:
    """A private certificate authority and a certificate it issued for 127.0.0.1 (PEM files:
    the CA's certificate, the hub's certificate and the hub's key, owner-only)."""
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.now(UTC)
    ca_key, hub_key = (
        ec.generate_private_key(ec.SECP256R1()),
        ec.generate_private_key(ec.SECP256R1()),
    )
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Test hub CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False),
            critical=True,
        )
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name)
        .public_key(hub_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    folder.mkdir(parents=True, exist_ok=True)
    ca_file, cert_file, key_file = folder / "ca.pem", folder / "hub.pem", folder / "hub.key"
    ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        hub_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    key_file.chmod(0o600)
    return ca_file, cert_file, key_file


def test_the_hub_serves_tls_with_a_certificate_of_a_private_authority(
    *,
    home: Home,
    ngo_home: NgoHome,
    hub_server: Callable[..., HubProcess],
    episodes_csv: Path,
    submit_cli: Callable[..., Any],
    tmp_path: Path,
) -> None:
    """Tests that `outcomes serve --tls-cert --tls-key` answers only over TLS, that an NGO
    without the hub's CA certificate is told to give --ca-file (exit 3, nothing lost), and
    that with --ca-file the same package is delivered (exit 0)."""
    ca_file, cert_file, key_file = _certificates(tmp_path / "tls")
    hub = hub_server("--tls-cert", cert_file, "--tls-key", key_file, ca_file=ca_file)
    assert hub.url.startswith("https://127.0.0.1:")
    token = hub.token_file(NGO)

    untrusted = submit_cli(episodes_csv, hub_args=hub_args(hub, token))
    assert untrusted.exit_code == NOT_DELIVERED, untrusted.output
    assert "give its certificate with --ca-file" in said(untrusted)
    trusted = submit_cli(episodes_csv, hub_args=hub_args(hub, token, "--ca-file", ca_file))
    assert trusted.exit_code == 0, trusted.output
    assert len(pending_ids(home)) == 1
    with socket.create_connection(("127.0.0.1", int(hub.url.rsplit(":", 1)[1])), timeout=10) as raw:
        raw.sendall(b"GET /healthz HTTP/1.1\r\nHost: hub\r\n\r\n")
        assert not raw.recv(100).startswith(b"HTTP/1.1 200")  # no plain HTTP on a TLS port


def test_a_token_is_taken_only_from_a_private_file_or_the_environment(
    *,
    ngo_home: NgoHome,
    episodes_csv: Path,
    submit_cli: Callable[..., Any],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Tests that a token file others can read, a missing token, and a plain-http address on
    another computer are each a usage error (exit 2) saying what to do, before anything is
    validated or sent, and that --token is no option at all."""
    loose = tmp_path / "loose.token"
    loose.write_text("ohub_" + "a" * 43)
    loose.chmod(0o644)
    monkeypatch.delenv("OUTCOMES_HUB_TOKEN", raising=False)
    cases = [
        (["--hub", "http://127.0.0.1:9", "--token-file", loose], "can be read by other users"),
        (["--hub", "http://127.0.0.1:9"], "no API token: give --token-file FILE"),
        (
            ["--hub", "http://hub.example.org", "--token-file", loose],
            "plain http to another computer",
        ),
        (["--hub", "http://127.0.0.1:9", "--token", "ohub_x"], "No such option"),
    ]
    for args, message in cases:
        result = submit_cli(episodes_csv, hub_args=args)
        assert result.exit_code == 2, result.output
        assert message in said(result)
    assert not ngo_home.root.exists()


def test_the_key_moves_to_a_new_computer_and_never_replaces_another(
    *, tmp_path: Path, ngo_home: NgoHome, run_cli: Callable[..., Any]
) -> None:
    """Tests that `outcomes key export` writes the NGO's key to a new owner-only file, that
    `outcomes key import` on another folder installs the same key (pseudonyms stay the same),
    refuses a file others can read, and refuses to replace a different key."""
    from pipelines.ngo.keys import ngo_key

    original = ngo_key(ngo_home, NGO).key
    exported = tmp_path / "carry.key"
    result = run_cli("key", "export", "--ngo", NGO, "--out", exported, "--ngo-home", ngo_home.root)
    assert result.exit_code == 0, result.output
    assert exported.stat().st_mode & 0o077 == 0
    assert (
        run_cli(
            "key", "export", "--ngo", NGO, "--out", exported, "--ngo-home", ngo_home.root
        ).exit_code
        == 1
    )

    new_computer = NgoHome(tmp_path / "new-computer")
    installed = run_cli("key", "import", exported, "--ngo", NGO, "--ngo-home", new_computer.root)
    assert installed.exit_code == 0, installed.output
    assert ngo_key(new_computer, NGO).key == original
    assert (
        "nothing changed"
        in run_cli("key", "import", exported, "--ngo", NGO, "--ngo-home", new_computer.root).output
    )

    elsewhere = NgoHome(tmp_path / "elsewhere")
    ngo_key(elsewhere, NGO)  # a different key already there
    refused = run_cli("key", "import", exported, "--ngo", NGO, "--ngo-home", elsewhere.root)
    assert refused.exit_code == 1
    assert "already has a different key" in said(refused)
    assert ngo_key(elsewhere, NGO).key != original
    exported.chmod(0o644)
    loose = run_cli("key", "import", exported, "--ngo", NGO, "--ngo-home", tmp_path / "third")
    assert loose.exit_code == 1
    assert "can be read by other users" in said(loose)
