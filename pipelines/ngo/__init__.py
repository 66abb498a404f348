"""The NGO zone: what runs on an NGO's own machine before anything leaves it.

``outcomes submit`` validates an extract against its contract, refuses direct
identifiers, keeps only contract columns, replaces client and episode
references with keyed hashes under a key that never leaves the NGO's folder,
and hands a sanitised file to the hub's inbox. Nothing here reads the hub's
vault, ledger or published zone.
"""
