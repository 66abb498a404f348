"""Receiving a submission: the one way anything enters the hub's inbox.

The NGO is the one whose token made the upload, never the one a manifest
names; a manifest naming another NGO is refused and journalled. The payload is
streamed into a hidden staging folder inside the inbox, hashed as it arrives,
held to the size limit, fsynced, checked against the manifest's sha256, and
only then renamed into place beside the manifest and the hub's own
``receipt.json`` (who sent it, when, by the hub's clock). The receipt is
recorded after the rename, so it is never given for data not on disk; the
same submission sent again gets the receipt it got the first time, unless the
hub refused it or a later file superseded it since: then it is a new arrival
(the NGO going back to that file, or sending it again once what it lacked is
there), with a new receipt.

The API calls :func:`receive` for ``POST /v1/submissions``; tests and tools
that deliver a package on the hub's own machine call it too, so there is one
path into the inbox.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Iterable
from datetime import UTC, datetime
from pathlib import Path

import anyio.to_thread

from pipelines.home import Home, private_dir
from pipelines.hub.desk import journal, receipts
from pipelines.hub.desk.register import Ngo
from pipelines.hub.desk.store import opened, writing
from pipelines.hub.inbox import STAGING_PREFIX
from pipelines.standard.api import Receipt
from pipelines.standard.contract import load_contract
from pipelines.standard.handover import MANIFEST, PAYLOAD, RECEIPT, Manifest, ManifestError
from pipelines.standard.limits import FILE_BYTES, MANIFEST_BYTES
from pipelines.validation.source import ExtractError, read_source


class UploadRefused(Exception):
    """An upload the hub will not take; ``status`` is the HTTP status that says why.

    Not a frozen dataclass: raising sets an exception's ``__traceback__`` and chaining its
    ``__cause__``, which a frozen instance refuses."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message

    def __str__(self) -> str:
        return self.message


def check_manifest(ngo: Ngo, data: bytes, *, actor: str, home: Home) -> Manifest:
    """The upload's manifest, parsed and checked against the caller; refusals are journalled
    when they are about who is calling."""
    if len(data) > MANIFEST_BYTES.value:
        raise UploadRefused(413, "too_large", f"The manifest is over {MANIFEST_BYTES}.")
    try:
        manifest = Manifest.parse(data)
    except ManifestError as error:
        raise UploadRefused(
            422, "bad_manifest", f"{error.message[0].upper()}{error.message[1:]}."
        ) from None
    if manifest.ngo_id != ngo.ngo_id:
        with opened(home) as desk, writing(desk):
            journal.record(
                desk,
                actor,
                "upload_refused_wrong_ngo",
                ngo.ngo_id,
                {"manifest_names": manifest.ngo_id, "period": manifest.period},
            )
        raise UploadRefused(
            403,
            "wrong_ngo",
            f"This token belongs to {ngo.ngo_id}; the manifest names another NGO. An NGO "
            "submits only its own extracts, with its own token.",
        )
    contract = load_contract(manifest.dataset)
    if manifest.contract != contract.tag:
        raise UploadRefused(
            422,
            "wrong_contract",
            f"The submission was made against {manifest.contract!r}; the hub takes "
            f"{contract.tag}. Update the NGO's outcome-hub tool and submit again.",
        )
    return manifest


