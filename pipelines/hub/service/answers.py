"""The one place where what the core raises becomes an HTTP answer.

Each error a route may raise has a status, a short code and a message for a
person (:data:`_ANSWERS`); anything else is a 500 that shows nothing of its
cause (the service's log has where it happened, never a value). Every answer
is a JSON :class:`~pipelines.standard.api.Problem`: never a stack trace, a row
value or a token.
"""

from __future__ import annotations

import logging
import math
import traceback
from collections.abc import Callable
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from pipelines.hub.service.callers import RateLimited, Unauthorised
from pipelines.hub.service.figures import NothingReleased
from pipelines.hub.service.receive import UploadRefused
from pipelines.standard import api

log = logging.getLogger("outcome_hub.api")


class BadRequest(Exception):
    """A query parameter that cannot be used; the message says what is expected."""


class NotFound(Exception):
    """Nothing the caller may see at that address."""


def _http(exc: HTTPException) -> tuple[int, str, str]:
    if exc.status_code == 404:
        return (
            404,
            "not_found",
            f"There is nothing at this address; the API is described at {api.DOCS}.",
        )
    if exc.status_code == 405:
        return 405, "method_not_allowed", f"This address does not take that method; see {api.DOCS}."
    return exc.status_code, "http_error", "The request could not be answered."


_ANSWERS: dict[type[Exception], Callable[[Any], tuple[int, str, str]]] = {
    UploadRefused: lambda e: (e.status, e.code, e.message),
    Unauthorised: lambda e: (401, e.code, e.message),
    RateLimited: lambda e: (
        429,
        "rate_limited",
        f"Too many requests with this token; try again in {math.ceil(e.retry_after_s)} s.",
    ),
    NothingReleased: lambda e: (404, "not_released", str(e)),
    NotFound: lambda e: (404, "not_found", str(e)),
    BadRequest: lambda e: (400, "bad_request", str(e)),
    HTTPException: _http,
}
"""Every error a route may raise, and its status, code and message."""


def problem_for(exc: Exception) -> JSONResponse:
    """The answer to an error: a known one as its Problem, anything else as a 500 that shows
    nothing of its cause (the server's log has where it happened, never a value)."""
    for kind in type(exc).__mro__:
        if kind in _ANSWERS:
            status, code, message = _ANSWERS[kind](exc)
            break
    else:
        frames = "; ".join(
            f"{f.filename.rsplit('/', 1)[-1]}:{f.lineno} {f.name}"
            for f in traceback.extract_tb(exc.__traceback__)[-4:]
        )
        log.error("internal error %s at %s", type(exc).__name__, frames)
        status, code = 500, "internal"
        message = "The hub could not answer because of a fault on its side; try again later."
    headers = {}
    if isinstance(exc, Unauthorised):
        headers["WWW-Authenticate"] = 'Bearer realm="outcome-hub"'
    if isinstance(exc, RateLimited):
        headers["Retry-After"] = str(math.ceil(exc.retry_after_s))
    body = api.Problem(error=code, message=message).model_dump()
    return JSONResponse(body, status_code=status, headers=headers)


async def problem_handler(_request: Request, exc: Exception) -> Response:
    return problem_for(exc)
