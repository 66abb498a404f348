"""The API's routes: one table of what each does, whom it serves, what it takes and answers.

A route authenticates (the token, never the request body), parses, calls the
core and answers with a type of :mod:`pipelines.standard.api`; what it raises
is answered by :mod:`.answers`. The same table builds the OpenAPI
description (:mod:`.openapi`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import anyio.to_thread
from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import Response

from pipelines import __version__
from pipelines.home import Home
from pipelines.hub.desk import journal, receipts
from pipelines.hub.desk.store import opened, writing
from pipelines.hub.service.answers import BadRequest, NotFound
from pipelines.hub.service.callers import Caller, Gate, RateLimiter
from pipelines.hub.service.figures import PublishedCells, as_csv, as_figures
from pipelines.hub.service.receive import UploadRefused, receive_stream
from pipelines.hub.service.uploads import BODY_BYTES, MultipartUpload, boundary_of
from pipelines.standard import api
from pipelines.standard.contract import DATASETS, load_contract
from pipelines.standard.limits import FILE_BYTES
from pipelines.standard.names import check_submission_id
from pipelines.standard.periods import Period

# --- the hub behind the routes -------------------------------------------------------------------


@dataclass(frozen=True)
class Settings:
    """The service's limits; the defaults are what `outcomes serve` runs with."""

    rate_per_minute: float = 120.0
    rate_burst: int = 60
    refused_per_minute: float = 30.0
    header_timeout_s: float = 10.0
    body_idle_timeout_s: float = 30.0
    upload_deadline_s: float = 15 * 60.0


@dataclass
class Hub:
    """What the routes need: the hub's home, its gate and its published cells."""

    home: Home
    settings: Settings
    gate: Gate = field(init=False)
    cells: PublishedCells = field(init=False)

    def __post_init__(self) -> None:
        self.gate = Gate(
            self.home,
            RateLimiter(self.settings.rate_per_minute, self.settings.rate_burst),
            RateLimiter(self.settings.refused_per_minute, int(self.settings.refused_per_minute)),
        )
        self.cells = PublishedCells(self.home.exports)

    def journal(self, caller: Caller, action: str, subject: str, detail: dict[str, Any]) -> None:
        with opened(self.home) as desk, writing(desk):
            journal.record(desk, caller.actor, action, subject, detail)


# --- the route table -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Param:
    name: str
    where: Literal["query", "path"]
    description: str
    required: bool = False
    enum: tuple[str, ...] = ()
    pattern: str | None = None


@dataclass(frozen=True)
class Answer:
    status: int
    description: str
    model: type[BaseModel] | None = None
    media: str = "application/json"


Handler = Callable[[Hub, Request, Caller | None], Awaitable[Response]]


@dataclass(frozen=True)
class Endpoint:
    """One route: what it does, whom it serves, what it takes and answers, and its handler."""

    method: str
    path: str
    name: str
    summary: str
    description: str
    handler: Handler
    authenticated: bool = True
    params: tuple[Param, ...] = ()
    upload: bool = False
    answers: tuple[Answer, ...] = ()
    tag: str = "submissions"


def _json(model: BaseModel, status: int = 200) -> Response:
    return Response(model.model_dump_json(), status_code=status, media_type="application/json")


def _period(request: Request, required: bool) -> str | None:
    text = request.query_params.get("period")
    if text is None:
        if required:
            raise BadRequest("Give the period, like ?period=2026-Q3.")
        return None
    try:
        return str(Period.parse(text[:16]))
    except ValueError:
        raise BadRequest("period must be a quarter written like 2026-Q3.") from None


