"""The hub's API as a protocol: routes, the token's shape and the messages both sides exchange.

The hub's service (steward zone) answers with these types and the NGO side's
client reads them; neither imports the other. Every answer is JSON; an error
is a :class:`Problem` with a message a person can act on.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

API_VERSION = "v1"
TOKEN_PREFIX = "ohub_"  # noqa: S105 - the public prefix of every token, not a secret
"""Every API token starts with this, so a leaked one is recognisable (secret scanners can be told
to look for it); the rest is 256 bits of randomness."""

SUBMISSIONS = f"/{API_VERSION}/submissions"
FIGURES = f"/{API_VERSION}/figures"
CONTRACTS = f"/{API_VERSION}/contracts"
OPENAPI = f"/{API_VERSION}/openapi.json"
DOCS = "/docs"
HEALTH = "/healthz"
MANIFEST_PART = "manifest"
PAYLOAD_PART = "payload"
"""The two parts of an upload (multipart/form-data), manifest first."""

ReceiptStatus = Literal["received", "accepted", "refused", "superseded", "purged"]
"""Where a submission stands, as its NGO sees it: received (waiting for the hub to re-validate
it), then accepted (current), refused (with the hub's report) or superseded (replaced by a later
submission of the same NGO, period and dataset); purged once retention deleted its rows."""


class _Wire(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Receipt(_Wire):
    """The hub's receipt for an upload: given only once the payload is on the hub's disk."""

    submission_id: str
    ngo_id: str
    period: str
    dataset: str
    sha256: str
    bytes: int
    received_at: str
    """When the hub received it, by the hub's own clock (ISO 8601, UTC)."""


class Submission(Receipt):
    """A submission with its status and, once the hub re-validated it, the hub's report."""

    status: ReceiptStatus
    reason: str | None = None
    report: dict[str, object] | None = None
    """Rules, counts and row numbers only: never a value from the file."""


class Problem(_Wire):
    """Why a request was refused, and what to do."""

    error: str
    """A short machine-readable code (``unauthorised``, ``wrong_ngo``, ``too_large`` …)."""
    message: str
    """For a person: what is wrong and how to fix it. Never a value from a file, never a token."""


class SubmissionList(_Wire):
    submissions: list[Submission]


FigureScope = Literal["own", "pooled"]
"""A cell about the caller's own clients, or pooled across every contributing NGO."""


class FigureCell(_Wire):
    """One published cell: a differentially private value with its 95% interval."""

    measure: str
    title: str | None = None
    scope: FigureScope
    breakdown: dict[str, str]
    """The cell's dimensions (programme, region, …) and their values; empty for a total."""
    value: float | None
    """None when the cell is withheld (see ``withheld_reason``)."""
    ci95_low: float | None
    ci95_high: float | None
    reliability: str
    withheld_reason: str | None = None
    rho: float | None = None
    """The privacy budget (zCDP rho) this cell's measure spent."""


class Figures(_Wire):
    """The caller's own released cells for one period, and the pooled cells for context."""

    period: str
    ngo_id: str
    release_id: str
    cells: list[FigureCell]


class ContractInfo(_Wire):
    """One data contract the hub validates against (ODCS YAML at ``url``)."""

    name: str
    version: str
    tag: str
    url: str


class ContractList(_Wire):
    contracts: list[ContractInfo]


class Health(_Wire):
    status: Literal["ok"]
    version: str
    api: str
