"""The v1 data standard as code: contracts, reporting periods and the names of things.

Everything here is generated from, or checks, the ODCS contracts in
``contracts/``. It holds no individual-level data and imports nothing from the
NGO side, the hub or the published zone, so every zone may use it.
"""
