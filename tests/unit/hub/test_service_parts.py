"""The service's parts without a network: its description, its error answers, its rate limit,
and the start-up that mends a hard stop."""

from __future__ import annotations

import re
from typing import Any

import pytest
from starlette.testclient import TestClient

from pipelines.home import Home
from pipelines.hub.desk import receipts, register
from pipelines.hub.desk.store import opened
from pipelines.hub.service.answers import _ANSWERS, problem_for
from pipelines.hub.service.app import create_app
from pipelines.hub.service.callers import RateLimiter, Unauthorised
from pipelines.hub.service.receive import clear_staging, receive, recover_receipts
from pipelines.hub.service.routes import ENDPOINTS
from pipelines.standard import api


@pytest.fixture
def client(home: Home) -> TestClient:
    home.create()
    return TestClient(create_app(home))


def _refs(node: Any) -> set[str]:
    if isinstance(node, dict):
        found = {node["$ref"]} if "$ref" in node else set()
        return found.union(*(_refs(v) for v in node.values())) if node else found
    if isinstance(node, list):
        return set().union(*(_refs(v) for v in node)) if node else set()
    return set()


def test_the_openapi_description_is_built_from_the_route_table(client: TestClient) -> None:
    """Tests that /v1/openapi.json is OpenAPI 3.1 with every route of the table, its answers,
    the bearer token on exactly the routes that need one, and no reference left dangling."""
    spec = client.get(api.OPENAPI).json()
    assert spec["openapi"] == "3.1.0"
    for endpoint in ENDPOINTS:
        op = spec["paths"][endpoint.path][endpoint.method.lower()]
        assert set(op["responses"]) == {str(a.status) for a in endpoint.answers}
        assert ("security" in op) == endpoint.authenticated
    assert spec["components"]["securitySchemes"]["token"]["scheme"] == "bearer"
    schemas = spec["components"]["schemas"]
    assert {"Receipt", "Submission", "SubmissionList", "Figures", "Problem"} <= set(schemas)
    for ref in _refs(spec):
        assert ref.rsplit("/", 1)[1] in schemas, ref
    upload = spec["paths"][api.SUBMISSIONS]["post"]["requestBody"]["content"]
    assert list(upload["multipart/form-data"]["schema"]["properties"]) == ["manifest", "payload"]


def test_the_docs_are_html_from_the_hub_itself_with_nothing_fetched_elsewhere(
    client: TestClient,
) -> None:
    """Tests that /docs documents every operation and type, links only to the hub's own
    stylesheet and description, loads no script, and that the stylesheet is served."""
    page = client.get(api.DOCS)
    assert page.headers["content-type"].startswith("text/html")
    for endpoint in ENDPOINTS:
        assert f"<code>{endpoint.path}</code>" in page.text
    assert 'id="schema-Receipt"' in page.text
    assert "<script" not in page.text
    assert not re.search(r"(src|href)=\"(https?:)?//", page.text)
    css = client.get(f"{api.DOCS}/docs.css")
    assert css.status_code == 200
    assert css.headers["content-type"].startswith("text/css")
    assert "http" not in css.text


def test_every_error_is_a_json_problem_and_a_fault_shows_nothing_of_its_cause(
    client: TestClient,
) -> None:
    """Tests that an unknown address and a wrong method are JSON Problems, and that an error no
    route expected is a 500 whose message shows neither its text nor a stack trace."""
    missing = client.get("/v1/nothing-here")
    assert missing.status_code == 404
    assert missing.json()["error"] == "not_found"
    wrong = client.delete(api.HEALTH)
    assert (wrong.status_code, wrong.json()["error"]) == (405, "method_not_allowed")
    fault = problem_for(RuntimeError("client C1042 has 7 episodes"))
    assert fault.status_code == 500
    assert b"C1042" not in fault.body
    assert b"Traceback" not in fault.body
    assert api.Problem.model_validate_json(fault.body).error == "internal"
    said = problem_for(Unauthorised("no_token", "Send the token."))
    assert (said.status_code, said.headers["WWW-Authenticate"]) == (
        401,
        'Bearer realm="outcome-hub"',
    )
    assert Exception not in _ANSWERS  # only typed errors have answers of their own


def test_the_contracts_are_served_as_the_hub_reads_them(client: TestClient) -> None:
    """Tests that /v1/contracts lists both data contracts with their tags, and that each one's
    YAML is the file the hub validates against, byte for byte."""
    from pipelines.standard.contract import load_contract

    listed = client.get(api.CONTRACTS).json()["contracts"]
    assert [(c["name"], c["tag"]) for c in listed] == [
        ("episodes", "episodes.v1"),
        ("assessments", "assessments.v1"),
    ]
    for entry in listed:
        body = client.get(entry["url"])
        assert body.content == load_contract(entry["name"]).path.read_bytes()
    assert client.get(f"{api.CONTRACTS}/release_plan").status_code == 404


def test_a_token_bucket_allows_its_burst_then_its_rate() -> None:
    """Tests that a limiter of 60 a minute with a burst of 3 allows 3 requests at once, then
    says to wait a second, allows one more a second later, and keeps buckets apart per key."""
    now = [0.0]
    limiter = RateLimiter(60, 3, clock=lambda: now[0])
    assert [limiter.take("a") for _ in range(3)] == [None, None, None]
    assert limiter.take("a") == pytest.approx(1.0)
    assert limiter.take("b") is None
    now[0] = 1.0
    assert limiter.take("a") is None
    with pytest.raises(ValueError, match="a rate limit needs a positive rate and burst"):
        RateLimiter(0, 1)


def test_a_restart_records_receipts_of_uploads_that_reached_the_inbox_and_clears_the_rest(
    home: Home,
) -> None:
    """Tests that when the hub stopped between renaming an upload into the inbox and recording
    its receipt, the start-up records that receipt (so the NGO sees it), and that half-written
    uploads (hidden staging folders) are removed, never taken for submissions."""
    import json

    home.create()
    with opened(home) as desk:
        register.register(desk, ngo_id="ngo-0042", name="Kōwhai Trust", actor="tests")
        ngo = register.require(desk, "ngo-0042")
    payload = b"not even parquet; the door checks the hash only"
    import hashlib

    sha = hashlib.sha256(payload).hexdigest()
    manifest = json.dumps(
        {
            "manifest_version": 1,
            "ngo_id": "ngo-0042",
            "period": "2025-Q3",
            "dataset": "episodes",
            "contract": "episodes.v1",
            "contract_version": "1.0.0",
            "sha256": sha,
            "rows": 0,
            "submitted_on": "2025-10-01",
        }
    ).encode()
    receipt, new = receive(home, ngo, manifest, [payload], actor="tests")
    assert new
    with opened(home) as desk:
        desk.execute("DELETE FROM receipts")  # the stop came before the desk's record
    half = home.inbox / ".incoming-cut-short"
    half.mkdir()
    (half / "data.parquet").write_bytes(payload[:5])

    assert clear_staging(home) == 1
    assert recover_receipts(home) == 1
    assert recover_receipts(home) == 0
    assert sorted(p.name for p in home.inbox.iterdir()) == [receipt.submission_id]
    with opened(home) as desk:
        (recorded,) = receipts.of_ngo(desk, "ngo-0042")
    assert (recorded.submission_id, recorded.received_at) == (
        receipt.submission_id,
        receipt.received_at,
    )
