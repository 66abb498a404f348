"""Dispatch by table: every declared kind has its entry, so none can be half-added."""

from __future__ import annotations

from typing import get_args

import pytest

from pipelines.hub.bounding import AGGREGATES
from pipelines.hub.vault.statuses import ProposalStatus, ReleaseStatus, SubmissionStatus
from pipelines.privacy.plan import ALL, OPEN, Component
from pipelines.privacy.statistics import SENSITIVITIES, STATISTIC_NAMES, STATISTICS, StatisticName
from pipelines.standard.rules import KINDS, RuleKind
from pipelines.validation.expectations import EXPECTATIONS_BY_KIND
from pipelines.validation.sql_rules import SQL_BY_KIND


def test_every_rule_kind_has_its_sql_and_its_expectation() -> None:
    """Tests that the SQL and Great Expectations tables are keyed by exactly the rule kinds."""
    assert set(KINDS) == set(get_args(RuleKind))
    assert set(SQL_BY_KIND) == set(KINDS)
    assert set(EXPECTATIONS_BY_KIND) == set(KINDS)


def test_every_statistic_has_its_sensitivity_its_aggregate_and_its_description() -> None:
    """Tests that the sensitivity and aggregate tables, and the statistics themselves, are keyed
    by exactly the declared statistic names."""
    assert set(STATISTIC_NAMES) == set(get_args(StatisticName))
    assert set(SENSITIVITIES) == set(STATISTIC_NAMES)
    assert set(AGGREGATES) == set(STATISTIC_NAMES)
    assert set(STATISTICS) == set(STATISTIC_NAMES)


@pytest.mark.parametrize(
    ("component", "text"),
    [
        (ALL, "all"),
        (OPEN, "open"),
        (Component.governed_by("ethnicity", "maori"), "governed:ethnicity=maori"),
    ],
)
def test_a_component_reads_back_what_it_writes(component: Component, text: str) -> None:
    """Tests that a release component is stored as its text and parsed back to itself."""
    assert str(component) == text
    assert Component.parse(text) == component


@pytest.mark.parametrize("text", ["governed:ethnicity", "closed", "governed:=maori", ""])
def test_a_component_that_is_not_one_is_refused(text: str) -> None:
    """Tests that text which is not a component is refused with what it is."""
    with pytest.raises(ValueError, match="component"):
        Component.parse(text)


def test_statuses_are_the_words_stored_in_the_vault() -> None:
    """Tests that statuses compare equal to the text the vault stores."""
    assert SubmissionStatus.ACCEPTED == "accepted"
    assert {str(s) for s in ReleaseStatus} == {"current", "superseded"}
    assert {str(s) for s in ProposalStatus} == {"waiting", "approved", "released", "replaced"}
