"""Bad input at the hub's door gets a clear answer and loses nothing, against a real server.

Every test runs ``outcomes serve`` in a subprocess on a free loopback port and
talks to it with a real HTTP client (httpx, or a raw socket where a client
misbehaves on purpose). Each checks what the caller is told, that nothing of a
refused upload is left in the hub's inbox, and, for refusals about who is
calling, what the desk's journal holds: the attempt, never the token.
"""

from __future__ import annotations

import hashlib
import json
import socket
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pyarrow as pa
import pytest
from ngo_helpers import multipart, pack_rows
from service_helpers import HubProcess

from pipelines.home import Home
from pipelines.hub.desk import register
from pipelines.hub.desk.store import opened
from pipelines.hub.inbox import pending_ids
from pipelines.ngo.folder import NgoHome
from pipelines.ngo.outbox import Package
from pipelines.standard.api import SUBMISSIONS
from pipelines.standard.periods import Period

NGO, OTHER = "ngo-0042", "ngo-0043"


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """One service for the module's tests (each uses NGOs and packages of its own)."""
    from service_helpers import start_hub

    root = tmp_path_factory.mktemp("hub")
    served = start_hub(
        Home(root / "home"), root / "service", "--header-timeout", "1", "--body-timeout", "1"
    )
    yield served
    served.stop()


def journal(home: Home) -> list[dict[str, Any]]:
    """The desk's journal (events not yet moved into the vault), oldest first."""
    with opened(home) as desk:
        rows = desk.execute(
            "SELECT actor, action, subject, detail FROM journal ORDER BY recorded_at"
        ).fetchall()
    return [{"actor": a, "action": b, "subject": c, "detail": json.loads(d)} for a, b, c, d in rows]


def desk_bytes(home: Home) -> bytes:
    """Everything the desk holds on disk, its write-ahead log included."""
    with opened(home) as desk:
        desk.execute("PRAGMA wal_checkpoint(FULL)")
    return b"".join(p.read_bytes() for p in home.hub.glob("desk.sqlite*"))


def inbox_entries(home: Home) -> list[str]:
    """Everything in the inbox, hidden staging folders included."""
    return sorted(p.name for p in home.inbox.iterdir()) if home.inbox.exists() else []


def upload(
    hub: HubProcess, token: Path | None, package: Package, **changes: bytes
) -> httpx.Response:
    body, kind = multipart(
        changes.get("manifest", package.manifest_bytes()),
        changes.get("payload", package.payload.read_bytes()),
    )
    with hub.client(token) as client:
        return client.post(SUBMISSIONS, content=body, headers={"Content-Type": kind})


@pytest.fixture
def package(ngo_home: NgoHome, episode_rows: Callable[..., Any]) -> Callable[..., Package]:
    """A fresh, valid package of ``ngo`` (each call holds different rows)."""
    counter = iter(range(1, 10_000))

    def make(ngo: str = NGO, **kwargs: Any) -> Package:
        return pack_rows(ngo_home, ngo, episode_rows(next(counter) + 2), **kwargs)

    return make


def _quiet_inbox(hub: HubProcess, before: list[str]) -> None:
    """Wait (briefly) until an upload the server dropped has left the inbox as it was."""
    deadline = time.monotonic() + 5
    while inbox_entries(hub.home) != before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert inbox_entries(hub.home) == before


def test_a_request_without_a_token_is_refused_and_journalled(
    hub: HubProcess, package: Callable[..., Package]
) -> None:
    """Tests that an upload with no Authorization header is answered 401 with what to send,
    leaves the inbox as it was, and is journalled as a refusal naming the route."""
    before = inbox_entries(hub.home)
    answer = upload(hub, None, package())
    assert answer.status_code == 401
    assert answer.headers["WWW-Authenticate"].startswith("Bearer")
    assert answer.json()["error"] == "no_token"
    assert "Authorization: Bearer <token>" in answer.json()["message"]
    _quiet_inbox(hub, before)
    refused = [e for e in journal(hub.home) if e["action"] == "api_refused_no_token"]
    assert refused[-1]["detail"]["route"] == f"POST {SUBMISSIONS}"


