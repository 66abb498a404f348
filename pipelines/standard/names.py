"""Names that become paths or keys: NGO ids, datasets, submission ids.

Every name that reaches the file system is checked here first, so that text
such as ``../x`` can never become a path.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pipelines.standard.contract import DATASETS

_NGO_ID = re.compile(r"^[a-z0-9][a-z0-9-]{1,38}[a-z0-9]$")
_SUBMISSION_ID = re.compile(
    r"^\d{4}-Q[1-4]\.[a-z0-9][a-z0-9-]{1,38}[a-z0-9]\.(episodes|assessments)\.[0-9a-f]{12}$"
)


def check_ngo_id(text: str) -> str:
    """An NGO id: 3 to 40 lower-case letters, digits and hyphens, not starting or ending with '-'."""
    if not isinstance(text, str) or not _NGO_ID.fullmatch(text):
        raise ValueError(
            "NGO id must be 3 to 40 lower-case letters, digits and hyphens, "
            f"starting and ending with a letter or digit, like ngo-0042 (got {text!r})"
        )
    return text


def check_dataset(text: str) -> str:
    if text not in DATASETS:
        raise ValueError(f"dataset must be one of {', '.join(DATASETS)} (got {text!r})")
    return text


def submission_id(period: str, ngo_id: str, dataset: str, sha256: str) -> str:
    """The id of a submission: who, when, what, and the first 12 hex digits of its payload hash."""
    return f"{period}.{ngo_id}.{dataset}.{sha256[:12]}"


def check_submission_id(text: str) -> str:
    if not isinstance(text, str) or not _SUBMISSION_ID.fullmatch(text):
        raise ValueError(f"not a submission id: {text!r}")
    return text


@dataclass(frozen=True)
class SubmissionName:
    """The parts of a submission id: period, NGO, dataset and the payload hash's first digits."""

    period: str
    ngo_id: str
    dataset: str
    sha256_prefix: str

    @classmethod
    def parse(cls, text: str) -> SubmissionName:
        period, ngo_id, dataset, prefix = check_submission_id(text).split(".")
        return cls(period, ngo_id, dataset, prefix)
