"""Serve the stub over HTTPS from a daemon thread: :func:`start_in_thread`.

Used by tests (:mod:`server_stub.testing`), by ``python -m server_stub`` and by the demo app,
which embeds the stub.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import sqlite3
import threading
import time
from pathlib import Path
from types import TracebackType

import uvicorn

from .app import create_app
from .ca import ensure_dev_ca
from .settings import Settings
from .store import DB_NAME

__all__ = ["RunningServer", "ServerStartError", "start_in_thread", "bind_socket"]

logger = logging.getLogger("server_stub")

STARTUP_TIMEOUT = 20.0  # seconds
STOP_TIMEOUT = 10.0  # seconds
_POLL = 0.01  # seconds
CLOSE_GRACE = 0.25  # seconds a closing connection gets to flush before it is aborted


class ServerStartError(RuntimeError):
    """The server could not start: the address is taken, the data dir is unusable, or it did
    not come up in time. The message says which, in one line."""


class _StubServer(uvicorn.Server):
    """uvicorn's server, with a shutdown that does not wait on idle TLS connections.

    On shutdown uvicorn closes idle keep-alive connections; over TLS, closing waits for the
    client's ``close_notify``, which a client holding a pooled connection never sends, so
    shutdown would hang until ``timeout_graceful_shutdown``. Here a connection that has been
    closing for :data:`CLOSE_GRACE` seconds (long enough to flush a last response) is aborted.
    """

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        reaper = asyncio.create_task(self._abort_closing_connections())
        try:
            await super().shutdown(sockets=sockets)
        finally:
            reaper.cancel()

    async def _abort_closing_connections(self) -> None:
        closing_since: dict[int, float] = {}
        while True:
            await asyncio.sleep(_POLL * 5)
            now = time.monotonic()
            for connection in list(self.server_state.connections):
                transport = getattr(connection, "transport", None)
                if transport is None or not transport.is_closing():
                    continue
                since = closing_since.setdefault(id(connection), now)
                if now - since >= CLOSE_GRACE:
                    transport.abort()


def bind_socket(host: str, port: int) -> socket.socket:
    """A TCP socket bound to ``(host, port)`` and listening; port 0 picks a free port.

    Raises:
        ServerStartError: the address cannot be bound (in use, not local, no permission).
    """
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise ServerStartError(f"cannot listen on {host}: unknown host ({exc.strerror})") from exc
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    try:
        if os.name == "posix":  # allows a quick restart; on Windows it would allow port sharing
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(128)
    except OSError as exc:
        sock.close()
        reason = exc.strerror or str(exc)
        raise ServerStartError(f"cannot listen on {_netloc(host, port)}: {reason}") from exc
    return sock


#: SQLite's answers for a file that is not (or no longer) a usable database.
_DAMAGED = frozenset({"SQLITE_NOTADB", "SQLITE_CORRUPT"})


def _database_problem(path: Path, exc: sqlite3.Error) -> str:
    """One line naming the database file, what is wrong with it and what to do."""
    name = getattr(exc, "sqlite_errorname", "")
    if name in _DAMAGED or "not a database" in str(exc) or "malformed" in str(exc):
        return (
            f"the stub database {path} is damaged or not a SQLite database ({exc}); move it "
            f"aside (e.g. 'mv {path} {path}.broken') and start again: a new, empty one is "
            "created"
        )
    return f"cannot open the stub database {path}: {exc}"


def _netloc(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


class RunningServer:
    """A stub server running in a daemon thread. Stop it with :meth:`stop` or a ``with`` block.

    Attributes:
        url: base URL without a trailing slash, e.g. ``https://127.0.0.1:54321``.
        host: the address listened on.
        port: the TCP port listened on (the real one when 0 was asked for).
        ca_path: ``<data_dir>/ca.pem``, the CA to verify the server with.
        data_dir: the server's data folder.
        hpke_pins: (property) fingerprints of the server's HPKE keys, current first: what
            ``SdkConfig(hpke_pins=...)`` needs (also in ``<data_dir>/hpke-pins.txt``).
    """

    def __init__(
        self, server: uvicorn.Server, thread: threading.Thread, host: str, port: int,
        ca_path: Path, data_dir: Path,
    ) -> None:
        self._server = server
        self._thread = thread
        self.host = host
        self.port = port
        self.url = f"https://{_netloc(host, port)}"
        self.ca_path = ca_path
        self.data_dir = data_dir

    @property
    def hpke_pins(self) -> tuple[str, ...]:
        """Fingerprints of the published HPKE keys, current first (re-read: a rotation shows)."""
        from .hpke import hpke_pins

        return hpke_pins(self.data_dir)

    @property
    def running(self) -> bool:
        """True while the server thread is alive."""
        return self._thread.is_alive()

    def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        """Stop serving and wait for the thread to end; safe to call twice.

        Waits up to ``timeout`` seconds for open requests to finish, then closes connections.
        """
        self._server.should_exit = True
        self._thread.join(timeout)
        if self._thread.is_alive():
            logger.warning("stub server did not stop within %.0f s; forcing", timeout)
            self._server.force_exit = True
            self._thread.join(timeout)

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the server stops (or ``timeout`` seconds pass); True when stopped."""
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def __enter__(self) -> RunningServer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"RunningServer(url={self.url!r}, running={self.running})"


