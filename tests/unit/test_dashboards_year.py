"""The methodology page states, in plain words, the guarantee a client served all year has.

The page is built from a fabricated published zone and rendered with the site's own Jinja
environment; no whole site is built (tests/unit/test_dashboards.py does that).
"""

from __future__ import annotations

import html as html_module
import re
from pathlib import Path

from test_dashboards_zone import fabricated_tables

from dashboards.pages import methodology
from dashboards.site import environment, render
from dashboards.zone import load_zone
from pipelines.published.store import write_published


def test_the_methodology_page_states_a_clients_guarantee_over_a_year(tmp_path: Path) -> None:
    """Tests that the methodology page says that a client served all year is in four quarterly
    releases whose privacy losses add up, and states the cap on any four consecutive quarters
    as rho and as epsilon at delta, as the published zone holds them."""
    tables = fabricated_tables(ngos=1, periods=("2025-Q3",))
    tables["publication"]["annual_rho"] = 2.0
    tables["publication"]["annual_epsilon"] = 12.57
    path = tmp_path / "published.duckdb"
    write_published(path, tables)
    zone = load_zone(path)
    page = methodology.pages(zone)[0]
    html = render(environment(), page, zone)
    section = html[html.index('id="over-a-year"') :]
    text = re.sub(r"\s+", " ", html_module.unescape(re.sub(r"<[^>]+>", " ", section)))
    assert "a client served all year is counted in four quarterly releases" in text
    assert "any four consecutive quarters may spend together" in text
    assert "\u03c1 = 2 (\u03b5 = 12.6 at \u03b4 = 1e-07)" in text.replace("\xa0", " ")
    assert "That is the guarantee a client served all year actually has" in text


def test_the_methodology_page_gives_each_flag_rule_the_caps_and_the_key_sets(
    tmp_path: Path,
) -> None:
    """Tests that the methodology page states, in one sentence per kind of number, the rule
    its flag is decided by (as the plan states it), the contribution caps read from the
    publication, and that per-NGO breakdowns follow the NGO register."""
    from dashboards.pages.methodology import SCALES
    from pipelines.privacy.plan import load_plan

    plan = load_plan()
    tables = fabricated_tables(ngos=1, periods=("2025-Q3",))
    path = tmp_path / "published.duckdb"
    write_published(path, tables)
    zone = load_zone(path)
    (page,) = methodology.pages(zone)
    env = environment()
    text = re.sub(
        r"\s+", " ", html_module.unescape(re.sub(r"<[^>]+>", " ", render(env, page, zone)))
    )
    for scale, kind in SCALES.items():
        assert f"{kind} {plan.rule_text(scale)}" in text, scale  # type: ignore[arg-type]
    sessions = tables["publication"]["sessions_per_episode"].iloc[0]
    assert f"each episode for at most {sessions:g} sessions" in text
    assert "registered for" in text
    assert "still counts in its totals" in text
