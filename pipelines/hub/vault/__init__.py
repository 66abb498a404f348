"""The vault: the steward zone's one encrypted DuckDB file, and the one home of its SQL.

It holds every individual-level row the hub has, and beside them the state
that must change in the same transaction: submissions, the audit log, the
budget ledger and stored releases.

- ``connection`` opens the encrypted file with its key (never shown)
- ``schema``     the tables and their migrations
- ``statuses``   what a submission or a release can be, as types
- ``submissions``, ``rows``, ``releases``, ``budgets``, ``quarantine``: each table's SQL, in
  one place
  (the audit log's is in :mod:`pipelines.hub.audit`)
- ``checks``     invariants that asset checks and tests assert

Writes that must be all-or-nothing use :func:`pipelines.db.transaction`.
"""

from pipelines.hub.vault.connection import (
    KEY_ENV,
    KEY_FILE_ENV,
    Secret,
    Vault,
    VaultError,
    open_vault,
    vault_key,
    worker_cursor,
)

__all__ = [
    "KEY_ENV",
    "KEY_FILE_ENV",
    "Secret",
    "Vault",
    "VaultError",
    "open_vault",
    "vault_key",
    "worker_cursor",
]
