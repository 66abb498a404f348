"""What the NGO's outbox does with each kind of answer, without a network (httpx's MockTransport).

The real server is in ``tests/service``; here the hub's answers are chosen, to
prove that a package leaves the outbox only on its own receipt or a refusal of
the package itself, and that waiting is done with backoff."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from ngo_helpers import pack_rows

from pipelines.ngo.client import HubClient
from pipelines.ngo.deliver import deliver
from pipelines.ngo.folder import NgoHome
from pipelines.ngo.outbox import Package, waiting
from pipelines.ngo.token import Token

NGO = "ngo-0042"
TOKEN = Token("ohub_" + "t" * 43)


def _receipt(package: Package, **changes: Any) -> dict[str, Any]:
    m = package.manifest
    return {
        "submission_id": m.submission_id,
        "ngo_id": m.ngo_id,
        "period": m.period,
        "dataset": m.dataset,
        "sha256": m.sha256,
        "bytes": package.payload.stat().st_size,
        "received_at": "2025-10-01T00:00:00.000000+00:00",
        **changes,
    }


def _client(answers: list[httpx.Response], seen: list[httpx.Request]) -> HubClient:
    def answer(request: httpx.Request) -> httpx.Response:
        request.read()
        seen.append(request)
        return answers.pop(0)

    return HubClient("http://127.0.0.1:9", TOKEN, transport=httpx.MockTransport(answer))


@pytest.fixture
def package(ngo_home: NgoHome, episode_rows: Callable[..., Any]) -> Package:
    return pack_rows(ngo_home, NGO, episode_rows(4))


def _problem(status: int, error: str, message: str) -> httpx.Response:
    return httpx.Response(status, json={"error": error, "message": message})


def test_a_package_leaves_the_outbox_only_with_its_own_receipt(
    ngo_home: NgoHome, package: Package
) -> None:
    """Tests that a 202 with the package's receipt keeps the receipt and empties the outbox, that
    the upload carried the token in its Authorization header only and declared its length, and
    that a receipt for some other submission leaves the package waiting."""
    seen: list[httpx.Request] = []
    wrong = _client([httpx.Response(202, json=_receipt(package, sha256="0" * 64))], seen)
    result = deliver(ngo_home, wrong, package)
    assert (result.outcome, result.message) == (
        "waiting",
        "the hub's receipt is not for this package",
    )
    assert waiting(ngo_home) == [package]

    right = _client([httpx.Response(202, json=_receipt(package))], seen)
    result = deliver(ngo_home, right, package)
    assert (result.outcome, result.new) == ("delivered", True)
    assert waiting(ngo_home) == []
    kept = json.loads((ngo_home.receipts(NGO) / f"{package.submission_id}.json").read_text())
    assert kept["submission_id"] == package.submission_id
    request = seen[-1]
    assert request.headers["Authorization"] == f"Bearer {TOKEN.reveal()}"
    assert int(request.headers["Content-Length"]) == len(request.content)
    assert TOKEN.reveal().encode() not in request.content


def test_a_hub_that_asks_to_wait_is_tried_again_with_backoff(
    ngo_home: NgoHome, package: Package
) -> None:
    """Tests that 503, then 429 with Retry-After 7, then a receipt is delivered on the third try,
    having waited 1 s, then the 7 s the hub asked for; and that a hub that never stops asking
    leaves the package waiting after the last try, with the hub's message."""
    naps: list[float] = []
    busy = _problem(503, "busy", "The hub is restarting.")
    limited = httpx.Response(
        429, json={"error": "rate_limited", "message": "Too many."}, headers={"Retry-After": "7"}
    )
    answers = [busy, limited, httpx.Response(202, json=_receipt(package))]
    result = deliver(ngo_home, _client(answers, []), package, attempts=3, sleep=naps.append)
    assert result.outcome == "delivered"
    assert naps == [1.0, 7.0]


def test_a_hub_that_never_stops_asking_leaves_the_package_waiting(
    ngo_home: NgoHome, package: Package
) -> None:
    """Tests that after its last try the package is still in the outbox, with the hub's own
    words, having waited 1, 2 and 4 s between the four tries."""
    naps: list[float] = []
    busy = [_problem(503, "busy", "The hub is restarting.") for _ in range(4)]
    result = deliver(ngo_home, _client(busy, []), package, attempts=4, sleep=naps.append)
    assert result.outcome == "waiting"
    assert "asked to wait: The hub is restarting." in result.message
    assert naps == [1.0, 2.0, 4.0]
    assert waiting(ngo_home) == [package]


def test_a_refused_package_is_let_go_but_a_refused_token_keeps_it(
    ngo_home: NgoHome, package: Package, episode_rows: Callable[..., Any]
) -> None:
    """Tests that a 401 (the token) is a refusal that keeps the package for the right token,
    while a 422 (the package itself) lets it go and keeps the hub's refusal beside the
    receipts."""
    token_refused = _problem(401, "token_revoked", "This token was revoked.")
    result = deliver(ngo_home, _client([token_refused], []), package)
    assert (result.outcome, result.kept, result.stop) == ("refused", True, True)
    assert waiting(ngo_home) == [package]

    bad = _problem(422, "sha256_mismatch", "The payload does not match the sha256.")
    result = deliver(ngo_home, _client([bad], []), package)
    assert (result.outcome, result.kept) == ("refused", False)
    assert waiting(ngo_home) == []
    refusal = json.loads(
        (ngo_home.receipts(NGO) / f"{package.submission_id}.refused.json").read_text()
    )
    assert (refusal["status"], refusal["error"]) == (422, "sha256_mismatch")
