"""Dashboards: the static site that funders, NGOs and stewards open, built from the published zone only.

``build_site(published_db, out)`` reads ``published.duckdb`` through
:mod:`pipelines.published.store` (read-only) and writes plain HTML pages, the
CSV download of every chart, and one local copy of plotly.js. The package
imports nothing from the hub, the NGO side, validation or the privacy
internals, and opens no file outside the published zone and its own templates;
``tests/unit/test_dashboards_boundary.py`` proves both.

Modules:

- ``zone``     the published zone, read once and indexed
- ``labels``   contract labels, questions and number formats
- ``figures``  Plotly figures as plain dicts, with 95% error bars
- ``charts``   a chart = figure + table of exactly its cells + CSV download
- ``page``     sections, tiles and pages, before any HTML
- ``pages``    one module per page: report card, programmes and regions,
  outcomes, equity, trends, NGOs, steward and budgets, methodology, and the
  list of released periods (the picker reads it from ``assets/periods.js``)
- ``site``     renders every page with one Jinja environment and writes the site
"""

from dashboards.site import SiteError, SiteReport, build_site

__all__ = ["SiteError", "SiteReport", "build_site"]
