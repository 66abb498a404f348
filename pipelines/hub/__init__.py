"""The steward zone: everything that touches individual-level rows, on the hub.

The hub's API and its desk (the only door in, the NGO register, receipts),
the encrypted vault, intake (re-validation, staging, quarantine, promotion),
the hash-chained audit log, budgets, the ledger, governance approvals,
retention, and the releases computed from the vault. The published zone and
the dashboards never import this package; the NGO side reaches it only
through its API.
"""
