"""The NGO's client of the hub's API: the only way anything of the NGO reaches the hub.

It speaks the protocol of :mod:`pipelines.standard.api` over HTTPS (plain
HTTP only to this computer), with the NGO's token in the ``Authorization``
header. Errors come in two kinds: :class:`HubRefused` (the hub answered no;
sending the same thing again will not change that) and :class:`HubUnavailable`
(the hub could not be reached, or the connection broke, or the hub asked to
wait: try again later, nothing was lost).
"""

from __future__ import annotations

import ipaddress
import secrets
import ssl
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar
from urllib.parse import urlsplit

import httpx
from pydantic import BaseModel, ValidationError

from pipelines import __version__
from pipelines.ngo.outbox import Package
from pipelines.ngo.token import Token
from pipelines.standard import api

M = TypeVar("M", bound=BaseModel)
_CHUNK = 256 * 1024
_RETRY_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})
"""Answers that mean "not now" rather than "no": the package stays in the outbox."""


class HubUrlError(ValueError):
    """The hub's address cannot be used; the message says why."""


class HubRefused(Exception):
    """The hub refused the request; ``problem`` says why and what to do."""

    def __init__(self, status: int, problem: api.Problem) -> None:
        super().__init__(problem.message)
        self.status = status
        self.problem = problem


class HubUnavailable(Exception):
    """The hub could not be reached or asked to wait; ``retry_after`` in seconds when it said."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.retry_after = retry_after


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_hub_url(url: str) -> str:
    """The hub's base URL, without a trailing slash; plain http only to this computer, since
    the token would otherwise cross the network in the clear."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise HubUrlError(f"{url!r} is not a hub address; write it like https://hub.example.org")
    if parts.scheme == "http" and not _loopback(parts.hostname):
        raise HubUrlError(
            f"{url} is plain http to another computer: the token would cross the network "
            "unencrypted. Use the hub's https:// address."
        )
    if parts.query or parts.fragment or parts.username or parts.password:
        raise HubUrlError(f"{url!r} should be the hub's address only, like https://hub.example.org")
    return f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}"


def _multipart(package: Package, boundary: str) -> tuple[list[bytes], int]:
    """The bytes around the payload of a two-part upload (manifest, then payload), and the
    whole body's length (declared up front, so the hub can refuse an oversized one unread)."""
    manifest = package.manifest_bytes()
    head = (
        f"--{boundary}\r\n"
        f'Content-Disposition: form-data; name="{api.MANIFEST_PART}"; filename="manifest.json"\r\n'
        "Content-Type: application/json\r\n\r\n"
    ).encode() + manifest
    middle = (
        f"\r\n--{boundary}\r\n"
        f'Content-Disposition: form-data; name="{api.PAYLOAD_PART}"; filename="data.parquet"\r\n'
        "Content-Type: application/vnd.apache.parquet\r\n\r\n"
    ).encode()
    tail = f"\r\n--{boundary}--\r\n".encode()
    size = len(head) + len(middle) + package.payload.stat().st_size + len(tail)
    return [head + middle, tail], size


class HubClient:
    """One NGO's connection to one hub. Use as a context manager."""

    def __init__(
        self,
        url: str,
        token: Token,
        *,
        ca_file: Path | None = None,
        timeout: float = 60.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.url = check_hub_url(url)
        verify: ssl.SSLContext | bool = True
        if ca_file is not None:
            verify = ssl.create_default_context(cafile=str(ca_file))
        self._http = httpx.Client(
            base_url=self.url,
            headers={
                "Authorization": f"Bearer {token.reveal()}",
                "User-Agent": f"outcome-hub/{__version__}",
            },
            timeout=httpx.Timeout(timeout, connect=10.0),
            verify=verify,
            transport=transport,
            follow_redirects=False,
        )

    def __enter__(self) -> HubClient:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    # --- the routes ---------------------------------------------------------------------------

    def send(self, package: Package) -> tuple[api.Receipt, bool]:
        """Upload a package; return the hub's receipt and whether it is new (202) or the receipt
        the hub gave this submission before (200)."""
        boundary = secrets.token_hex(16)
        (head, tail), size = _multipart(package, boundary)

        def body() -> Iterator[bytes]:
            yield head
            with package.payload.open("rb") as fh:
                yield from iter(lambda: fh.read(_CHUNK), b"")
            yield tail

        response = self._request(
            "POST",
            api.SUBMISSIONS,
            content=body(),
            headers={
                "Content-Type": f"multipart/form-data; boundary={boundary}",
                "Content-Length": str(size),
            },
        )
        return self._parse(response, api.Receipt), response.status_code == 202

    def submissions(self, period: str | None = None) -> list[api.Submission]:
        params = {"period": period} if period else None
        response = self._request("GET", api.SUBMISSIONS, params=params)
        return self._parse(response, api.SubmissionList).submissions

    def submission(self, submission_id: str) -> api.Submission:
        response = self._request("GET", f"{api.SUBMISSIONS}/{submission_id}")
        return self._parse(response, api.Submission)

    def figures(self, period: str) -> api.Figures:
        response = self._request("GET", api.FIGURES, params={"period": period, "format": "json"})
        return self._parse(response, api.Figures)

    def figures_csv(self, period: str) -> bytes:
        response = self._request("GET", api.FIGURES, params={"period": period, "format": "csv"})
        return response.content

    # --- plumbing -----------------------------------------------------------------------------

    def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.TimeoutException:
            raise HubUnavailable(f"the hub at {self.url} did not answer in time") from None
        except httpx.TransportError as exc:
            raise HubUnavailable(
                f"the hub at {self.url} could not be reached ({_why(exc)})"
            ) from None
        if response.status_code < 400:
            return response
        problem = _problem(response)
        if response.status_code in _RETRY_STATUSES:
            raise HubUnavailable(
                f"the hub at {self.url} asked to wait: {problem.message}",
                _retry_after(response),
            )
        raise HubRefused(response.status_code, problem)

    def _parse(self, response: httpx.Response, model: type[M]) -> M:
        try:
            return model.model_validate_json(response.content)
        except ValidationError:
            raise HubUnavailable(
                f"the hub at {self.url} answered something that is not the Outcome Hub API "
                f"(HTTP {response.status_code}); check the address"
            ) from None


def _why(exc: httpx.TransportError) -> str:
    text = str(exc).lower()
    if isinstance(exc, httpx.ConnectError) and ("certificate" in text or "ssl" in text):
        return (
            "its certificate could not be verified; if the hub uses its own certificate "
            "authority, give its certificate with --ca-file"
        )
    if isinstance(exc, httpx.ConnectError):
        return "nothing answered at that address: is the hub running?"
    return "the connection broke off"


def _problem(response: httpx.Response) -> api.Problem:
    try:
        return api.Problem.model_validate_json(response.content)
    except ValidationError:
        return api.Problem(
            error="http_error",
            message=f"the hub answered HTTP {response.status_code} without an explanation",
        )


def _retry_after(response: httpx.Response) -> float | None:
    try:
        return max(0.0, float(response.headers.get("Retry-After", "")))
    except ValueError:
        return None
