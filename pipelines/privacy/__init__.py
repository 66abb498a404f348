"""Differential privacy, Dagster-free and vault-free: release plans, sensitivities,
OpenDP mechanisms, intervals and accuracy planning.

Functions here take vectors and plans, never rows; the steward zone
(``pipelines.hub``) bounds the data and hands aggregates in.
"""
