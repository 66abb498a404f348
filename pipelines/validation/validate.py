"""Run a contract's Great Expectations suite and reduce the result to findings.

A finding names a rule, its columns, how many rows broke it and which rows
(by row number). It never carries a value: Great Expectations returns the
offending values alongside their row numbers, and they are dropped here, at
the only place they ever exist outside the data itself.
"""

from __future__ import annotations

import functools
import logging
from collections import defaultdict
from typing import Any

import pandas as pd

from pipelines.standard.contract import Contract
from pipelines.standard.rules import contract_rules
from pipelines.validation.findings import MAX_ROWS_LISTED, ROW, SUBMISSION, Finding, finding_for

__all__ = ["MAX_ROWS_LISTED", "Finding", "finding_for", "findings_from", "run_suite"]


class _Engine:
    """One ephemeral Great Expectations context per process, with suites cached by shape.

    Creating contexts, suites and validation definitions costs far more than
    validating a small frame, so they are made once and reused.
    """

    def __init__(self) -> None:
        from pipelines.validation.gx_import import great_expectations

        gx = great_expectations()
        from great_expectations.data_context.types.base import ProgressBarsConfig

        for name in ("great_expectations", "great_expectations.core", "posthog"):
            logging.getLogger(name).setLevel(logging.ERROR)
        self._gx = gx
        self.context = gx.get_context(mode="ephemeral")
        self.context.variables.progress_bars = ProgressBarsConfig(globally=False)
        source = self.context.data_sources.add_pandas("outcome_hub")
        self.batch_definition = source.add_dataframe_asset(
            "extract"
        ).add_batch_definition_whole_dataframe("whole_extract")
        self._definitions: dict[tuple[str, frozenset[str], bool, bool], Any] = {}

    def definition(
        self, contract: Contract, present: frozenset[str], batch: bool, sanitised: bool
    ) -> Any:
        key = (contract.tag, present, batch, sanitised)
        if key not in self._definitions:
            gx = self._gx
            name = f"{contract.tag}-{len(self._definitions)}"
            from pipelines.validation.expectations import build_expectations

            expectations = build_expectations(contract, present, batch, sanitised)
            suite = gx.ExpectationSuite(name=name, expectations=expectations)
            suite = self.context.suites.add(suite)
            self._definitions[key] = self.context.validation_definitions.add(
                gx.ValidationDefinition(name=name, data=self.batch_definition, suite=suite)
            )
        return self._definitions[key]


@functools.cache
def _engine() -> _Engine:
    return _Engine()


def run_suite(
    frame: pd.DataFrame,
    contract: Contract,
    present: frozenset[str],
    batch: bool,
    sanitised: bool = False,
) -> Any:
    """Validate a prepared frame and return the raw Great Expectations result (holds values: keep local)."""
    index_columns = [SUBMISSION, ROW] if batch else [ROW]
    definition = _engine().definition(contract, present, batch, sanitised)
    return definition.run(
        batch_parameters={"dataframe": frame},
        result_format={
            "result_format": "COMPLETE",
            "unexpected_index_column_names": index_columns,
            "return_unexpected_index_query": False,
            "partial_unexpected_count": 0,
        },
    )


class ValidationEngineError(RuntimeError):
    """Great Expectations could not evaluate a rule: a fault in the hub, not in the data."""


def findings_from(
    result: Any,
    contract: Contract,
    submissions: list[str] | None = None,
    sanitised: bool = False,
) -> list[Finding]:
    """Reduce a suite result to findings per (submission, rule), keeping row numbers only."""
    rules = {r.id: r for r in contract_rules(contract, sanitised)}
    rows: dict[tuple[str | None, str], set[int]] = defaultdict(set)
    counts: dict[tuple[str | None, str], int] = defaultdict(int)
    failed_whole: set[tuple[str | None, str]] = set()
    scopes: list[str | None] = list(submissions) if submissions else [None]
    for item in result.results:
        rule_id = item.expectation_config.meta["rule"]
        if item.exception_info and item.exception_info.get("raised_exception"):
            # The exception text may quote data; name only the rule.
            raise ValidationEngineError(f"the validation engine could not evaluate rule {rule_id}")
        if item.success:
            continue
        index_list = (item.result or {}).get("unexpected_index_list")
        if not index_list:
            # Table- or column-level rule (row count, column present): applies to every submission.
            for submission in scopes:
                failed_whole.add((submission, rule_id))
            continue
        for entry in index_list:
            key = (entry.get(SUBMISSION) if submissions is not None else None, rule_id)
            number = int(entry[ROW])
            if number not in rows[key]:
                rows[key].add(number)
                counts[key] += 1
    findings = [
        finding_for(rules[rule_id], counts[(sub, rule_id)], tuple(rows[(sub, rule_id)]), sub)
        for (sub, rule_id) in rows
    ]
    findings += [finding_for(rules[rule_id], 0, (), sub) for (sub, rule_id) in failed_whole]
    order = {r.id: i for i, r in enumerate(contract_rules(contract, sanitised))}
    findings.sort(key=lambda f: (f.submission or "", order[f.rule]))
    return findings
