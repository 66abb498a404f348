"""The NGO's API token: read from ``$OUTCOMES_HUB_TOKEN`` or a file only its owner can read.

Never from the command line, where every user of the computer sees it in the
process list. The token never shows itself in a repr, a log or a traceback.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from pipelines.standard.api import TOKEN_PREFIX

TOKEN_ENV = "OUTCOMES_HUB_TOKEN"  # noqa: S105 - the variable's name, not a token
_MAX_TOKEN = 200


class TokenError(ValueError):
    """No usable token; the message says where to put it."""


class Token:
    """An API token that never shows itself."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        if not value.startswith(TOKEN_PREFIX) or len(value) > _MAX_TOKEN or not value.isascii():
            raise TokenError(
                f"that is not an Outcome Hub token (they start with {TOKEN_PREFIX}); "
                "ask the hub's steward for yours"
            )
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return f"Token('{TOKEN_PREFIX}********')"

    __str__ = __repr__


def read_token(token_file: Path | None, environ: dict[str, str] | None = None) -> Token:
    """The token in ``token_file`` (refused if group or others can read it), else in
    ``$OUTCOMES_HUB_TOKEN``."""
    env = os.environ if environ is None else environ
    if token_file is not None:
        try:
            info = token_file.stat()
        except OSError:
            raise TokenError(f"there is no token file at {token_file}") from None
        if not stat.S_ISREG(info.st_mode):
            raise TokenError(f"{token_file} is not a file")
        if stat.S_IMODE(info.st_mode) & 0o077:
            raise TokenError(
                f"{token_file} can be read by other users (mode {stat.S_IMODE(info.st_mode):o}); "
                f"restrict it with: chmod 600 {token_file}"
            )
        if info.st_size > _MAX_TOKEN + 2:
            raise TokenError(f"{token_file} holds more than a token")
        return Token(token_file.read_text(encoding="utf-8", errors="replace").strip())
    if env.get(TOKEN_ENV):
        return Token(env[TOKEN_ENV].strip())
    raise TokenError(
        f"no API token: give --token-file FILE (readable by you only) or set ${TOKEN_ENV}. "
        "The hub's steward issues it when registering the NGO."
    )
