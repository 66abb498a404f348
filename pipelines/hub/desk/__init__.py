"""The hub's front desk: what the service needs without the vault's single-writer lock.

The vault is one DuckDB file that one process writes at a time, for minutes
during an intake or a release. The hub's API must answer every NGO at once,
whoever holds the vault, so what it reads and writes lives here, in one SQLite
file with write-ahead logging (many readers and one short writer at a time,
across processes):

- ``register``  the NGO register: public facts (name, programmes, regions) and a
  hash of each NGO's API token (never the token)
- ``receipts``  every upload the hub received, from whom (the token's NGO) and when
  (the hub's own clock), and the status and report intake gave it
- ``journal``   audit events the desk records, moved into the vault's hash-chained
  audit log whenever the vault is next opened for writing

It holds no row of any submission: no client pseudonym, no value.
"""
