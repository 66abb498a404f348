"""The vault's tables and their migrations. Row tables are generated from the contracts.

``episodes`` and ``assessments`` keep the rows of every submission that passed
validation (see :mod:`pipelines.hub.vault.rows`); ``submissions`` and
``audit_log`` record what the hub decided; budgets, approvals and the stored
releases with their spends make the ledger. Each migration runs once, in
order, in its own transaction; append new ones, never change what an old one
creates.
"""

from __future__ import annotations

from collections.abc import Callable

import duckdb

from pipelines.db import transaction
from pipelines.hub.vault.rows import create_table_sql, current_view_sql
from pipelines.hub.vault.submissions import CURRENT_SUBMISSIONS_VIEW
from pipelines.standard.contract import load_contracts

_STATE = """
CREATE TABLE IF NOT EXISTS submissions (
    submission_id VARCHAR PRIMARY KEY,
    ngo_id VARCHAR NOT NULL,
    period VARCHAR NOT NULL,
    dataset VARCHAR NOT NULL,
    contract VARCHAR,
    sha256 VARCHAR NOT NULL,
    rows INTEGER,
    submitted_at TIMESTAMPTZ,
    submitted_on DATE,
    received_at TIMESTAMPTZ NOT NULL,
    status VARCHAR NOT NULL,          -- a SubmissionStatus
    superseded_by VARCHAR,
    decided_at TIMESTAMPTZ,
    reason VARCHAR
);
CREATE TABLE IF NOT EXISTS audit_log (
    seq BIGINT PRIMARY KEY,
    recorded_at TIMESTAMPTZ NOT NULL,
    actor VARCHAR NOT NULL,
    action VARCHAR NOT NULL,
    subject VARCHAR NOT NULL,
    detail JSON,
    prev_hash VARCHAR NOT NULL,
    hash VARCHAR NOT NULL
);
"""

_LEDGER = """
CREATE TABLE budgets (
    period VARCHAR NOT NULL, ngo_id VARCHAR NOT NULL, rho DOUBLE NOT NULL,
    set_by VARCHAR NOT NULL, set_at TIMESTAMPTZ NOT NULL, note VARCHAR,
    PRIMARY KEY (period, ngo_id)
);
CREATE TABLE releases (
    release_id VARCHAR PRIMARY KEY, period VARCHAR NOT NULL, version INTEGER NOT NULL,
    plan_version VARCHAR NOT NULL, plan_digest VARCHAR NOT NULL, plan_text VARCHAR NOT NULL,
    created_at TIMESTAMPTZ NOT NULL, created_by VARCHAR NOT NULL, status VARCHAR NOT NULL,
    superseded_by VARCHAR, note VARCHAR
);
CREATE TABLE release_inputs (release_id VARCHAR NOT NULL, submission_id VARCHAR NOT NULL);
CREATE TABLE release_parts (
    release_id VARCHAR NOT NULL, part_id VARCHAR NOT NULL, measure VARCHAR NOT NULL,
    component VARCHAR NOT NULL, scope VARCHAR NOT NULL, ngo_id VARCHAR, rho DOUBLE NOT NULL,
    l2_sensitivity DOUBLE NOT NULL, noise_scale DOUBLE NOT NULL, cells INTEGER NOT NULL,
    computed_at TIMESTAMPTZ NOT NULL, PRIMARY KEY (release_id, part_id)
);
CREATE TABLE spends (
    release_id VARCHAR NOT NULL, part_id VARCHAR NOT NULL, ngo_id VARCHAR NOT NULL,
    period VARCHAR NOT NULL, rho DOUBLE NOT NULL, spent_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (release_id, part_id, ngo_id)
);
CREATE TABLE approvals (
    seq INTEGER PRIMARY KEY, dimension VARCHAR NOT NULL, value VARCHAR NOT NULL,
    period VARCHAR NOT NULL, action VARCHAR NOT NULL, decided_by VARCHAR NOT NULL,
    note VARCHAR, decided_at TIMESTAMPTZ NOT NULL
);
"""