class _Staged:
    """A payload being written into a hidden folder of the inbox, hashed and counted."""

    def __init__(self, home: Home) -> None:
        private_dir(home.inbox)
        self.folder = home.inbox / f"{STAGING_PREFIX}{uuid.uuid4().hex}"
        self.folder.mkdir(mode=0o700)
        self.sha = hashlib.sha256()
        self.size = 0
        self._file = (self.folder / PAYLOAD).open("wb")

    def write(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if self.size > FILE_BYTES.value:
            raise UploadRefused(413, "too_large", f"The payload is over {FILE_BYTES}.")
        self.sha.update(chunk)
        self._file.write(chunk)

    def finish(self) -> None:
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()

    def discard(self) -> None:
        with contextlib.suppress(OSError):
            self._file.close()
        shutil.rmtree(self.folder, ignore_errors=True)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _place(home: Home, staged: _Staged, manifest_bytes: bytes, receipt: Receipt) -> Receipt:
    """Rename the staged folder into the inbox; return the receipt of what is now there (the
    earlier one when the same submission is already there, received but not yet taken in)."""
    (staged.folder / MANIFEST).write_bytes(manifest_bytes)
    (staged.folder / RECEIPT).write_text(receipt.model_dump_json(indent=2), encoding="utf-8")
    for name in (MANIFEST, RECEIPT):
        fd = os.open(staged.folder / name, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    _fsync_dir(staged.folder)
    final = home.inbox_item(receipt.submission_id)
    try:
        staged.folder.rename(final)
    except OSError:
        if not final.is_dir():
            raise
        # The same bytes arrived before (or are arriving now): keep the first arrival.
        staged.discard()
        return _receipt_in(final) or receipt
    _fsync_dir(home.inbox)
    return receipt


def _receipt_in(folder: Path) -> Receipt | None:
    """The hub's receipt in an inbox folder, read within its limit and never through a link."""
    try:
        data = read_source(folder / RECEIPT, limit=MANIFEST_BYTES, follow_symlinks=False).data
        return Receipt.model_validate_json(data)
    except (ExtractError, ValueError):
        return None


def _finish(
    home: Home, staged: _Staged, manifest: Manifest, manifest_bytes: bytes, *, ngo: Ngo, actor: str
) -> tuple[Receipt, bool]:
    staged.finish()
    if staged.sha.hexdigest() != manifest.sha256:
        raise UploadRefused(
            422,
            "sha256_mismatch",
            "The payload does not match the sha256 in its manifest: it was changed or cut short "
            "on the way. Nothing was kept; send the package again.",
        )
    with opened(home) as desk:
        earlier = receipts.held(desk, manifest.submission_id)
    if earlier is not None:  # waiting for intake, or current: the same file again
        staged.discard()
        return earlier, False
    receipt = Receipt(
        submission_id=manifest.submission_id,
        ngo_id=ngo.ngo_id,
        period=manifest.period,
        dataset=manifest.dataset,
        sha256=manifest.sha256,
        bytes=staged.size,
        received_at=datetime.now(UTC).isoformat(timespec="microseconds"),
    )
    placed = _place(home, staged, manifest_bytes, receipt)
    with opened(home) as desk:
        return receipts.record(desk, placed, actor=actor)


def receive(
    home: Home, ngo: Ngo, manifest_bytes: bytes, payload: Iterable[bytes], *, actor: str
) -> tuple[Receipt, bool]:
    """Take one submission into the inbox: (receipt, True) when new, (first receipt, False) when
    the same submission had already arrived. Raises :class:`UploadRefused`; nothing of a
    refused upload is kept."""
    manifest = check_manifest(ngo, manifest_bytes, actor=actor, home=home)
    staged = _Staged(home)
    try:
        for chunk in payload:
            staged.write(chunk)
        return _finish(home, staged, manifest, manifest_bytes, ngo=ngo, actor=actor)
    except BaseException:
        staged.discard()
        raise


async def receive_stream(
    home: Home, ngo: Ngo, manifest_bytes: bytes, payload: AsyncIterator[bytes], *, actor: str
) -> tuple[Receipt, bool]:
    """:func:`receive` for a payload that arrives as an asynchronous stream (the API's body).

    The desk, the fsyncs and the rename run in a worker thread, so one upload being made
    durable never holds up the others."""
    manifest = await anyio.to_thread.run_sync(
        lambda: check_manifest(ngo, manifest_bytes, actor=actor, home=home)
    )
    staged = _Staged(home)
    try:
        async for chunk in payload:
            staged.write(chunk)
        return await anyio.to_thread.run_sync(
            lambda: _finish(home, staged, manifest, manifest_bytes, ngo=ngo, actor=actor)
        )
    except BaseException:
        staged.discard()
        raise


def recover_receipts(home: Home) -> int:
    """Record the receipt of every inbox folder the desk does not know (the hub stopped between
    the rename and the record); return how many. Run when the service starts."""
    if not home.inbox.is_dir():
        return 0
    found = 0
    with opened(home) as desk:
        for entry in sorted(home.inbox.iterdir()):
            if entry.name.startswith(".") or entry.is_symlink() or not entry.is_dir():
                continue
            receipt = _receipt_in(entry)
            if receipt is None or receipt.submission_id != entry.name:
                continue  # not the hub's: intake refuses it as a stray
            if receipts.known(desk, receipt.submission_id):
                continue
            receipts.record(desk, receipt, actor="hub service (recovered on start)")
            found += 1
    return found


def clear_staging(home: Home) -> int:
    """Remove uploads a stopped service left half-written (never renamed into the inbox, so no
    receipt was given for them); return how many. Run when the service starts, alone."""
    if not home.inbox.is_dir():
        return 0
    left = [p for p in home.inbox.iterdir() if p.name.startswith(STAGING_PREFIX)]
    for folder in left:
        if folder.is_symlink() or not folder.is_dir():
            folder.unlink(missing_ok=True)
        else:
            shutil.rmtree(folder, ignore_errors=True)
    return len(left)
