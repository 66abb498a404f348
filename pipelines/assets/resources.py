"""The hub resource: which hub (its runtime folder and vault) and which release plan.

This is the only Dagster object that reads environment variables
(``OUTCOMES_HOME``, ``OUTCOMES_VAULT_KEY``, ``OUTCOMES_VAULT_KEY_FILE``), and only
for what its configuration leaves unset: the command line configures it
explicitly, ``dagster dev`` and the daemon through the environment, tests
with their own folders and plans.
"""

from pathlib import Path

import dagster as dg
import yaml

from pipelines.home import Home, resolve_home
from pipelines.hub.desk import register
from pipelines.hub.desk.store import opened
from pipelines.hub.vault import Vault, open_vault
from pipelines.privacy.plan import PLAN_FILE, ReleasePlan, load_plan, parse_plan

VAULT_TAGS = {"outcome-hub/vault": "write"}
"""Runs that write the vault carry this tag; the instance lets one run at a time."""


# Dagster types ConfigurableResource as generic over the resource itself; it is not subscriptable.
class HubResource(dg.ConfigurableResource):  # type: ignore[type-arg]
    """One hub's runtime folder (``--home``), its encrypted vault and its release plan."""

    home: str | None = None
    """The hub's runtime folder; unset: ``$OUTCOMES_HOME``, else ``./var``."""
    plan_file: str | None = None
    """The release plan; unset: ``contracts/release_plan.v1.yaml``."""

    def layout(self) -> Home:
        return Home(resolve_home(self.home))

    def vault(self) -> Vault:
        return open_vault(self.layout())

    def registered_ngos(self) -> frozenset[str]:
        """The ids the NGO register knows (public metadata, from the hub's desk)."""
        with opened(self.layout()) as desk:
            return frozenset(n.ngo_id for n in register.listing(desk))

    def plan_path(self) -> Path:
        return Path(self.plan_file) if self.plan_file else PLAN_FILE

    def plan(self) -> ReleasePlan:
        return load_plan(self.plan_path())

    def plan_with_text(self) -> tuple[ReleasePlan, str]:
        """The plan and the exact text it was parsed from (a release stores both)."""
        text = self.plan_path().read_text(encoding="utf-8")
        return parse_plan(yaml.safe_load(text)), text
