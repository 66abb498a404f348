"""Validation shared by the NGO side and the hub: reading extracts, direct-identifier
detection, Great Expectations suites, SQL re-checks and reports.
"""
