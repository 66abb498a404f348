"""Every contract rule reaches Great Expectations and is evaluated; SQL re-checks agree with GX.

Great Expectations drops an expectation it cannot configure without saying so,
and reports one it cannot evaluate as an exception inside a result. These
tests prove that, for both datasets, both forms (as the NGO submits and as
the hub receives) and both modes (one submission or a batch), each rule id of
``contract_rules`` came back from GX evaluated, and that the SQL versions of
the rules (the hub's independent blocking check) find the same problems.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import date
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from pipelines.ngo.sanitise import sanitised_table
from pipelines.standard.contract import DATASETS, Contract, load_contract
from pipelines.standard.periods import Period
from pipelines.standard.rules import contract_rules
from pipelines.validation.findings import relationship_column, value_column
from pipelines.validation.prepare import Context, prepare
from pipelines.validation.sql_rules import count_violations, sql_rules
from pipelines.validation.validate import findings_from, run_suite

PERIOD = Period.parse("2025-Q3")
SUBMITTED_ON = date(2025, 9, 15)  # inside the period, so "in the future" can be tested alone
SUBMISSION = "2025-Q3.ngo-0042.episodes.0123456789ab"
Rows = list[dict[str, str]]


def hex_id(text: str) -> str:
    """A stand-in pseudonym: 32 hex digits."""
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def valid_rows(
    dataset: str, episode_rows: Callable[..., Rows], assessment_rows: Callable[[Rows], Rows]
) -> Rows:
    episodes = episode_rows(4, PERIOD)
    rows = episodes if dataset == "episodes" else assessment_rows(episodes)
    return [
        {**row, "client_id": hex_id(row["client_id"]), "episode_id": hex_id(row["episode_id"])}
        for row in rows
    ]


def text_frame(rows: Rows, contract: Contract) -> pd.DataFrame:
    frame = pd.DataFrame(
        {
            c: pd.array([row.get(c) or None for row in rows], dtype="str")
            for c in contract.column_names
        }
    )
    frame["_row"] = np.arange(2, 2 + len(rows))
    return frame


def prepared(rows: Rows, contract: Contract, batch: bool) -> pd.DataFrame:
    """A frame with every column the suite may read: values, typed shadows, context,
    relationship flags (all holding), ``_row`` and, in batch mode, ``_submission``."""
    frame = text_frame(rows, contract)
    flags = {rel.id: np.ones(len(rows), dtype=bool) for rel in contract.relationships}
    if batch:
        frame["_submission"] = SUBMISSION
        context: Any = {SUBMISSION: Context(PERIOD, SUBMITTED_ON, SUBMISSION)}
    else:
        context = Context(PERIOD, SUBMITTED_ON)
    return prepare(frame, contract, context, flags)


def _raised(info: Any) -> bool:
    if not info:
        return False
    if "raised_exception" in info:
        return bool(info["raised_exception"])
    return any(isinstance(v, dict) and v.get("raised_exception") for v in info.values())


@pytest.mark.parametrize("batch", [False, True], ids=["one-submission", "batch"])
@pytest.mark.parametrize("sanitised", [False, True], ids=["as-submitted", "as-received"])
@pytest.mark.parametrize("dataset", DATASETS)
def test_every_contract_rule_is_an_expectation_that_gx_evaluated(
    dataset: str,
    sanitised: bool,
    batch: bool,
    episode_rows: Callable[..., Rows],
    assessment_rows: Callable[[Rows], Rows],
) -> None:
    """Tests that each rule id of contract_rules comes back in the GX result's meta, evaluated
    without an exception, and that valid rows pass every one of them."""
    contract = load_contract(dataset)
    frame = prepared(valid_rows(dataset, episode_rows, assessment_rows), contract, batch)
    for column in contract.columns:
        if column.logical_type in ("integer", "date"):
            assert value_column(column.name) in frame.columns
    for rel in contract.relationships:
        assert relationship_column(rel.id) in frame.columns

    result = run_suite(frame, contract, frozenset(contract.column_names), batch, sanitised)

    evaluated = [r.expectation_config.meta["rule"] for r in result.results]
    expected = {r.id for r in contract_rules(contract, sanitised)}
    assert set(evaluated) == expected
    broken = [
        r.expectation_config.meta["rule"] for r in result.results if _raised(r.exception_info)
    ]
    assert broken == []
    failed = [r.expectation_config.meta["rule"] for r in result.results if not r.success]
    assert failed == []
    if sanitised:
        assert {"client_id.pseudonymised", "episode_id.pseudonymised"} <= set(evaluated)


def test_a_rule_that_fails_is_reported_by_gx(
    episode_rows: Callable[..., Rows], assessment_rows: Callable[[Rows], Rows]
) -> None:
    """Tests that the coverage check above is not vacuous: one out-of-range row fails exactly
    its rule, with its row number and no value."""
    contract = load_contract("episodes")
    rows = valid_rows("episodes", episode_rows, assessment_rows)
    rows[1]["sessions"] = "1001"
    result = run_suite(
        prepared(rows, contract, False), contract, frozenset(contract.column_names), False
    )
    (finding,) = findings_from(result, contract)
    assert (finding.rule, finding.rows, finding.count) == ("sessions.range", (3,), 1)
    assert "1001" not in repr(finding)


# --- the differential test: GX and SQL name the same rules ----------------------------------


def _break(rule_id: str, kind: str, column: str | None, contract: Contract, rows: Rows) -> None:
    """Change ``rows`` so that they break ``rule_id`` (and as little else as possible)."""
    first, second = rows[0], rows[1]
    if kind == "required":
        first[column] = ""  # type: ignore[index]
    elif kind == "max_length":
        first[column] = "a" * (int(contract.column(column).max_length) + 1)  # type: ignore[arg-type]
    elif kind == "pattern":
        first[column] = "C1000"  # a raw reference where a pseudonym belongs
    elif kind == "accepted_values":
        first[column] = "not_a_contract_value"  # type: ignore[index]
    elif kind == "range":
        first[column] = str(int(contract.column(column).maximum) + 1)  # type: ignore[arg-type]
    elif kind == "unique":
        second[column] = first[column]  # type: ignore[index]
    elif rule_id == "end-not-before-start":
        second["start_date"], second["end_date"] = "2025-08-20", "2025-08-10"
    elif rule_id == "start-not-after-period-end":
        first["start_date"] = "2025-10-05"
        first["end_date"] = ""
    elif rule_id == "end-not-before-period-start":
        second["start_date"], second["end_date"] = "2025-05-01", "2025-06-20"
    elif rule_id == "start-not-in-future":
        first["start_date"] = "2025-09-20"
    elif rule_id == "end-not-in-future":
        second["end_date"] = "2025-09-25"
    elif rule_id == "exit-reason-only-when-ended":
        first["end_date"] = ""
        first["exit_reason"] = second["exit_reason"]
    elif rule_id == "one-row-per-episode-domain":
        second["domain"] = first["domain"]
    else:
        raise AssertionError(f"no broken case for rule {rule_id}: add one to this test")


def typed_rows(frame: pd.DataFrame, contract: Contract) -> pa.Table:
    """The rows typed as the hub stores them (the hand-over's own conversion), references as
    written so that a raw reference stays raw."""
    table = sanitised_table(frame, contract, b"k" * 32)
    for name in contract.pseudonymised_columns:
        index = table.column_names.index(name)
        table = table.set_column(index, name, pa.array(frame[name], pa.string()))
    return table


def _cases() -> list[Any]:
    cases = []
    for dataset in DATASETS:
        contract = load_contract(dataset)
        for sql_rule in sql_rules(contract):
            cases.append(pytest.param(dataset, sql_rule.rule, id=f"{dataset}:{sql_rule.rule}"))
    return cases


@pytest.mark.parametrize(("dataset", "rule_id"), _cases())
def test_sql_rules_and_gx_find_the_same_broken_rule(
    dataset: str,
    rule_id: str,
    episode_rows: Callable[..., Rows],
    assessment_rows: Callable[[Rows], Rows],
) -> None:
    """Tests that for rows broken against one rule, the GX suite (as the hub runs it) and the
    SQL re-check name the same rules with the same row counts, and the broken rule is among
    them."""
    contract = load_contract(dataset)
    rules = {r.id: r for r in contract_rules(contract, sanitised=True)}
    rows = valid_rows(dataset, episode_rows, assessment_rows)
    rule = rules[rule_id]
    _break(rule_id, rule.kind, rule.columns[0] if rule.columns else None, contract, rows)
    frame = prepared(rows, contract, batch=True)

    result = run_suite(frame, contract, frozenset(contract.column_names), True, sanitised=True)
    findings = findings_from(result, contract, [SUBMISSION], sanitised=True)
    covered = {r.rule for r in sql_rules(contract)}
    by_gx = {f.rule: f.count for f in findings if f.rule in covered}

    con = duckdb.connect()
    typed = typed_rows(frame, contract)  # noqa: F841  (read by DuckDB below)
    con.execute(
        f"CREATE TABLE rows AS SELECT '{SUBMISSION}' AS submission_id, 'ngo-0042' AS ngo_id, "
        f"'{PERIOD}' AS period, DATE '{SUBMITTED_ON}' AS submitted_on, * FROM typed"
    )
    by_sql = {k: v for k, v in count_violations(con, contract, "rows").items() if v}

    assert rule_id in by_gx
    assert by_gx == by_sql


def test_every_sql_rule_has_a_differential_case() -> None:
    """Tests that the SQL re-check covers every row-level rule that types do not already
    guarantee, so the differential cases above cover the whole contract."""
    for dataset in DATASETS:
        contract = load_contract(dataset)
        covered = {r.rule for r in sql_rules(contract)}
        by_type = {"has_rows", "has_column", "integer", "date", "boolean", "relationship"}
        expected = {r.id for r in contract_rules(contract, sanitised=True) if r.kind not in by_type}
        assert covered == expected
