"""PostgreSQL LISTEN/NOTIFY for the server's replicas.

``PgNotifications`` keeps one dedicated connection per process that LISTENs on the channels
callbacks were registered for, on a background thread, and hands each notification's payload
to those callbacks. Once a channel's LISTEN is in effect (at first, and again after a lost
connection was reopened, with a short pause) its callbacks are called with ``None``:
notifications sent before may have been missed, so listeners re-check the database.
``notify`` sends one inside the caller's transaction, so peers hear of a change only once it
is committed.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

import psycopg
from sqlalchemy import Engine, text
from sqlalchemy.engine import Connection

__all__ = ["PgNotifications", "notify"]

_log = logging.getLogger(__name__)
_RECONNECT_PAUSE_S = 1.0
_POLL_S = 0.5

Listener = Callable[[str | None], None]


def notify(conn: Connection, channel: str, payload: str) -> None:
    """NOTIFY ``channel`` with ``payload`` when ``conn``'s transaction commits."""
    conn.execute(
        text("SELECT pg_notify(:channel, :payload)"), {"channel": channel, "payload": payload}
    )


class PgNotifications:
    """Listens for the database of ``engine`` (PostgreSQL only); ``close`` stops it."""

    def __init__(self, engine: Engine) -> None:
        url = engine.url.set(drivername="postgresql")
        self._dsn = url.render_as_string(hide_password=False)
        self._lock = threading.Lock()
        self._listeners: dict[str, list[Listener]] = {}
        self._subscribed: set[str] = set()
        self._stopping = threading.Event()
        self._ready = threading.Event()
        self._thread: threading.Thread | None = None

    def listen(self, channel: str, listener: Listener) -> None:
        """Call ``listener`` with each payload NOTIFYed on ``channel`` from now on (and with
        ``None`` after a reconnect). Returns once the LISTEN is in effect."""
        with self._lock:
            self._listeners.setdefault(channel, []).append(listener)
            self._ready.clear()
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="floww-pg-listen", daemon=True
                )
                self._thread.start()
        self._ready.wait(timeout=10)

    def close(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                with psycopg.connect(self._dsn, autocommit=True) as conn:
                    self._subscribed = set()
                    while not self._stopping.is_set():
                        self._subscribe_new(conn)
                        for note in conn.notifies(timeout=_POLL_S):
                            self._dispatch(note.channel, note.payload)
            except psycopg.Error as error:
                _log.warning("listening for database notifications failed: %s", error)
                self._stopping.wait(_RECONNECT_PAUSE_S)

    def _subscribe_new(self, conn: psycopg.Connection[tuple[object, ...]]) -> None:
        with self._lock:
            missing = [c for c in self._listeners if c not in self._subscribed]
        for channel in missing:
            conn.execute(f'LISTEN "{channel}"')
            self._subscribed.add(channel)
            # Only now that the LISTEN is in effect: whatever was notified before it (while
            # disconnected, or before the first connection came up) may have been missed.
            self._dispatch(channel, None)
        with self._lock:
            if self._subscribed.issuperset(self._listeners):
                self._ready.set()

    def _dispatch(self, channel: str, payload: str | None) -> None:
        with self._lock:
            listeners = list(self._listeners.get(channel, ()))
        for listener in listeners:
            try:
                listener(payload)
            except Exception:  # one listener's failure must not stop the others
                _log.exception("a database notification listener failed")