def start_in_thread(settings: Settings, startup_timeout: float = STARTUP_TIMEOUT) -> RunningServer:
    """Start the stub over HTTPS in a daemon thread and return once it accepts connections.

    Makes the dev CA and server certificate in ``settings.data_dir`` if needed, binds
    ``(settings.host, settings.port)`` itself (port 0 -> a free port), then runs uvicorn on that
    socket. uvicorn's access log is off: the server logs nothing about its callers.

    Args:
        settings: where to keep data, what to serve, where to listen.
        startup_timeout: seconds to wait for the server to be up.

    Returns:
        the :class:`RunningServer`; stop it with ``.stop()`` or use it as a context manager.

    Raises:
        ServerStartError: the address cannot be bound, the data dir or CA is unusable, or the
            server did not start within ``startup_timeout`` seconds.
    """
    try:
        dev_ca = ensure_dev_ca(settings.data_dir, settings.cert_names)
        app = create_app(settings)
    except OSError as exc:
        raise ServerStartError(
            f"cannot use data dir {settings.data_dir}: {exc.strerror or exc}"
        ) from exc
    except sqlite3.Error as exc:
        raise ServerStartError(_database_problem(settings.data_dir / DB_NAME, exc)) from exc
    except Exception as exc:  # DevCaError, sqlite3.Error, RuntimeError: one clear line
        raise ServerStartError(f"cannot start the stub: {exc}") from exc
    sock = bind_socket(settings.host, settings.port)
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        app,
        ssl_certfile=str(dev_ca.cert_path),
        ssl_keyfile=str(dev_ca.key_path),
        log_level="warning",
        log_config=None,  # leave the process's logging alone
        access_log=False,  # access logs would record callers' addresses
        lifespan="off",
        ws="none",
        server_header=False,
        timeout_graceful_shutdown=int(STOP_TIMEOUT),
    )
    server = _StubServer(config)
    failure: list[BaseException] = []

    def serve() -> None:
        try:
            server.run(sockets=[sock])
        except BaseException as exc:  # noqa: BLE001 - reported by start_in_thread
            failure.append(exc)
        finally:
            sock.close()

    thread = threading.Thread(target=serve, name=f"server_stub:{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + startup_timeout
    while not server.started:
        if not thread.is_alive():
            cause = failure[0] if failure else None
            raise ServerStartError(
                f"the stub stopped while starting on {_netloc(settings.host, port)}"
                + (f": {cause!r}" if cause else "; see the log")
            ) from cause
        if time.monotonic() > deadline:
            server.should_exit = True
            thread.join(STOP_TIMEOUT)
            raise ServerStartError(
                f"the stub did not start within {startup_timeout:g} s on {_netloc(settings.host, port)}"
            )
        time.sleep(_POLL)
    logger.info("stub listening on https://%s", _netloc(settings.host, port))
    return RunningServer(server, thread, settings.host, port, dev_ca.ca_path, settings.data_dir)
