"""Opening the vault: one DuckDB file, encrypted at rest, with its key.

It also holds the steward zone's other state (submissions, the audit log, the
budget ledger and stored releases) so that a release and its ledger entry can
be written in one transaction. DuckDB encrypts the file and its write-ahead
log with AES-GCM; writing needs the crypto module shipped in the
``duckdb-extension-httpfs`` package, which is loaded from disk, never
downloaded. Temporary files spilled to disk are encrypted too.
"""

from __future__ import annotations

import base64
import glob
import os
import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import duckdb

from pipelines.db import offline_connection
from pipelines.home import Home, private_dir
from pipelines.hub.anchor import AuditSigner, audit_signer
from pipelines.hub.checkpoints import signing
from pipelines.hub.desk.journal import move_into_vault
from pipelines.hub.desk.mirror import copy_register
from pipelines.hub.vault.schema import ensure_schema

KEY_ENV = "OUTCOMES_VAULT_KEY"
KEY_FILE_ENV = "OUTCOMES_VAULT_KEY_FILE"
_MIN_KEY_CHARS = 32


class VaultError(Exception):
    """The vault cannot be opened; the message says what to do."""


class Secret:
    """A key that never shows itself in a repr, a log line or a traceback."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        if len(value) < _MIN_KEY_CHARS:
            raise VaultError(f"the vault key must be at least {_MIN_KEY_CHARS} characters")
        if "'" in value or "\x00" in value:
            raise VaultError("the vault key may not contain quotes or NUL characters")
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('********')"

    __str__ = __repr__


def vault_key(home: Home, environ: dict[str, str] | None = None) -> Secret:
    """The vault key: ``$OUTCOMES_VAULT_KEY``, else the file in ``$OUTCOMES_VAULT_KEY_FILE``,
    else ``<home>/keys/vault.key`` (created, owner-only, when neither the key nor the vault exist)."""
    env = os.environ if environ is None else environ
    if env.get(KEY_ENV):
        return Secret(env[KEY_ENV].strip())
    path = Path(env[KEY_FILE_ENV]) if env.get(KEY_FILE_ENV) else home.vault_key_file
    if not path.exists():
        if home.vault_file.exists():
            raise VaultError(
                f"the vault {home.vault_file} exists but its key file {path} does not; "
                f"restore the key file or set {KEY_ENV}"
            )
        private_dir(path.parent)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(base64.urlsafe_b64encode(secrets.token_bytes(32)).decode() + "\n")
    if path.stat().st_mode & 0o077:
        raise VaultError(f"the vault key file {path} is readable by others; run: chmod 600 {path}")
    return Secret(path.read_text().strip())


def _crypto_extension() -> str:
    import duckdb_extension_httpfs

    base = os.path.dirname(duckdb_extension_httpfs.__file__)
    found = glob.glob(
        os.path.join(base, "extensions", f"v{duckdb.__version__}", "httpfs.duckdb_extension")
    )
    if not found:
        raise VaultError(
            f"duckdb-extension-httpfs {duckdb.__version__} is not installed; it must match duckdb"
        )
    return found[0]


@dataclass(frozen=True)
class Vault:
    """Opens the encrypted vault of one hub home."""

    home: Home
    key: Secret
    busy_timeout_s: float = 120.0
    memory_limit: str = "512MB"
    signer: AuditSigner | None = None
    """Signs the audit log's head when a session ends and a checkpoint is due (see
    :mod:`pipelines.hub.checkpoints`), and lends itself to a publication; None signs nothing."""

    @contextmanager
    def connect(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A connection with the vault attached as the default catalog, schema ensured.

        DuckDB lets one process write a file at a time; another hub process
        holding the vault is waited for, then reported by name.
        """
        private_dir(self.home.hub)
        con = offline_connection()
        try:
            con.execute(f"LOAD '{_crypto_extension()}'")
            # Spills go to the hub's own folder (never ./.tmp of whoever runs it), encrypted.
            spill = private_dir(self.home.hub / "tmp")
            con.execute(f"SET temp_directory = '{str(spill).replace(chr(39), chr(39) * 2)}'")
            con.execute("SET temp_file_encryption = true")
            # DuckDB's share of a hub process's memory; it spills (encrypted) beyond this.
            con.execute(f"SET memory_limit = '{self.memory_limit}'")
            self._attach(con)
            con.execute("USE vault")
            self.home.vault_file.chmod(0o600)
            ensure_schema(con)
            # What the desk journalled while the vault was busy joins the audit chain first.
            move_into_vault(self.home, con)
            copy_register(self.home, con)
            with signing(con, self.signer):
                yield con
        finally:
            con.close()

    def _attach(self, con: duckdb.DuckDBPyConnection) -> None:
        deadline = time.monotonic() + self.busy_timeout_s
        path = str(self.home.vault_file).replace("'", "''")
        while True:
            try:
                con.execute(f"ATTACH '{path}' AS vault (ENCRYPTION_KEY '{self.key.reveal()}')")
                return
            except duckdb.IOException as exc:
                if "lock" not in str(exc).lower():
                    raise VaultError(
                        f"the vault {self.home.vault_file} could not be opened"
                    ) from None
                if time.monotonic() > deadline:
                    raise VaultError(
                        f"the vault is in use by another hub process and stayed busy for "
                        f"{self.busy_timeout_s:.0f} s; try again when it has finished"
                    ) from None
                time.sleep(0.25)
            except duckdb.Error as exc:
                # Never chain the original: the failing statement holds the key.
                if "key" in str(exc).lower() or "encrypt" in str(exc).lower():
                    raise VaultError(
                        f"the vault {self.home.vault_file} could not be decrypted with the key given; "
                        f"check {KEY_ENV} or the key file"
                    ) from None
                raise VaultError(f"the vault {self.home.vault_file} could not be opened") from None


def worker_cursor(con: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    """A second connection to the same open vault, for another thread of the same process."""
    cursor = con.cursor()
    cursor.execute("USE vault")
    return cursor


def open_vault(home: Home, environ: dict[str, str] | None = None) -> Vault:
    return Vault(home, vault_key(home, environ), signer=audit_signer(home, environ))
