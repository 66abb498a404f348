"""The methods box: how to read the numbers on this page, in plain words, from the zone itself.

Every page that shows published estimates carries the same short box: the
contribution caps every release bounds a client by (read from the publication,
never typed here), the privacy budget per NGO for a quarter and for any four
consecutive quarters (ρ, and ε at δ), and what a withheld cell means.
"""

from __future__ import annotations

from typing import Any

from dashboards.zone import Zone

AFFECTED = frozenset({"index", "programmes", "regions", "outcomes", "equity", "trends", "ngos"})
"""The pages (by their navigation key) that show published estimates."""


def _number(value: Any) -> float | None:
    try:
        return None if value is None else float(value)
    except (TypeError, ValueError):
        return None


def methods_box(zone: Zone) -> tuple[str, ...]:
    """The box's sentences; a fact the publication does not hold is left out, never guessed."""
    pub = zone.publication
    out = []
    sessions, episodes = (
        _number(pub.get("sessions_per_episode")),
        _number(pub.get("episodes_per_client")),
    )
    if sessions and episodes:
        out.append(
            f"Caps: each client counts for at most {episodes:g} episodes per NGO per quarter, and "
            f"each episode for at most {sessions:g} sessions. This bounds what any one person can "
            "move a number by; it is also why sessions delivered can read below an NGO's own count."
        )
    rho, eps, delta = (
        _number(pub.get("default_rho")),
        _number(pub.get("default_epsilon")),
        _number(pub.get("delta")),
    )
    year_rho, year_eps = _number(pub.get("annual_rho")), _number(pub.get("annual_epsilon"))
    if rho:
        at = f" at \u03b4 {delta:g}" if delta else ""
        text = f"Budget per NGO: \u03c1 {rho:g}" + (f" (\u03b5 {eps:.1f}{at})" if eps else "")
        text += " for a quarter, unless the steward set another"
        if year_rho:
            text += f"; at most \u03c1 {year_rho:g}" + (
                f" (\u03b5 {year_eps:.1f}{at})" if year_eps else ""
            )
            text += " over any four consecutive quarters"
        out.append(text + ". Each NGO's budget protects its own clients and is never pooled.")
    out.append(
        "Withheld: the number was too uncertain to publish, the share or average had no "
        "publishable denominator, or it is a Māori-data figure waiting for the Māori data "
        "governance group's approval. A withheld number is not zero and not missing by accident."
    )
    out.append(
        "Every number carries its 95% interval, written \u201cvalue \u00b1 half-width\u201d when "
        "it is symmetric and \u201ca to b\u201d when it is not."
    )
    return tuple(out)
