"""The hub resource: where the runtime folder is, and how to open the vault.

This is the only Dagster object that reads environment variables
(``OUTCOMES_HOME``, ``OUTCOMES_VAULT_KEY``, ``OUTCOMES_VAULT_KEY_FILE``).
"""

import dagster as dg

from pipelines.home import Home, resolve_home
from pipelines.hub.vault import Vault, open_vault

VAULT_TAGS = {"outcome-hub/vault": "write"}
"""Runs that write the vault carry this tag; the instance lets one run at a time."""


class HubResource(dg.ConfigurableResource):
    """One hub's runtime folder (``--home``) and its encrypted vault."""

    home: str | None = None

    def layout(self) -> Home:
        return Home(resolve_home(self.home))

    def vault(self) -> Vault:
        return open_vault(self.layout())
