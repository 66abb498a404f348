"""The NGO's own folder: its key, its reports, its outbox and its log, on its own computer.

It is separate from any hub's home: the hub is another organisation's
computer, reached only through its API. One folder can hold several NGOs (a
consultant who submits for two trusts, or the demo), one sub-folder each::

    <ngo home>/<ngo_id>/secret.key         the pseudonymisation key (owner-only, never sent)
    <ngo home>/<ngo_id>/reports/           validation reports, one folder per submit
    <ngo home>/<ngo_id>/outbox/<id>/       sanitised packages waiting for the hub's receipt
    <ngo home>/<ngo_id>/receipts/<id>.json the hub's receipts of delivered packages
    <ngo home>/<ngo_id>/accepted/          pseudonymised keys of accepted files (cross-file rule)
    <ngo home>/<ngo_id>/submissions.jsonl  what was validated, when, and where it went

The folder is ``--ngo-home``, else ``$OUTCOMES_NGO_HOME``, else a per-user data
folder (``$XDG_DATA_HOME/outcome-hub``, else ``~/.local/share/outcome-hub``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from pipelines.home import MARKER, private_dir
from pipelines.standard.names import check_ngo_id

NGO_HOME_ENV = "OUTCOMES_NGO_HOME"


class NgoFolderError(ValueError):
    """The folder given cannot be an NGO's folder; the message says why and what to do."""


def default_ngo_home(environ: dict[str, str] | None = None) -> Path:
    """``$OUTCOMES_NGO_HOME``, else the per-user data folder."""
    env = os.environ if environ is None else environ
    if env.get(NGO_HOME_ENV):
        return Path(env[NGO_HOME_ENV])
    data = Path(env["XDG_DATA_HOME"]) if env.get("XDG_DATA_HOME") else Path.home() / ".local/share"
    return data / "outcome-hub"


@dataclass(frozen=True)
class NgoHome:
    """Paths of an NGO-side folder. Creating a path here never writes anything."""

    root: Path

    @classmethod
    def resolve(cls, value: str | os.PathLike[str] | None) -> NgoHome:
        """``value``, else the default; refused when it is a hub's home (the hub's only door is
        its API, so nothing of the NGO side is ever written into a hub's folder)."""
        root = Path(value) if value else default_ngo_home()
        root = root.expanduser().resolve()
        if (root / MARKER).is_file() or (root / "hub" / "vault.duckdb").is_file():
            raise NgoFolderError(
                f"{root} is a hub's home. An NGO's folder is its own: give --ngo-home (or "
                f"${NGO_HOME_ENV}) a folder of the NGO's computer, outside any hub."
            )
        return cls(root)

    def ngo_dir(self, ngo_id: str) -> Path:
        return self.root / check_ngo_id(ngo_id)

    def key_file(self, ngo_id: str) -> Path:
        return self.ngo_dir(ngo_id) / "secret.key"

    def reports(self, ngo_id: str) -> Path:
        return self.ngo_dir(ngo_id) / "reports"

    def outbox(self, ngo_id: str) -> Path:
        return self.ngo_dir(ngo_id) / "outbox"

    def receipts(self, ngo_id: str) -> Path:
        return self.ngo_dir(ngo_id) / "receipts"

    def accepted(self, ngo_id: str) -> Path:
        return self.ngo_dir(ngo_id) / "accepted"

    def log(self, ngo_id: str) -> Path:
        return self.ngo_dir(ngo_id) / "submissions.jsonl"

    def ngos(self) -> list[str]:
        """The NGOs with a folder here, sorted."""
        if not self.root.is_dir():
            return []
        found = []
        for entry in self.root.iterdir():
            try:
                found.append(check_ngo_id(entry.name))
            except ValueError:
                continue
        return sorted(n for n in found if (self.root / n).is_dir())

    def prepare(self, ngo_id: str) -> Path:
        """Create the NGO's sub-folder (and the root), owner-only; return it."""
        private_dir(self.root)
        return private_dir(self.ngo_dir(ngo_id))
