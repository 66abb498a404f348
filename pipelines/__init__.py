"""Outcome Hub: the Dagster code location and the Dagster-free core it calls.

Packages follow the trust zones of the product brief:

- ``standard``   the v1 data standard generated from ``contracts/`` (no data)
- ``validation`` reading extracts, direct-identifier detection, GX suites, reports
- ``ngo``        the NGO zone: pseudonymise and hand over sanitised extracts
- ``hub``        the steward zone: encrypted vault, intake, audit log, budgets, releases
- ``published``  the published zone: differentially private releases only
- ``assets``     the thin Dagster shell; ``definitions`` wires it together

Arrows run one way: ``published`` (and ``dashboards``) never import the hub or
the NGO side.
"""

__version__ = "0.1.0"
