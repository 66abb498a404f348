"""Methodology: what a differentially private number is, and every flag the site uses, in plain words.

The page is written for a funder who has never heard of differential privacy.
It explains every reliability flag and every withheld reason present in the
published cells; a flag it cannot explain stops the build, so the site never
shows a flag that nothing explains.
"""

from __future__ import annotations

from collections import defaultdict

from dashboards.charts import Row, Table
from dashboards.methods import methods_box
from dashboards.page import Page, Section
from dashboards.zone import Zone

FLAGS = {
    "ok": (
        "The 95% interval is narrow compared with the number, so the number can be read as it "
        "stands (always together with its interval)."
    ),
    "low": (
        "Low reliability: the number is published, but its 95% interval is wide compared with the "
        "number itself (or, for a share or an average, with the range it can take). Charts draw "
        "these hatched or as open circles, and tables mark them \u201clow\u201d. Read them with care."
    ),
    "withheld": (
        "Withheld: the number is not published at all. Charts do not plot it and tables say "
        "\u201cwithheld\u201d with the reason. A withheld number is never zero and is never "
        "left out silently."
    ),
}
"""Every reliability flag the hub publishes, explained."""

SITE_TERMS = {
    "not in this release": (
        "The release plan in force when the period was released had no such number, so there is "
        "nothing to show."
    ),
    "exact": (
        "Budgets, the release ledger, counts of submissions and counts of flags are bookkeeping, not "
        "estimates about clients: they carry no privacy noise and so no interval."
    ),
}

_REASONS = (
    (
        "governance",
        "Cells broken down by a Māori-data value (such as ethnicity Māori) are released only with "
        "the approval of the Māori data governance group, recorded for that period. Until then the "
        "cells are withheld and no privacy budget is spent on them.",
    ),
    (
        "may be zero",
        "A share or an average divides one noisy number by another. When the number underneath "
        "could be zero, the result could be anything, so it is withheld.",
    ),
    (
        "too uncertain",
        "The privacy noise is so large compared with the number that publishing it would mislead, "
        "so it is withheld. Larger groups, or a larger budget, give narrower intervals.",
    ),
)


SCALES = {
    "value": "Counts, totals and sessions per client",
    "percentage_points": "Shares",
    "score_points": "Mean changes in score",
}
"""What each scale a flag is judged on covers, in a reader's words."""


def flag_rules(zone: Zone) -> list[tuple[str, str]]:
    """One sentence per scale the published measures are judged on, as the plan states it."""
    rules: dict[str, str] = {}
    for measure in zone.measures.values():
        if measure.scale and measure.rule:
            rules.setdefault(measure.scale, measure.rule)
    order = [s for s in SCALES if s in rules] + sorted(set(rules) - set(SCALES))
    return [(SCALES.get(s, s.replace("_", " ").capitalize()), rules[s]) for s in order]


class UnexplainedFlag(ValueError):
    """A published flag that the methodology page has no words for."""


def reason_explanation(reason: str) -> str:
    for marker, text in _REASONS:
        if marker in reason:
            return text
    return "The reason is given as the hub recorded it."


def pages(zone: Zone) -> list[Page]:
    unknown = sorted(zone.flags - set(FLAGS))
    if unknown:
        raise UnexplainedFlag(
            f"the published cells use reliability flag(s) {unknown} that the methodology page does "
            "not explain; add them to FLAGS in dashboards/pages/methodology.py"
        )
    delta = zone.publication.get("delta")
    in_force: dict[tuple[str, float], int] = defaultdict(int)
    for record in zone.budgets.to_dict("records"):
        in_force[(str(record["period"]), float(record["budget_rho"]))] += 1
    epsilon = {
        (str(r["period"]), float(r["budget_rho"])): float(r["budget_epsilon"])
        for r in zone.budgets.to_dict("records")
    }
    budgets = Table(
        "Privacy budgets in force per NGO and period",
        (
            "Period",
            "Budget per NGO (\u03c1)",
            f"As \u03b5 at \u03b4 = {delta:g}" if delta else "As \u03b5",
            "NGOs with this budget",
        ),
        tuple(
            Row((period, f"{rho:g}", f"{epsilon[(period, rho)]:.2f}", f"{n:,}"))
            for (period, rho), n in sorted(in_force.items())
        ),
    )
    return [
        Page(
            "methodology.html",
            "Methodology",
            "methodology",
            template="methodology.html.j2",
            sections=(Section(heading="Budgets in force", id="budgets", tables=((budgets, ""),)),),
            extra={
                "flags": [(f, FLAGS[f], f in zone.flags) for f in FLAGS],
                "rules": flag_rules(zone),
                "caps": methods_box(zone)[:1]
                if zone.publication.get("sessions_per_episode")
                else (),
                "terms": list(SITE_TERMS.items()),
                "reasons": [(r, reason_explanation(r)) for r in sorted(zone.reasons)],
                "delta": delta,
                "default_rho": zone.publication.get("default_rho"),
                "annual_rho": zone.publication.get("annual_rho"),
                "annual_epsilon": zone.publication.get("annual_epsilon"),
                "plan_version": zone.publication.get("plan_version"),
                "plan_digest": zone.publication.get("plan_digest"),
            },
        )
    ]
