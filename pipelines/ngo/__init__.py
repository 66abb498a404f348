"""The NGO zone: what runs on an NGO's own computer, in a folder of its own.

``outcomes submit`` validates an extract against its contract, refuses direct
identifiers, keeps only contract columns, replaces client and episode
references with keyed hashes under a key that never leaves the NGO's folder,
and packs the sanitised file into the NGO's outbox; the hub's API is the only
way it reaches the hub.

- ``folder``     the NGO's own folder: key, reports, outbox, receipts, log
- ``keys``       the pseudonymisation key: made on first use, exported and imported by hand
- ``submit``     validate, pseudonymise, pack; ``sanitise`` the table that may leave
- ``outbox``     packages waiting for the hub's receipt, written whole or not at all
- ``client``     the hub's API over HTTPS, with the NGO's token (``token``)
- ``deliver``    sending the outbox, with backoff; a dropped connection loses nothing

Nothing here imports the hub: the two sides share only :mod:`pipelines.standard`.
"""
