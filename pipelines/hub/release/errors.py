"""Why a release cannot go ahead. Every refusal spends nothing and says what to do."""

from __future__ import annotations


class ReleaseError(Exception):
    """A release that cannot go ahead; nothing was spent. The message says why and what to do."""


class NothingToRelease(ReleaseError):
    """The period has no accepted submissions."""
