"""Copying the desk's NGO register into the vault whenever the vault is opened and it changed."""

from __future__ import annotations

import hashlib
import json

import duckdb

from pipelines.home import Home
from pipelines.hub.desk import register
from pipelines.hub.desk.store import desk_path, opened
from pipelines.hub.vault import register as vault_register


def copy_register(home: Home, vault: duckdb.DuckDBPyConnection) -> bool:
    """Bring the vault's copy of the register up to date; True when it changed. A hub without
    a desk has no register to copy."""
    if not desk_path(home).exists():
        return False
    with opened(home) as desk:
        ngos = [
            vault_register.RegisteredNgo(n.ngo_id, n.name, n.programmes, n.regions, n.active)
            for n in register.listing(desk)
        ]
    digest = hashlib.sha256(
        json.dumps([list(n.__dict__.values()) for n in ngos], default=list).encode()
    ).hexdigest()
    if vault_register.digest(vault) == digest:
        return False
    vault_register.replace(vault, ngos, digest)
    return True
