"""Who is calling: the NGO whose token is in the ``Authorization`` header, and nothing else.

A request names no NGO that the hub believes: the token does. A missing,
unknown, revoked or replaced token is refused (401) and journalled without
the token (a 12-digit prefix of its SHA-256 identifies a repeated attempt,
and the register's own hash of a valid token is never shown). Each token has
its own rate limit, and so has each address that keeps presenting bad tokens,
so that refusals cannot flood the audit log.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from pipelines.home import Home
from pipelines.hub.desk import journal, register
from pipelines.hub.desk.register import Ngo
from pipelines.hub.desk.store import opened, writing
from pipelines.standard.api import TOKEN_PREFIX

_MAX_HEADER = 300


class Unauthorised(Exception):
    """No valid token; ``code`` says which case, the message what to do."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class RateLimited(Exception):
    """Too many requests from one token (or one address with bad tokens)."""

    def __init__(self, retry_after_s: float) -> None:
        super().__init__(f"retry after {retry_after_s:.0f} s")
        self.retry_after_s = retry_after_s


@dataclass(frozen=True)
class Caller:
    """The NGO making a request, as its token says."""

    ngo: Ngo
    client: str

    @property
    def actor(self) -> str:
        """How the journal names who did something through the API."""
        return f"{self.ngo.ngo_id} (API, {self.client})"


def fingerprint(token: str) -> str:
    """What the journal keeps of a refused token: never the token, never the register's hash."""
    return (
        "sha256:"
        + hashlib.sha256(b"journal\x1f" + token.encode("utf-8", "replace")).hexdigest()[:12]
    )


class RateLimiter:
    """Token buckets: ``per_minute`` requests a minute on average, ``burst`` at once.

    Kept in memory by the one service process; at most ``keys`` buckets (the least
    recently used go first), so a stream of new addresses cannot grow it without bound.
    """

    def __init__(
        self,
        per_minute: float,
        burst: int,
        *,
        keys: int = 20_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if per_minute <= 0 or burst < 1:
            raise ValueError(
                f"a rate limit needs a positive rate and burst, got {per_minute}/{burst}"
            )
        self.rate = per_minute / 60.0
        self.burst = float(burst)
        self._keys = keys
        self._clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self._lock = threading.Lock()

    def take(self, key: str) -> float | None:
        """Spend one request of ``key``'s bucket: None when allowed, else seconds to wait."""
        now = self._clock()
        with self._lock:
            tokens, at = self._buckets.pop(key, (self.burst, now))
            tokens = min(self.burst, tokens + (now - at) * self.rate)
            if tokens >= 1.0:
                self._buckets[key] = (tokens - 1.0, now)
                wait = None
            else:
                self._buckets[key] = (tokens, now)
                wait = (1.0 - tokens) / self.rate
            while len(self._buckets) > self._keys:
                self._buckets.popitem(last=False)
        return wait


def bearer_token(headers: Mapping[str, str]) -> str | None:
    """The token of an ``Authorization: Bearer`` header, or None when there is none."""
    value = headers.get("authorization")
    if value is None:
        return None
    scheme, _, token = value[:_MAX_HEADER].partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else ""


@dataclass
class Gate:
    """Authenticates requests against the hub's register, limits their rate, journals refusals."""

    home: Home
    per_token: RateLimiter
    refused_per_client: RateLimiter

    def admit(self, headers: Mapping[str, str], client: str, route: str) -> Caller:
        """The caller, or :class:`Unauthorised` / :class:`RateLimited`."""
        token = bearer_token(headers)
        if token:
            with opened(self.home) as desk:
                ngo = register.authenticate(desk, token)
            if ngo is not None:
                wait = self.per_token.take("ngo:" + ngo.ngo_id)
                if wait is not None:
                    raise RateLimited(wait)
                return Caller(ngo, client)
        wait = self.refused_per_client.take("client:" + client)
        if wait is not None:
            raise RateLimited(wait)  # not journalled: the limit is what keeps the journal readable
        raise self._refuse(token, client, route)

    def _refuse(self, token: str | None, client: str, route: str) -> Unauthorised:
        detail: dict[str, str | None] = {"route": route, "client": client}
        if token is None:
            action, subject, code = "api_refused_no_token", "api", "no_token"
            message = (
                "This request carries no API token. Send the NGO's token in the header "
                "'Authorization: Bearer <token>'; the hub's steward issues it."
            )
        else:
            with opened(self.home) as desk:
                gone = register.retired(desk, token)
                detail["token"] = fingerprint(token)
                if gone is not None:
                    action, subject, code = (
                        f"api_refused_{gone.why}_token",
                        gone.ngo_id,
                        "token_" + gone.why,
                    )
                    message = (
                        f"This token was {gone.why} on {gone.retired_at[:10]}. Ask the hub's "
                        "steward for the NGO's current token (outcomes ngo rotate-token)."
                    )
                else:
                    action, subject, code = "api_refused_unknown_token", "api", "wrong_token"
                    shape = (
                        ""
                        if token.startswith(TOKEN_PREFIX)
                        else f" (tokens start with {TOKEN_PREFIX})"
                    )
                    message = (
                        f"This API token is not one the hub issued{shape}. Check that the whole "
                        "token was copied, or ask the hub's steward for a new one."
                    )
                with writing(desk):
                    journal.record(desk, f"API caller ({client})", action, subject, detail)
            return Unauthorised(code, message)
        with opened(self.home) as desk, writing(desk):
            journal.record(desk, f"API caller ({client})", action, subject, detail)
        return Unauthorised(code, message)
