"""The Dagster shell: thin assets, checks, sensors and schedules over the core modules.

Assets load, call a core function and record metadata; the logic lives in
``pipelines.hub``, ``pipelines.validation`` and friends, which tests call
without Dagster. Only resources read the environment.
"""
