"""The hub's API as an ASGI application: the route table served, errors answered in one place.

Each route of :data:`~pipelines.hub.service.routes.ENDPOINTS` is wrapped once:
the caller is admitted (the token's NGO, within its rate limit), the handler
runs, and whatever it raises is answered by :func:`~.answers.problem_for`.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import anyio.to_thread
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from pipelines.home import Home
from pipelines.hub.service.answers import _ANSWERS, problem_handler
from pipelines.hub.service.callers import RateLimited, Unauthorised
from pipelines.hub.service.routes import ENDPOINTS, Endpoint, Hub, Settings
from pipelines.hub.service.uploads import DRAIN_BYTES, MultipartUpload
from pipelines.standard import api

log = logging.getLogger("outcome_hub.api")


def _declares_body(request: Request) -> int:
    length = request.headers.get("content-length", "")[:32]
    if length.isdigit():
        return int(length)
    return DRAIN_BYTES if "transfer-encoding" in request.headers else 0


def _route(hub: Hub, endpoint: Endpoint) -> Route:
    label = f"{endpoint.method} {endpoint.path}"

    async def serve(request: Request) -> Response:
        started = time.perf_counter()
        client = request.client.host if request.client else "-"
        caller = None
        try:
            if endpoint.authenticated:
                caller = await anyio.to_thread.run_sync(
                    lambda: hub.gate.admit(request.headers, client, label)
                )
            response = await endpoint.handler(hub, request, caller)
        except (Unauthorised, RateLimited):
            if 0 < _declares_body(request) <= DRAIN_BYTES:
                # Read what the client is sending, so that it reads this answer.
                upload = MultipartUpload(request.receive, b"x", idle_timeout_s=5.0, deadline_s=30.0)
                await upload.drain()
            raise
        finally:
            log.info(
                "%s %s by %s from %s in %.0f ms",
                endpoint.method,
                request.url.path,
                caller.ngo.ngo_id if caller else "-",
                client,
                1000 * (time.perf_counter() - started),
            )
        return response

    return Route(endpoint.path, serve, methods=[endpoint.method], name=endpoint.name)


def create_app(home: Home, settings: Settings | None = None) -> Starlette:
    """The hub's API for ``home``."""
    from pipelines.hub.service.docs import docs_css, docs_page
    from pipelines.hub.service.openapi import openapi_spec

    hub = Hub(home, settings or Settings())
    spec = openapi_spec(ENDPOINTS)

    async def openapi(_request: Request) -> Response:
        return JSONResponse(spec)

    page = docs_page(spec)

    async def docs(_request: Request) -> Response:
        return HTMLResponse(page)

    css = docs_css()

    async def stylesheet(_request: Request) -> Response:
        return Response(css, media_type="text/css; charset=utf-8")

    routes = [_route(hub, e) for e in ENDPOINTS]
    routes += [
        Route(api.OPENAPI, openapi, methods=["GET"], name="openapi"),
        Route(api.DOCS, docs, methods=["GET"], name="docs"),
        Route(f"{api.DOCS}/docs.css", stylesheet, methods=["GET"], name="docs_css"),
    ]
    handlers: dict[Any, Any] = dict.fromkeys(_ANSWERS, problem_handler)
    handlers[Exception] = problem_handler
    app = Starlette(routes=routes, exception_handlers=handlers)
    app.state.hub = hub
    return app
