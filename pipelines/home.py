"""The hub's runtime folder, laid out by trust zone.

One ``--home`` folder holds one hub, so several can live side by side::

    <home>/inbox/           hand-over: submissions the hub's API received, waiting for intake
    <home>/hub/             steward zone: encrypted vault, the desk, quarantine reports, Dagster home
    <home>/keys/            the vault key, when it is not given in the environment
    <home>/published/       published zone: DP releases and their exports, nothing else
    <home>/site/            the built dashboards (read from the published zone only)

The NGO zone is not here: each NGO works in a folder of its own, on its own
computer (:mod:`pipelines.ngo.folder`), and reaches the hub only through its API.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from pipelines.standard.names import check_submission_id

DEFAULT_HOME = Path("var")


def resolve_home(home: str | os.PathLike[str] | None) -> Path:
    """``--home`` if given, else ``$OUTCOMES_HOME``, else ``./var``."""
    chosen = home if home else os.environ.get("OUTCOMES_HOME") or DEFAULT_HOME
    return Path(chosen).expanduser().resolve()


MARKER = ".outcomes-hub"
"""The file that makes a folder a hub's home; only the commands that create a hub write it."""


@dataclass(frozen=True)
class Home:
    """Paths of one hub's runtime folder. Creating a path here never writes anything."""

    root: Path

    def is_hub(self) -> bool:
        """Whether this folder holds a hub (its marker, or a vault made before markers)."""
        return (self.root / MARKER).is_file() or self.vault_file.is_file()

    def create(self) -> Home:
        """Make this folder a hub's home (owner-only); harmless when it already is one."""
        private_dir(self.root)
        marker = self.root / MARKER
        if not marker.exists():
            marker.write_text(
                "This folder is an Outcome Hub home: its vault, inbox, keys and published zone.\n",
                encoding="utf-8",
            )
        return self

    # hand-over ----------------------------------------------------------------
    @property
    def inbox(self) -> Path:
        return self.root / "inbox"

    def inbox_item(self, submission_id: str) -> Path:
        return self.inbox / check_submission_id(submission_id)

    # steward zone -----------------------------------------------------------
    @property
    def hub(self) -> Path:
        return self.root / "hub"

    @property
    def vault_file(self) -> Path:
        return self.hub / "vault.duckdb"

    @property
    def keys(self) -> Path:
        return self.root / "keys"

    @property
    def vault_key_file(self) -> Path:
        return self.keys / "vault.key"

    @property
    def quarantine(self) -> Path:
        return self.hub / "quarantine"

    @property
    def hub_reports(self) -> Path:
        return self.hub / "reports"

    @property
    def dagster_home(self) -> Path:
        return self.hub / "dagster"

    @property
    def desk(self) -> Path:
        """The hub's front desk (SQLite): the NGO register, receipts, the journal."""
        return self.hub / "desk.sqlite"

    # published zone ---------------------------------------------------------
    @property
    def published(self) -> Path:
        return self.root / "published"

    @property
    def published_db(self) -> Path:
        return self.published / "published.duckdb"

    @property
    def exports(self) -> Path:
        return self.published / "exports"

    @property
    def site(self) -> Path:
        return self.root / "site"


def private_dir(path: Path) -> Path:
    """Create a folder readable by its owner only (0700)."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    path.chmod(0o700)
    return path
