"""Tables of the vault. Row tables are generated from the contracts; nothing is typed twice.

``episodes`` and ``assessments`` keep the rows of every submission that passed
validation, tagged with their submission: current ones, superseded ones (the
archive) and staged ones (passed validation, waiting for the hub's blocking
check). ``current_*`` views show only the rows of each NGO-period's current
submission, which is all a release ever reads.
"""

from __future__ import annotations

import duckdb

from pipelines.standard.contract import Contract, load_contracts

_SQL_TYPES = {"string": "VARCHAR", "integer": "INTEGER", "date": "DATE", "boolean": "BOOLEAN"}
ROW_KEYS = ("submission_id", "ngo_id", "period")


def row_columns(contract: Contract) -> list[tuple[str, str]]:
    """(name, SQL type) of a row table: who/when, the contract's columns, the NGO's row number."""
    keys = [(k, "VARCHAR") for k in ROW_KEYS]
    body = [(c.name, _SQL_TYPES[c.logical_type]) for c in contract.columns]
    return [*keys, *body, ("source_row", "INTEGER")]


def _create_rows(con: duckdb.DuckDBPyConnection, table: str, contract: Contract) -> None:
    columns = ", ".join(f'"{n}" {t}' for n, t in row_columns(contract))
    con.execute(f"CREATE TABLE IF NOT EXISTS {table} ({columns})")


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
    status VARCHAR NOT NULL,          -- staged | accepted | superseded | refused | purged
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


def _version_1(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(_STATE)
    for dataset, contract in load_contracts().items():
        _create_rows(con, dataset, contract)
        con.execute(
            f"CREATE OR REPLACE VIEW current_{dataset} AS SELECT r.* FROM {dataset} r "
            "JOIN submissions s USING (submission_id) WHERE s.status = 'accepted'"
        )


def _version_2(con: duckdb.DuckDBPyConnection) -> None:
    from pipelines.hub.ledger import LEDGER_DDL
    from pipelines.privacy.plan import default_plan

    con.execute(LEDGER_DDL)
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
    # Signed heads of the audit log; the table's SQL lives with the code that signs them.
    from pipelines.hub.checkpoints import CHECKPOINTS_DDL

    con.execute(CHECKPOINTS_DDL)


MIGRATIONS = [_version_1, _version_2, _version_3, _version_4]
"""Each migration runs once, in order, in its own transaction; append, never edit."""


def ensure_schema(con: duckdb.DuckDBPyConnection) -> None:
    """Bring the vault's tables up to the newest version; cheap when they are."""
    con.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
    row = con.execute("SELECT max(version) FROM schema_version").fetchone()
    current = row[0] if row and row[0] is not None else 0
    for version, migrate in enumerate(MIGRATIONS, start=1):
        if version <= current:
            continue
        con.execute("BEGIN")
        migrate(con)
        con.execute("INSERT INTO schema_version VALUES (?)", [version])
        con.execute("COMMIT")