def test_a_wrong_token_is_refused_and_journalled_without_the_token(
    hub: HubProcess, package: Callable[..., Package], tmp_path: Path
) -> None:
    """Tests that a token the hub never issued is answered 401, that the journal records the
    attempt with a fingerprint of the token, and that the token appears nowhere in the desk's
    file, the journal or the service's log."""
    hub.token_file(NGO)
    wrong = tmp_path / "wrong.token"
    token = "ohub_" + "Q" * 43
    wrong.write_text(token)
    answer = upload(hub, wrong, package())
    assert answer.status_code == 401
    assert answer.json() == {
        "error": "wrong_token",
        "message": "This API token is not one the hub issued. Check that the whole token was "
        "copied, or ask the hub's steward for a new one.",
    }
    (event,) = [e for e in journal(hub.home) if e["action"] == "api_refused_unknown_token"]
    assert event["detail"]["token"].startswith("sha256:")
    assert token not in json.dumps(event)
    assert token.encode() not in desk_bytes(hub.home)
    assert token not in hub.output()


def test_a_revoked_token_is_refused_saying_so_and_journalled_against_its_ngo(
    hub: HubProcess, package: Callable[..., Package]
) -> None:
    """Tests that after `outcomes ngo revoke`, the NGO's old token gets 401 saying it was
    revoked, the journal names the NGO (never the token), and nothing reaches the inbox."""
    token = hub.token_file("ngo-revoked")
    with opened(hub.home) as desk:
        register.revoke(desk, ngo_id="ngo-revoked", actor="steward")
    before = inbox_entries(hub.home)
    answer = upload(hub, token, package("ngo-revoked"))
    assert answer.status_code == 401
    assert answer.json()["error"] == "token_revoked"
    assert "This token was revoked on" in answer.json()["message"]
    _quiet_inbox(hub, before)
    (event,) = [e for e in journal(hub.home) if e["action"] == "api_refused_revoked_token"]
    assert event["subject"] == "ngo-revoked"
    assert token.read_text().strip().encode() not in desk_bytes(hub.home)


def test_a_manifest_naming_another_ngo_is_refused_and_journalled(
    hub: HubProcess, package: Callable[..., Package]
) -> None:
    """Tests that an NGO uploading a package whose manifest names another NGO gets 403, that
    nothing reaches the inbox, and that the journal records who tried to submit as whom."""
    token = hub.token_file(NGO)
    hub.token_file(OTHER)
    before = inbox_entries(hub.home)
    answer = upload(hub, token, package(OTHER))
    assert answer.status_code == 403
    assert answer.json()["error"] == "wrong_ngo"
    assert f"This token belongs to {NGO}" in answer.json()["message"]
    _quiet_inbox(hub, before)
    (event,) = [e for e in journal(hub.home) if e["action"] == "upload_refused_wrong_ngo"]
    assert (event["subject"], event["detail"]["manifest_names"]) == (NGO, OTHER)
    assert event["actor"].startswith(f"{NGO} (API, 127.0.0.1)")


