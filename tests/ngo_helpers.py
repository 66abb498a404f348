"""Helpers for tests of the NGO side and of the hand-over: delivering packages, exit codes.

Hub-side tests deliver what the NGO side packed through the hub's own receiver
(:func:`~pipelines.hub.service.receive.receive`), as the API does, without
HTTP; what crosses the network is tested against a real server
(``tests/service``).
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from datetime import date

import pyarrow as pa

from pipelines.home import Home
from pipelines.ngo.folder import NgoHome
from pipelines.ngo.keys import ngo_key
from pipelines.ngo.outbox import Package, pack
from pipelines.ngo.sanitise import sanitised_table
from pipelines.standard.contract import load_contract
from pipelines.standard.periods import Period
from pipelines.validation.extract import read_extract
from pipelines.validation.prepare import Context, contract_view, prepare

ACCEPTED_HERE = 3
"""The exit code of ``outcomes submit`` for a file accepted on the NGO's side but not delivered."""


def hand_in(home: Home, ngo_home: NgoHome, ngo_id: str | None = None) -> list[str]:
    """Deliver every package waiting in the NGO's outbox to the hub's inbox through the hub's own
    receiver (no HTTP), registering each NGO first; return the submission ids, oldest first.

    Hub-side tests use this; what crosses the network is tested against a real server."""
    from pipelines.hub.desk import register
    from pipelines.hub.desk.store import opened
    from pipelines.hub.service.receive import receive
    from pipelines.ngo.outbox import delivered, waiting

    home.create()
    ids = []
    for package in waiting(ngo_home, ngo_id):
        with opened(home) as desk:
            if register.get(desk, package.ngo_id) is None:
                register.register(desk, ngo_id=package.ngo_id, name=package.ngo_id, actor="tests")
            ngo = register.require(desk, package.ngo_id)
        receipt, _new = receive(
            home, ngo, package.manifest_bytes(), [package.payload.read_bytes()], actor="tests"
        )
        delivered(ngo_home, package, receipt)
        ids.append(receipt.submission_id)
    return ids


def pack_rows(
    ngo_home: NgoHome,
    ngo_id: str,
    rows: list[dict[str, str]],
    *,
    period: str = "2025-Q3",
    dataset: str = "episodes",
    change: Callable[[pa.Table], pa.Table] | None = None,
) -> Package:
    """Pack text rows the way ``outcomes submit`` would, without running its validation suite
    (fast enough for hundreds of packages); ``change`` alters the sanitised table first, as a
    sender who bypasses ``outcomes submit`` could."""
    contract = load_contract(dataset)
    folder = ngo_home.root / "_files"  # not an NGO id: never taken for an NGO's folder
    folder.mkdir(parents=True, exist_ok=True)
    source = folder / f"{ngo_id}.{period}.{dataset}.csv"
    with source.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    view, _dropped = contract_view(read_extract(source).frame, contract)
    prepared = prepare(view, contract, Context(Period.parse(period), date.today()))
    table = sanitised_table(prepared, contract, ngo_key(ngo_home, ngo_id).key)
    if change is not None:
        table = change(table)
    return pack(
        table,
        ngo_home=ngo_home,
        ngo_id=ngo_id,
        period=Period.parse(period),
        contract=contract,
        submitted_on=date.today(),
        dropped_columns=0,
    )


def multipart(manifest: bytes, payload: bytes, boundary: str = "b0undary") -> tuple[bytes, str]:
    """An upload's body (manifest part, then payload part) and its Content-Type."""
    body = (
        f"--{boundary}\r\n"
        'Content-Disposition: form-data; name="manifest"; filename="manifest.json"\r\n'
        "Content-Type: application/json\r\n\r\n"
    ).encode()
    body += (
        manifest
        + (
            f"\r\n--{boundary}\r\n"
            'Content-Disposition: form-data; name="payload"; filename="data.parquet"\r\n'
            "Content-Type: application/vnd.apache.parquet\r\n\r\n"
        ).encode()
    )
    body += payload + f"\r\n--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"
