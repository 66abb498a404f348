"""The published zone: differentially private releases and their metadata, nothing else.

``published.duckdb`` and the exports beside it are all that dashboards and
funders ever read. This package imports nothing from the vault, the NGO side
or validation, and a test proves it; the hub writes here, never the reverse.
"""