def test_a_payload_that_does_not_match_its_sha256_is_refused_and_not_kept(
    hub: HubProcess, package: Callable[..., Package]
) -> None:
    """Tests that a payload changed on the way (its sha256 no longer the manifest's) is answered
    422 saying to send it again, and that no byte of it is left in the inbox."""
    token = hub.token_file(NGO)
    sent = package()
    before = inbox_entries(hub.home)
    changed = bytearray(sent.payload.read_bytes())
    changed[len(changed) // 2] ^= 0xFF
    answer = upload(hub, token, sent, payload=bytes(changed))
    assert answer.status_code == 422
    assert answer.json()["error"] == "sha256_mismatch"
    assert "Nothing was kept; send the package again." in answer.json()["message"]
    _quiet_inbox(hub, before)


def test_a_malformed_manifest_is_refused_naming_what_is_wrong(
    hub: HubProcess, package: Callable[..., Package]
) -> None:
    """Tests that a manifest that is not JSON, and one whose period is not a quarter, are each
    answered 422 with a message naming the field (never its value), keeping nothing."""
    token = hub.token_file(NGO)
    sent = package()
    before = inbox_entries(hub.home)
    answer = upload(hub, token, sent, manifest=b"{not json at all")
    assert answer.status_code == 422
    assert answer.json()["message"] == "The manifest is not JSON text in UTF-8."
    doc = json.loads(sent.manifest_bytes())
    doc["period"] = "Wiremu Tane"
    answer = upload(hub, token, sent, manifest=json.dumps(doc).encode())
    assert answer.status_code == 422
    assert "period must be a quarter written YYYY-Qn" in answer.json()["message"]
    assert "Wiremu" not in answer.text
    _quiet_inbox(hub, before)


def _answer(sock: socket.socket) -> str:
    """Everything the hub sends on a raw connection until it closes it (an answer can arrive in
    several pieces)."""
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    return data.decode()


def _raw(hub: HubProcess) -> socket.socket:
    host, port = hub.url.removeprefix("http://").rsplit(":", 1)
    return socket.create_connection((host, int(port)), timeout=10)


def test_a_body_over_the_limit_is_refused_before_it_is_read(hub: HubProcess) -> None:
    """Tests that an upload declaring 200 MB is answered 413 naming the limit at once, while the
    client has sent only its headers: the hub never reads such a body."""
    token = hub.token_file(NGO).read_text().strip()
    with _raw(hub) as sock:
        sock.sendall(
            f"POST {SUBMISSIONS} HTTP/1.1\r\nHost: hub\r\nAuthorization: Bearer {token}\r\n"
            "Content-Type: multipart/form-data; boundary=x\r\n"
            f"Content-Length: {200 * 1024 * 1024}\r\n\r\n".encode()
        )
        started = time.monotonic()
        answer = _answer(sock)
    assert time.monotonic() - started < 5
    assert answer.startswith("HTTP/1.1 413")
    assert "declares 209,715,200 bytes; the most is the limit `file_bytes` (100 MB)" in answer


def test_a_client_that_never_finishes_its_headers_is_disconnected(hub: HubProcess) -> None:
    """Tests that a connection whose request headers stop half-way is closed by the hub within
    its header timeout (1 s here), so slow clients cannot hold connections open."""
    with _raw(hub) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: hub\r\nX-Slow: ")
        started = time.monotonic()
        assert sock.recv(100) == b""  # closed, without an answer
    assert time.monotonic() - started < 5


def test_an_upload_that_stalls_is_refused_and_nothing_of_it_kept(
    hub: HubProcess, package: Callable[..., Package]
) -> None:
    """Tests that an upload whose body stops arriving is answered 408 once its body timeout (1 s
    here) has passed, saying to send it again, and that nothing of it stays in the inbox."""
    token = hub.token_file(NGO)
    sent = package()
    body, kind = multipart(sent.manifest_bytes(), sent.payload.read_bytes())
    before = inbox_entries(hub.home)
    with _raw(hub) as sock:
        sock.sendall(
            f"POST {SUBMISSIONS} HTTP/1.1\r\nHost: hub\r\nAuthorization: Bearer "
            f"{token.read_text().strip()}\r\nContent-Type: {kind}\r\n"
            f"Content-Length: {len(body)}\r\n\r\n".encode()
            + body[: len(body) - 100]
        )
        started = time.monotonic()
        answer = _answer(sock)
    assert time.monotonic() - started < 5
    assert answer.startswith("HTTP/1.1 408")
    assert "The upload stalled" in answer
    _quiet_inbox(hub, before)


def test_the_same_file_twice_gets_the_same_receipt(
    hub: HubProcess, package: Callable[..., Package]
) -> None:
    """Tests that a package sent twice is answered 202 then 200 with the very same receipt (the
    hub's first receive time), and that the inbox holds it once."""
    token = hub.token_file(NGO)
    sent = package()
    first = upload(hub, token, sent)
    again = upload(hub, token, sent)
    assert (first.status_code, again.status_code) == (202, 200)
    assert again.json() == first.json()
    assert first.json()["ngo_id"] == NGO
    assert pending_ids(hub.home).count(sent.submission_id) == 1


def test_a_payload_that_is_not_parquet_or_has_extra_columns_is_refused_by_intake(
    hub: HubProcess, package: Callable[..., Package]
) -> None:
    """Tests that bytes that are not Parquet, and a Parquet file with a column the contract does
    not have, are received at the door (202: the door checks who sent what, with which hash)
    and refused by the hub's intake, whose report the NGO then reads from GET
    /v1/submissions/{id} with the rule that failed and no value."""
    from pipelines.assets.runs import run_intake

    token = hub.token_file("ngo-0044")
    garbage = package("ngo-0044", period="2025-Q2")
    doc = json.loads(garbage.manifest_bytes())
    data = b"these are not the bytes of a Parquet file, Wiremu"
    doc["sha256"] = hashlib.sha256(data).hexdigest()
    del doc["submission_id"]  # the manifest names the new hash: only the contents are wrong
    manifest = json.dumps(doc).encode()
    wide = package(
        "ngo-0044",
        change=lambda t: t.append_column("notes", pa.array(["Aroha"] * t.num_rows)),
    )
    answers = [
        upload(hub, token, garbage, manifest=manifest, payload=data),
        upload(hub, token, wide),
    ]
    assert [a.status_code for a in answers] == [202, 202]
    ids = [a.json()["submission_id"] for a in answers]

    runs = run_intake(hub.home)
    assert all(r.success for r in runs)

    with hub.client(token) as client:
        verdicts = [client.get(f"{SUBMISSIONS}/{sid}").json() for sid in ids]
    assert [v["status"] for v in verdicts] == ["refused", "refused"]
    assert [[f["rule"] for f in v["report"]["failures"]] for v in verdicts] == [
        ["hub.payload"],
        ["hub.columns"],
    ]
    assert "could not be read as Parquet" in verdicts[0]["report"]["failures"][0]["description"]
    for text in ("Wiremu", "Aroha"):
        assert text not in json.dumps(verdicts)
        assert not any(text.encode() in p.read_bytes() for p in hub.home.hub.rglob("*.json"))


def test_another_ngos_submission_is_answered_as_if_it_did_not_exist(
    hub: HubProcess, package: Callable[..., Package]
) -> None:
    """Tests that an NGO lists only its own submissions and that asking for another NGO's
    submission by its id gets exactly the 404 a made-up id gets."""
    mine, theirs = hub.token_file("ngo-0045"), hub.token_file("ngo-0046")
    sid = upload(hub, theirs, package("ngo-0046")).json()["submission_id"]
    with hub.client(mine) as client:
        listed = client.get(SUBMISSIONS).json()["submissions"]
        other = client.get(f"{SUBMISSIONS}/{sid}")
        made_up = client.get(f"{SUBMISSIONS}/{sid[:-1]}0")
    assert listed == []
    assert (other.status_code, made_up.status_code) == (404, 404)
    assert other.json() == made_up.json()


def test_too_many_requests_are_answered_429_with_retry_after(
    hub_server: Callable[..., HubProcess],
) -> None:
    """Tests that a token making requests faster than its rate limit (3 a minute here) gets 429
    with a Retry-After in seconds and a message saying when to try again."""
    served = hub_server("--rate-limit", "3")
    token = served.token_file(NGO)
    with served.client(token) as client:
        answers = [client.get(SUBMISSIONS) for _ in range(4)]
    assert answers[0].status_code == 200
    limited = answers[-1]
    assert limited.status_code == 429
    assert int(limited.headers["Retry-After"]) >= 1
    assert limited.json()["message"].startswith("Too many requests with this token; try again in")


@pytest.mark.slow
def test_200_submissions_from_50_ngos_at_once_are_all_received_and_taken_in(
    hub_server: Callable[..., HubProcess],
    ngo_home: NgoHome,
    episode_rows: Callable[..., Any],
    assessment_rows: Callable[..., Any],
) -> None:
    """Tests that 200 uploads from 50 NGOs sent at once (16 connections) each get a receipt for
    their own NGO, that the inbox then holds exactly those 200, that intake accepts them all,
    and that the audit log names the right NGO for every upload it received."""
    from concurrent.futures import ThreadPoolExecutor

    from pipelines.assets.runs import run_intake
    from pipelines.hub import audit
    from pipelines.hub.vault import open_vault

    served = hub_server()
    ngos = [f"ngo-{n:04d}" for n in range(100, 150)]
    tokens = {n: served.token_file(n) for n in ngos}
    packages = []
    for i, ngo in enumerate(ngos):
        for period in ("2025-Q2", "2025-Q3"):
            episodes = episode_rows(3 + i % 4, Period.parse(period))
            packages.append(pack_rows(ngo_home, ngo, episodes, period=period))
            packages.append(
                pack_rows(
                    ngo_home, ngo, assessment_rows(episodes), period=period, dataset="assessments"
                )
            )

    def send(p: Package) -> httpx.Response:
        return upload(served, tokens[p.ngo_id], p)

    with ThreadPoolExecutor(max_workers=16) as pool:
        answers = list(pool.map(send, packages))

    assert [a.status_code for a in answers] == [202] * 200
    receipts = {a.json()["submission_id"]: a.json()["ngo_id"] for a in answers}
    assert receipts == {p.submission_id: p.ngo_id for p in packages}
    assert sorted(pending_ids(served.home)) == sorted(receipts)
    runs = run_intake(served.home)
    assert runs
    assert all(r.success for r in runs)
    with open_vault(served.home).connect() as con:
        statuses = dict(con.execute("SELECT submission_id, status FROM submissions").fetchall())
        received = audit.entries(con, action="received", limit=1000)
    assert statuses == dict.fromkeys(receipts, "accepted")
    assert {e["subject"]: e["detail"]["ngo_id"] for e in received} == receipts
    assert all(e["actor"].startswith(f"{receipts[e['subject']]} (API") for e in received)
    with sqlite3.connect(served.home.desk) as desk:
        assert desk.execute(
            "SELECT count(*) FROM receipts WHERE status = 'accepted'"
        ).fetchone() == (200,)