def _current_views(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(CURRENT_SUBMISSIONS_VIEW)
    for dataset in load_contracts():
        con.execute(current_view_sql(dataset))


def _version_1(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(_STATE)
    for dataset, contract in load_contracts().items():
        con.execute(create_table_sql(dataset, contract))
    _current_views(con)


def _version_2(con: duckdb.DuckDBPyConnection) -> None:
    from pipelines.privacy.plan import default_plan

    con.execute(_LEDGER)
    dims = ", ".join(f'"{d}" VARCHAR' for d in default_plan().published_dimensions)
    con.execute(
        "CREATE TABLE release_cells (release_id VARCHAR NOT NULL, part_id VARCHAR NOT NULL, "
        f"measure VARCHAR NOT NULL, ngo_id VARCHAR, {dims}, raw_value BIGINT NOT NULL, "
        "noise_scale DOUBLE NOT NULL, rho DOUBLE NOT NULL)"
    )


def _version_3(con: duckdb.DuckDBPyConnection) -> None:
    # What each release was calibrated on, per NGO: the budget left when it was made.
    con.execute(
        "CREATE TABLE release_allotments (release_id VARCHAR NOT NULL, ngo_id VARCHAR NOT NULL, "
        "rho DOUBLE NOT NULL, PRIMARY KEY (release_id, ngo_id))"
    )


def _version_4(con: duckdb.DuckDBPyConnection) -> None:
    # "Current" is defined once, as a view; the row views read it (vaults made before it existed).
    _current_views(con)


def _version_5(con: duckdb.DuckDBPyConnection) -> None:
    # Signed heads of the audit log; the table's SQL lives with the code that signs them.
    from pipelines.hub.checkpoints import CHECKPOINTS_DDL

    con.execute(CHECKPOINTS_DDL)


_YEAR = """
CREATE TABLE annual_caps (
    ngo_id VARCHAR PRIMARY KEY, rho DOUBLE NOT NULL,
    set_by VARCHAR NOT NULL, set_at TIMESTAMPTZ NOT NULL, note VARCHAR
);
CREATE TABLE release_proposals (
    proposal_id VARCHAR PRIMARY KEY, period VARCHAR NOT NULL, kind VARCHAR NOT NULL,
    release_id VARCHAR NOT NULL, supersedes VARCHAR, digest VARCHAR NOT NULL,
    plan_digest VARCHAR NOT NULL, inputs VARCHAR[] NOT NULL, summary JSON NOT NULL,
    proposed_at TIMESTAMPTZ NOT NULL, proposed_by VARCHAR NOT NULL,
    status VARCHAR NOT NULL,          -- a ProposalStatus
    status_at TIMESTAMPTZ NOT NULL
);
CREATE TABLE release_approvals (
    proposal_id VARCHAR PRIMARY KEY, digest VARCHAR NOT NULL,
    approved_by VARCHAR NOT NULL, approved_at TIMESTAMPTZ NOT NULL
);
"""


def _version_6(con: duckdb.DuckDBPyConnection) -> None:
    # A year of quarters: each NGO's rolling-year cap (``*``: the default for NGOs without one),
    # and the releases the schedule proposes with the steward approvals they need (decision 015).
    con.execute(_YEAR)


def _version_7(con: duckdb.DuckDBPyConnection) -> None:
    # Which events of the desk's journal are chained into the audit log (pipelines.hub.desk).
    from pipelines.hub.desk.journal import IMPORTED_DDL

    con.execute(IMPORTED_DDL)


def _version_8(con: duckdb.DuckDBPyConnection) -> None:
    # Refused payloads are kept encrypted here, never in the clear (pipelines.hub.vault.quarantine).
    from pipelines.hub.vault.quarantine import QUARANTINE_DDL

    con.execute(QUARANTINE_DDL)


def _version_9(con: duckdb.DuckDBPyConnection) -> None:
    # The vault's copy of the desk's NGO register, read beside the rows (pipelines.hub.vault.register).
    from pipelines.hub.vault.register import REGISTER_DDL

    con.execute(REGISTER_DDL)


MIGRATIONS: list[Callable[[duckdb.DuckDBPyConnection], None]] = [
    _version_1,
    _version_2,
    _version_3,
    _version_4,
    _version_5,
    _version_6,
    _version_7,
    _version_8,
    _version_9,
]
"""Each migration runs once, in order, in its own transaction; append, never edit."""


def ensure_schema(con: duckdb.DuckDBPyConnection) -> None:
    """Bring the vault's tables up to the newest version; cheap when they are."""
    con.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
    row = con.execute("SELECT max(version) FROM schema_version").fetchone()
    current = row[0] if row and row[0] is not None else 0
    for version, migrate in enumerate(MIGRATIONS, start=1):
        if version <= current:
            continue
        with transaction(con):
            migrate(con)
            con.execute("INSERT INTO schema_version VALUES (?)", [version])