async def post_submission(hub: Hub, request: Request, caller: Caller | None) -> Response:
    assert caller is not None
    declared = request.headers.get("content-length", "")[:32]
    if declared.isdigit() and int(declared) > BODY_BYTES:
        # Refused before a byte of the body is read: the length says it all.
        raise UploadRefused(
            413,
            "too_large",
            f"The upload declares {int(declared):,} bytes; the most is {FILE_BYTES} and its manifest.",
        )
    boundary = boundary_of(request.headers.get("content-type"))
    upload = MultipartUpload(
        request.receive,
        boundary,
        idle_timeout_s=hub.settings.body_idle_timeout_s,
        deadline_s=hub.settings.upload_deadline_s,
    )
    try:
        manifest = await upload.manifest()
        receipt, new = await receive_stream(
            hub.home, caller.ngo, manifest, upload.payload(), actor=caller.actor
        )
    except UploadRefused as refused:
        code, size = refused.code, upload.received
        if code != "wrong_ngo":  # that one is journalled where it is found
            detail = {"error": code, "bytes": size}
            await anyio.to_thread.run_sync(
                lambda: hub.journal(caller, "upload_refused", caller.ngo.ngo_id, detail)
            )
        if code not in ("too_slow", "too_large"):
            await upload.drain()
        raise
    return _json(receipt, 202 if new else 200)


async def list_submissions(hub: Hub, request: Request, caller: Caller | None) -> Response:
    assert caller is not None
    period = _period(request, required=False)

    def read() -> list[api.Submission]:
        with opened(hub.home) as desk:
            return receipts.of_ngo(desk, caller.ngo.ngo_id, period)

    return _json(api.SubmissionList(submissions=await anyio.to_thread.run_sync(read)))


async def one_submission(hub: Hub, request: Request, caller: Caller | None) -> Response:
    assert caller is not None
    sid = request.path_params["submission_id"]
    missing = NotFound(
        f"There is no submission of this NGO with that id; list them with GET {api.SUBMISSIONS}."
    )
    try:
        check_submission_id(sid)
    except ValueError:
        raise missing from None

    def read() -> api.Submission | None:
        with opened(hub.home) as desk:
            return receipts.one(desk, caller.ngo.ngo_id, sid)

    found = await anyio.to_thread.run_sync(read)
    if found is None:  # another NGO's id is answered exactly like one that does not exist
        raise missing
    return _json(found)


async def figures(hub: Hub, request: Request, caller: Caller | None) -> Response:
    assert caller is not None
    period = _period(request, required=True)
    assert period is not None
    fmt = request.query_params.get("format", "json")
    if fmt not in ("json", "csv"):
        raise BadRequest("format must be json or csv.")
    ngo = caller.ngo.ngo_id
    frame = await anyio.to_thread.run_sync(lambda: hub.cells.of(ngo, period))
    await anyio.to_thread.run_sync(
        lambda: hub.journal(
            caller, "figures_read", ngo, {"period": period, "format": fmt, "cells": len(frame)}
        )
    )
    if fmt == "csv":
        return Response(
            as_csv(frame),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="figures-{ngo}-{period}.csv"'},
        )
    return _json(as_figures(frame, ngo, period))


async def contracts(_hub: Hub, _request: Request, _caller: Caller | None) -> Response:
    listed = [
        api.ContractInfo(
            name=name,
            version=load_contract(name).version,
            tag=load_contract(name).tag,
            url=f"{api.CONTRACTS}/{name}",
        )
        for name in DATASETS
    ]
    return _json(api.ContractList(contracts=listed))


async def one_contract(_hub: Hub, request: Request, _caller: Caller | None) -> Response:
    name = request.path_params["name"]
    if name not in DATASETS:
        raise NotFound(
            f"There is no contract named that; the contracts are: {', '.join(DATASETS)}."
        )
    path = load_contract(name).path
    return Response(path.read_bytes(), media_type="application/yaml; charset=utf-8")


async def health(_hub: Hub, _request: Request, _caller: Caller | None) -> Response:
    return _json(api.Health(status="ok", version=__version__, api=api.API_VERSION))


