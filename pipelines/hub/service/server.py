"""Serving the API: uvicorn with a header timeout, TLS, and a start-up that mends a hard stop.

uvicorn bounds the size of a request's headers but not how long they may take:
a client that sends half a request line and waits would hold a connection for
ever. :class:`TimedH11Protocol` closes a connection whose request headers are
not complete within ``header_timeout_s`` of its opening (or of the end of the
previous response); the body has its own timeouts in
:mod:`~pipelines.hub.service.uploads`.

One service runs per hub home (a lock file says so). On start it removes the
half-written uploads a killed service left behind (no receipt was given for
them, and the NGO's outbox still holds each) and records the receipt of any
upload that reached the inbox just before the stop.

``outcomes serve`` runs this module as a process of its own, handing it the
listening socket: ``python -m pipelines.hub.service.server --home H --fd N``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import fcntl
import logging
import os
import socket
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import h11
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from pipelines.home import Home, private_dir
from pipelines.hub.service.app import create_app
from pipelines.hub.service.receive import clear_staging, recover_receipts
from pipelines.hub.service.routes import Settings

log = logging.getLogger("outcome_hub.api")


class ServiceError(Exception):
    """The service cannot start; the message says why."""


class TimedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol, closing connections whose request headers do not arrive in time."""

    header_timeout_s = 10.0

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._header_timer: asyncio.TimerHandle | None = None
        self._arm()

    def _arm(self) -> None:
        self._disarm()
        self._header_timer = self.loop.call_later(self.header_timeout_s, self._headers_late)

    def _disarm(self) -> None:
        timer = getattr(self, "_header_timer", None)
        if timer is not None:
            timer.cancel()
            self._header_timer = None

    def _headers_late(self) -> None:
        self._header_timer = None
        busy = self.cycle is not None and not self.cycle.response_complete
        if not busy and not self.transport.is_closing():
            # Nothing is being answered: the client is still sending (or not sending) headers.
            self.transport.close()

    def handle_events(self) -> None:
        super().handle_events()
        if self.conn.their_state is not h11.IDLE:
            self._disarm()  # the request's headers are complete

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():
            self._arm()  # the next request on this connection has the same time for its headers

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)


def _protocol(header_timeout_s: float) -> type[TimedH11Protocol]:
    return type("HubH11Protocol", (TimedH11Protocol,), {"header_timeout_s": header_timeout_s})


@contextlib.contextmanager
def only_service(home: Home) -> Iterator[None]:
    """Hold ``<home>/hub/service.lock`` while serving: one API service per hub."""
    private_dir(home.hub)
    path = home.hub / "service.lock"
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ServiceError(
                f"another hub service is already serving {home.root}; stop it first"
            ) from None
        yield
    finally:
        os.close(fd)


def serve(
    home: Home,
    sock: socket.socket,
    *,
    settings: Settings,
    tls_cert: Path | None = None,
    tls_key: Path | None = None,
) -> None:
    """Serve the API for ``home`` on the listening socket ``sock`` until SIGTERM or Ctrl-C."""
    with only_service(home):
        cleared = clear_staging(home)
        recovered = recover_receipts(home)
        if cleared or recovered:
            log.warning(
                "start-up: removed %d upload(s) cut short by a stop; recorded %d receipt(s) "
                "of uploads that had reached the inbox",
                cleared,
                recovered,
            )
        config = uvicorn.Config(
            create_app(home, settings),
            http=_protocol(settings.header_timeout_s),
            lifespan="off",
            log_level="warning",
            access_log=False,
            server_header=False,
            proxy_headers=False,  # who is calling is the socket's peer, never a header it sent
            limit_concurrency=256,
            timeout_keep_alive=5,
            timeout_graceful_shutdown=10,
            ssl_certfile=str(tls_cert) if tls_cert else None,
            ssl_keyfile=str(tls_key) if tls_key else None,
        )
        uvicorn.Server(config).run(sockets=[sock])


def _logging() -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s api %(levelname)s %(message)s"))
    root = logging.getLogger("outcome_hub")
    root.addHandler(handler)
    root.setLevel(logging.INFO)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="The hub's API (started by `outcomes serve`).")
    parser.add_argument("--home", type=Path, required=True)
    parser.add_argument("--fd", type=int, required=True, help="the listening socket, inherited")
    parser.add_argument("--tls-cert", type=Path)
    parser.add_argument("--tls-key", type=Path)
    for name, default in Settings().__dict__.items():
        parser.add_argument(f"--{name.replace('_', '-')}", type=type(default), default=default)
    args = parser.parse_args(argv)
    settings = Settings(**{k: getattr(args, k) for k in Settings().__dict__})
    _logging()
    sock = socket.socket(fileno=args.fd)
    try:
        serve(
            Home(args.home), sock, settings=settings, tls_cert=args.tls_cert, tls_key=args.tls_key
        )
    except ServiceError as exc:
        sys.stderr.write(f"Error: {exc}\n")
        return 1
    return 0


def settings_argv(settings: Settings) -> list[str]:
    """``settings`` as the arguments :func:`main` reads."""
    out: list[str] = []
    items: dict[str, Any] = settings.__dict__
    for name, value in items.items():
        out += [f"--{name.replace('_', '-')}", str(value)]
    return out


if __name__ == "__main__":
    raise SystemExit(main())
