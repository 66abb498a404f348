"""Delivering packages from the outbox to the hub, and keeping its receipts.

A package leaves the outbox only when the hub's receipt is on the NGO's disk,
or when the hub refused the package itself (a malformed manifest, a payload
that does not match it, one over the size limit): sending it again would not
change that, and the refusal is kept beside the receipts. A hub that is down,
a dropped connection, a refused token or a request to wait leave the package
where it is, to be sent again with backoff.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from pipelines.ngo.client import HubClient, HubRefused, HubUnavailable
from pipelines.ngo.folder import NgoHome
from pipelines.ngo.outbox import Package, delivered, returned, waiting
from pipelines.standard.api import Receipt

_KEEP = frozenset({401, 403, 404})
"""Refusals about the token or the address, not the package: it stays in the outbox (exit 1,
with the fix), to be sent again with the right token."""
MAX_BACKOFF_S = 60.0

Outcome = Literal["delivered", "refused", "waiting"]


@dataclass(frozen=True)
class Delivery:
    """What became of one package: delivered (with the hub's receipt), refused by the hub, or
    still waiting in the outbox (``message`` says why). A refusal about the token or the
    address keeps the package (``kept``): sent with the right token, it goes through."""

    package: Package
    outcome: Outcome
    message: str
    receipt: Receipt | None = None
    new: bool = False
    status: int | None = None

    @property
    def kept(self) -> bool:
        """Whether the package is still in the outbox."""
        return self.outcome == "waiting" or (self.outcome == "refused" and self.status in _KEEP)

    @property
    def stop(self) -> bool:
        """Whether sending the next package is pointless too (the token or the address is
        wrong): every package would meet the same answer."""
        return self.status in _KEEP


def deliver(
    ngo_home: NgoHome,
    client: HubClient,
    package: Package,
    *,
    attempts: int = 1,
    backoff_s: float = 1.0,
    sleep: Callable[[float], None] = time.sleep,
) -> Delivery:
    """Send one package, trying up to ``attempts`` times while the hub is unavailable, waiting
    ``backoff_s``, then twice as long each time (or what the hub asked), up to a minute."""
    wait = backoff_s
    for attempt in range(1, attempts + 1):
        try:
            receipt, new = client.send(package)
        except HubRefused as refused:
            if refused.status in _KEEP:
                return Delivery(package, "refused", refused.problem.message, status=refused.status)
            returned(ngo_home, package, refused.status, refused.problem)
            return Delivery(package, "refused", refused.problem.message, status=refused.status)
        except HubUnavailable as unavailable:
            if attempt == attempts:
                return Delivery(package, "waiting", unavailable.message)
            sleep(min(MAX_BACKOFF_S, unavailable.retry_after or wait))
            wait *= 2
            continue
        if (receipt.submission_id, receipt.sha256) != (
            package.submission_id,
            package.manifest.sha256,
        ):
            # Never let a package go on a receipt for something else.
            return Delivery(package, "waiting", "the hub's receipt is not for this package")
        delivered(ngo_home, package, receipt)
        said = "received it" if new else "already had it"
        return Delivery(
            package,
            "delivered",
            f"The hub {said}: submission {receipt.submission_id}, received "
            f"{receipt.received_at[:19].replace('T', ' ')} UTC.",
            receipt,
            new,
            202 if new else 200,
        )
    raise AssertionError("attempts must be at least 1")


def send_outbox(
    ngo_home: NgoHome,
    ngo_id: str,
    client: HubClient,
    *,
    attempts: int = 5,
    backoff_s: float = 1.0,
    sleep: Callable[[float], None] = time.sleep,
    progress: Callable[[Delivery], None] | None = None,
) -> list[Delivery]:
    """Send every package of ``ngo_id`` waiting in the outbox, oldest first."""
    done = []
    for package in waiting(ngo_home, ngo_id):
        result = deliver(
            ngo_home, client, package, attempts=attempts, backoff_s=backoff_s, sleep=sleep
        )
        done.append(result)
        if progress is not None:
            progress(result)
        if result.stop:
            break
    return done