_PROBLEMS = (
    Answer(400, "The request cannot be used; the message says why.", api.Problem),
    Answer(401, "No token, or one the hub did not issue, revoked or replaced.", api.Problem),
    Answer(429, "Too many requests with this token; see Retry-After.", api.Problem),
)

ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint(
        "POST",
        api.SUBMISSIONS,
        "submit",
        "Upload a sanitised submission",
        "The body is multipart/form-data with two parts, `manifest` (the hand-over manifest, "
        "JSON) then `payload` (the sanitised Parquet file), streamed to the hub's disk. The "
        "payload's sha256 must match the manifest's, and the manifest must name the NGO whose "
        "token is used. A receipt is given only once the payload is on disk; the same "
        "submission sent again gets the same receipt. The hub validates it again before it "
        "counts: follow its status with GET /v1/submissions/{submission_id}.",
        post_submission,
        upload=True,
        answers=(
            Answer(202, "Received: the hub's receipt.", api.Receipt),
            Answer(200, "Received before: the same receipt as the first time.", api.Receipt),
            *_PROBLEMS[:2],
            Answer(403, "The manifest names another NGO than the token's.", api.Problem),
            Answer(408, "The upload stalled.", api.Problem),
            Answer(413, "The upload is over the size limit.", api.Problem),
            Answer(415, "The body is not multipart/form-data.", api.Problem),
            Answer(
                422, "The manifest is malformed, or the payload does not match it.", api.Problem
            ),
            _PROBLEMS[2],
        ),
    ),
    Endpoint(
        "GET",
        api.SUBMISSIONS,
        "submissions",
        "List the NGO's own submissions",
        "Every submission of the calling NGO, oldest first, with its status: received "
        "(waiting for the hub to validate it again), accepted, refused (with the hub's "
        "report: rules, counts and row numbers, never a value), superseded or purged.",
        list_submissions,
        params=(
            Param("period", "query", "Only this quarter, like 2026-Q3.", pattern=r"^\d{4}-Q[1-4]$"),
        ),
        answers=(Answer(200, "The NGO's submissions.", api.SubmissionList), *_PROBLEMS),
    ),
    Endpoint(
        "GET",
        f"{api.SUBMISSIONS}/{{submission_id}}",
        "submission",
        "One of the NGO's own submissions, with the hub's verdict",
        "Another NGO's submission is answered exactly as one that does not exist (404).",
        one_submission,
        params=(Param("submission_id", "path", "The id in the receipt.", required=True),),
        answers=(
            Answer(200, "The submission and, once validated, the hub's report.", api.Submission),
            *_PROBLEMS[1:2],
            Answer(404, "No submission of this NGO has that id.", api.Problem),
            _PROBLEMS[2],
        ),
    ),
    Endpoint(
        "GET",
        api.FIGURES,
        "figures",
        "The NGO's own released figures, and the pooled ones",
        "The published, differentially private cells of the quarter's current release that "
        "are about the calling NGO's clients, and the pooled cells across every contributing "
        "NGO for context. Each cell has its 95% interval, a reliability flag and the budget its "
        "measure spent.",
        figures,
        params=(
            Param(
                "period",
                "query",
                "The quarter, like 2026-Q3.",
                required=True,
                pattern=r"^\d{4}-Q[1-4]$",
            ),
            Param("format", "query", "json (the default) or csv.", enum=("json", "csv")),
        ),
        answers=(
            Answer(200, "The cells (JSON, or CSV with format=csv).", api.Figures),
            *_PROBLEMS[:2],
            Answer(404, "Nothing is released for that quarter yet.", api.Problem),
            _PROBLEMS[2],
        ),
        tag="figures",
    ),
    Endpoint(
        "GET",
        api.CONTRACTS,
        "contracts",
        "The data contracts",
        "The ODCS data contracts the hub validates against, so that an NGO's own system can "
        "validate an extract before sending it.",
        contracts,
        authenticated=False,
        answers=(Answer(200, "The contracts and where to fetch each.", api.ContractList),),
        tag="standard",
    ),
    Endpoint(
        "GET",
        f"{api.CONTRACTS}/{{name}}",
        "contract",
        "One data contract (ODCS YAML)",
        "The contract as the hub reads it.",
        one_contract,
        authenticated=False,
        params=(Param("name", "path", "episodes or assessments.", required=True, enum=DATASETS),),
        answers=(
            Answer(200, "The contract.", None, "application/yaml"),
            Answer(404, "No contract has that name.", api.Problem),
        ),
        tag="standard",
    ),
    Endpoint(
        "GET",
        api.HEALTH,
        "healthz",
        "Whether the hub's API answers",
        "For monitoring and for tools waiting for the hub to start.",
        health,
        authenticated=False,
        answers=(Answer(200, "The API answers.", api.Health),),
        tag="service",
    ),
)
