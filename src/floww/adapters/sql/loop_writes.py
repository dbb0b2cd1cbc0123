"""The webhook path's execution writes on PostgreSQL, made by the event loop itself.

A webhook call run on the event loop (``entrypoints/http/webhooks.py``) records its execution
before the handler runs and again when it ends. On PostgreSQL each record is a round trip;
made from a thread, every call paid the hand-over to that thread and back, and the loop's
thread, the lanes' threads and the interpreter lock passed the core between them at each
round trip. Here the loop writes through libpq directly (psycopg's ``pq`` layer, the same
library the rest of the server uses), in pipeline mode, on connections it watches itself:

- a write's parameters are converted to text when it is made (plain values directly:
  ``pg_text.py``; any other as psycopg converts them, ``psycopg.adapt.Transformer``; a value
  that cannot be sent fails that write alone) and the write is queued. At the end of the
  loop's turn a connection with room for another group (see below) takes every queued write
  and sends them followed by one sync: one implicit transaction, one commit and one WAL
  flush for the group. Its writers are answered when the sync's result arrives, so a write
  returns only once committed (``synchronous_commit`` as configured: with ``durable=False``
  it is off for these connections, as in ``direct.py``);
- statements are prepared once per connection; parameters go as text, typed by the
  statement's own casts;
- when a write of a group is refused, or the commit itself is, the transaction committed
  nothing: each write of the group is sent again as a transaction of its own (all of them in
  one send, a sync after each), so the refusal reaches only its writer (``Conflict`` for a
  constraint, ``InvalidInput`` for a value, ``Unavailable`` otherwise). A write whose caller
  stopped waiting (its task cancelled) before it was sent is not sent;
- one connection carries the writes: while its group is in flight the next one forms, and is
  sent behind it while the one in flight is younger than ``BEHIND_S`` (up to ``DEPTH``
  groups in flight), so the server starts on it as soon as the one before committed rather
  than a round trip later. A group sent behind one that then stalls waits with it. Writes
  made later wait in the queue; only when every busy connection has had its oldest group in
  flight for ``SPARE_AFTER_S`` (a lock, a stalled flush) do they go to another (opened
  then, up to ``CONNECTIONS``), and those spares are closed once the first is free again
  and nothing waits;
- a connection that fails (the server restarted, the network; TCP keepalives and a user
  timeout notice a peer that vanished) fails the writes in flight on it with ``Unavailable``
  (a write whose commit was under way may have committed, as on any connection lost at
  commit) and is dropped; the next write opens a new one. Opening one is the only blocking
  step and runs on a thread;
- each event loop has connections of its own; those of a loop that closed are dropped when
  another starts writing, and all of them by ``close`` (the engine's disposal), which may be
  called from any thread.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import itertools
import json
import logging
import re
import threading
from typing import Any

import psycopg
from psycopg import pq
from psycopg.adapt import PyFormat, Transformer
from sqlalchemy import Engine, event

from floww.adapters.sql.direct import Prepared
from floww.adapters.sql.engine import PG_CONNECT_TIMEOUT_S
from floww.adapters.sql.pg_text import TextParams
from floww.adapters.sql.transactions import conflict, invalid
from floww.domain.errors import FlowwError, Unavailable
from floww.ports.loop_bridge import OwnThreads

__all__ = ["LoopWrites"]

log = logging.getLogger("floww.sql")

CONNECTIONS = 4
"""At most this many connections write at once."""

SPARE_AFTER_S = 0.05
"""One connection carries the writes (fewer, larger groups: fewer sends, commits and WAL
flushes than several connections would make); another is opened only for writes waiting
while every connection has had its group in flight for this long (a slow commit, a lock)."""

DEPTH = 2
"""A connection takes more writes while it has fewer than this many groups in flight: the
next group goes out while the one before it is being committed (a server with nothing to do
between two groups waited for the loop to read one's result and send the next; measured:
x1.07-1.19 throughput against one). Writes sent again one by one after a refusal are each a
group of their own and go together."""

BEHIND_S = 0.005
"""A group is sent behind one in flight only while that one is younger than this (a commit
takes about a millisecond): behind a stalled one it would wait out the stall."""

MAX_GROUP = 64
"""At most this many writes share a transaction."""

_KEEPALIVE = {
    # a peer that vanished (a dropped NAT entry, a dead host) is noticed in about 20 s when
    # idle, and a send left unacknowledged fails after 20 s, instead of TCP's 15 minutes
    "keepalives": 1,
    "keepalives_idle": 10,
    "keepalives_interval": 5,
    "keepalives_count": 2,
    "tcp_user_timeout": 20_000,
}

_PLACEHOLDER = re.compile(r"%(s|%)")
_OPENED = itertools.count()


def _numbered(sql: str) -> str:
    """``sql`` with psycopg's ``%s`` placeholders as libpq's ``$1, $2...``."""
    count = 0

    def number(match: re.Match[str]) -> str:
        nonlocal count
        if match.group(1) == "%":
            return "%"
        count += 1
        return f"${count}"

    return _PLACEHOLDER.sub(number, sql)


class _Write:
    __slots__ = ("alone", "future", "params", "statement")

    def __init__(self, statement: bytes, params: list[Any], future: asyncio.Future[int]) -> None:
        self.statement = statement
        self.params = params
        self.future = future
        self.alone = False  # sent again as a transaction of its own


class _Connection:
    """One pipeline-mode connection and what it has in flight: ``segments``, each a list of
    writes ended by a sync (one transaction), answered in order."""

    def __init__(self, owner: psycopg.Connection[Any]) -> None:
        self.owner = owner  # keeps the libpq connection open
        self.pgconn = owner.pgconn
        self.fd = self.pgconn.socket
        self.segments: collections.deque[list[_Write]] = collections.deque()
        self.sent: collections.deque[float] = collections.deque()  # each segment's send time
        # the current segment's: each statement's row count or refusal, in order, and any
        # refusal that came after its last statement (the commit's)
        self.outcomes: list[int | FlowwError] = []
        self.current: int | FlowwError | None = None
        self.late: FlowwError | None = None
        self.writing = False
        self.dead = False
        self.order = next(_OPENED)  # the oldest live connection is the one writes go to

    def finish(self) -> None:
        self.dead = True
        with contextlib.suppress(Exception):
            self.owner.close()


class LoopWrites:
    """Writes of ``statements`` (``Prepared`` for ``engine``, a PostgreSQL engine) made on
    the running event loop: ``await write(prepared, values)`` gives the statement's row
    count once committed. Each event loop gets connections of its own."""

    def __init__(self, engine: Engine, statements: list[Prepared], *, durable: bool = True) -> None:
        _cargs, params = engine.dialect.create_connect_args(engine.url)
        self.connect_params = {**_KEEPALIVE, **params, "connect_timeout": PG_CONNECT_TIMEOUT_S}
        self.context = params.get("context")
        self.statements = statements
        self.names = {id(prepared): f"floww_w{i}".encode() for i, prepared in enumerate(statements)}
        serializer = getattr(engine.dialect, "_json_serializer", None) or json.dumps
        self._text = {
            id(prepared): TextParams(prepared, engine.dialect, serializer)
            for prepared in statements
        }
        self.durable = durable
        self._lock = threading.Lock()
        self._pipelines: dict[asyncio.AbstractEventLoop, _Pipeline] = {}
        self._closed = False
        event.listen(engine, "engine_disposed", lambda _engine: self.close())

    async def write(self, prepared: Prepared, values: dict[str, Any]) -> int:
        """The row count of ``prepared`` run with ``values``, once its transaction
        committed; the domain error of its refusal otherwise (``Unavailable`` once closed)."""
        loop = asyncio.get_running_loop()
        pipeline = self._pipelines.get(loop)
        if pipeline is None:
            pipeline = self._start(loop)
        name = self.names[id(prepared)]
        text = self._text[id(prepared)].encode(values)
        if text is not None:
            return await pipeline.write_text(name, text)
        return await pipeline.write(name, list(prepared.params(values)))

    def _start(self, loop: asyncio.AbstractEventLoop) -> _Pipeline:
        with self._lock:
            if self._closed:
                raise Unavailable("the database connections are closed (the server stops)")
            ended = [old for old in self._pipelines if old.is_closed()]
            gone = [self._pipelines.pop(old) for old in ended]
            pipeline = self._pipelines[loop] = _Pipeline(self, loop)
        for old in gone:  # their loop closed: nobody awaits their writes any more
            old.drop_all(unwatch=False)
        return pipeline

    def close(self) -> None:
        """Drop every connection (each by its own loop); writes in flight and later ones
        fail with ``Unavailable``."""
        with self._lock:
            self._closed = True
            pipelines = list(self._pipelines.items())
            self._pipelines.clear()
        try:
            running: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        for loop, pipeline in pipelines:
            if loop is running:
                pipeline.drop_all()
                continue
            try:
                loop.call_soon_threadsafe(pipeline.drop_all)
            except RuntimeError:  # its loop closed: nobody awaits its writes
                pipeline.drop_all(unwatch=False)


class _Pipeline:
    """The writes of one event loop: its queue and connections."""

    def __init__(self, shared: LoopWrites, loop: asyncio.AbstractEventLoop) -> None:
        self._shared = shared
        self._loop = loop
        self._queue: collections.deque[_Write] = collections.deque()
        self._free: list[_Connection] = []
        self._busy: set[_Connection] = set()
        self._opening = 0
        self._closed = False
        self._pump_soon = False
        self._spare_check: asyncio.TimerHandle | None = None
        self._transformer = Transformer(shared.context)
        self._formats = [PyFormat.TEXT]

    async def write(self, statement: bytes, params: list[Any]) -> int:
        """``statement`` with ``params`` converted as psycopg converts them."""
        if self._closed:
            raise Unavailable("the database connections are closed (the server stops)")
        try:
            dumped = self._transformer.dump_sequence(params, self._formats * len(params))
        except psycopg.DataError as error:
            raise invalid(error) from error
        except (psycopg.Error, TypeError, ValueError) as error:
            raise Unavailable(f"a value could not be sent ({type(error).__name__})") from error
        return await self.write_text(statement, list(dumped))

    async def write_text(self, statement: bytes, params: list[Any]) -> int:
        """``statement`` with ``params`` already as libpq's text (``None`` for NULL)."""
        if self._closed:
            raise Unavailable("the database connections are closed (the server stops)")
        future: asyncio.Future[int] = self._loop.create_future()
        self._queue.append(_Write(statement, params, future))
        if not self._pump_soon:
            # sent once the loop has run what is ready now: the writes those callbacks make
            # join this one's group (one send, one commit)
            self._pump_soon = True
            self._loop.call_soon(self._pump)
        return await future

    def drop_all(self, *, unwatch: bool = True) -> None:
        """Close every connection: the writes in flight or queued fail (``unwatch``: the
        loop runs; otherwise it closed, and its futures are left alone)."""
        self._closed = True
        error = Unavailable("the database connection was closed")
        if self._spare_check is not None and unwatch:
            self._spare_check.cancel()
        self._spare_check = None
        for connection in [*self._free, *self._busy]:
            self._drop(connection, error, unwatch=unwatch)
        self._free.clear()
        self._busy.clear()
        queued, self._queue = self._queue, collections.deque()
        if unwatch:
            for write in queued:
                _fail_write(write, error)

    # -- sending ------------------------------------------------------------------------------

    def _pump(self) -> None:
        """Give the queued writes to a connection: the oldest while it has room for another
        group in flight, another only while every busy one is stalled (opening one when
        there is none to give them to)."""
        self._pump_soon = False
        while self._queue:
            connection = self._ready()
            if connection is None:
                break
            segments = self._take()
            if segments:
                if connection in self._free:
                    self._free.remove(connection)
                self._send(connection, segments)
        if not self._queue or self._closed or self._opening:
            return
        if not self._busy and not self._free:
            self._open_one()
        elif self._spare_check is None:
            self._spare_check = self._loop.call_later(SPARE_AFTER_S, self._spare)

    def _ready(self) -> _Connection | None:
        """The connection to send on now, if any may be used: the oldest while it has fewer
        than ``DEPTH`` groups in flight, none older than ``BEHIND_S``; otherwise writes wait
        for it (forming the next group) unless every busy connection is stuck, when a free
        one takes them."""
        if not self._free and not self._busy:
            return None
        oldest = min([*self._free, *self._busy], key=lambda connection: connection.order)
        now = self._loop.time()
        if len(oldest.segments) < DEPTH and not (oldest.sent and now - oldest.sent[0] >= BEHIND_S):
            return oldest
        if not self._free or not all(self._stuck(busy, now) for busy in self._busy):
            return None
        return min(self._free, key=lambda connection: connection.order)

    @staticmethod
    def _stuck(connection: _Connection, now: float) -> bool:
        """Whether ``connection``'s oldest group has been in flight for ``SPARE_AFTER_S``
        (nothing more is sent behind it then)."""
        return bool(connection.sent) and now - connection.sent[0] >= SPARE_AFTER_S

    def _stalled(self) -> bool:
        """Whether every busy connection is stuck."""
        now = self._loop.time()
        return all(self._stuck(busy, now) for busy in self._busy)

    def _retire_spares(self) -> None:
        """Close the connections opened during a stall, once the oldest is free again and
        nothing waits (each would otherwise take writes from its groups)."""
        if len(self._free) + len(self._busy) < 2 or self._queue:
            return
        oldest = min([*self._free, *self._busy], key=lambda connection: connection.order)
        if oldest not in self._free:
            return
        for spare in [c for c in self._free if c is not oldest]:
            self._free.remove(spare)
            self._drop(spare, Unavailable("a spare connection was closed"))

    def _take(self) -> list[list[_Write]]:
        """The next writes to send, as segments: the writes to be sent alone each in one of
        its own, the rest together in one (at most ``MAX_GROUP`` writes); writes whose caller
        stopped waiting are left out."""
        segments: list[list[_Write]] = []
        together: list[_Write] = []
        taken = 0
        while self._queue and taken < MAX_GROUP:
            write = self._queue[0]
            if write.alone and together:
                break
            self._queue.popleft()
            if write.future.done():  # cancelled before it was sent: not sent
                continue
            taken += 1
            if write.alone:
                segments.append([write])
            else:
                together.append(write)
        if together:
            segments.append(together)
        return segments

    def _spare(self) -> None:
        """Writes may have waited ``SPARE_AFTER_S``: sent on a free connection, or on a new
        one, when every busy connection is stalled; checked again later otherwise."""
        self._spare_check = None
        if not self._queue or self._closed or self._opening:
            return
        if self._stalled() and not self._free and len(self._busy) < CONNECTIONS:
            self._open_one()
        else:
            self._pump()

    def _open_one(self) -> None:
        self._opening += 1
        self._loop.create_task(self._open())

    async def _open(self) -> None:
        try:
            owner = await self._loop.run_in_executor(_connecting(), _connect, self._shared)
        except Exception as error:
            failure = (
                error
                if isinstance(error, FlowwError)
                else Unavailable(f"the database cannot be reached ({type(error).__name__})")
            )
            if not self._busy:  # nobody will open another for them: fail them
                queued, self._queue = self._queue, collections.deque()
                for write in queued:
                    _fail_write(write, failure)
            return
        finally:
            self._opening -= 1
        if self._closed:
            with contextlib.suppress(Exception):
                owner.close()
            return
        connection = _Connection(owner)
        self._loop.add_reader(connection.fd, self._readable, connection)
        self._free.append(connection)
        self._pump()

    def _send(self, connection: _Connection, segments: list[list[_Write]]) -> None:
        pgconn = connection.pgconn
        connection.segments.extend(segments)
        now = self._loop.time()
        connection.sent.extend(now for _ in segments)
        self._busy.add(connection)
        try:
            for segment in segments:
                for write in segment:
                    pgconn.send_query_prepared(write.statement, write.params)
                pgconn.pipeline_sync()
            self._flush(connection)
        except Exception as error:
            self._fail(connection, error)

    def _flush(self, connection: _Connection) -> None:
        if connection.pgconn.flush() == 0:
            if connection.writing:
                connection.writing = False
                self._loop.remove_writer(connection.fd)
        elif not connection.writing:
            connection.writing = True
            self._loop.add_writer(connection.fd, self._writable, connection)

    def _writable(self, connection: _Connection) -> None:
        try:
            self._flush(connection)
        except Exception as error:
            self._fail(connection, error)

    # -- receiving ----------------------------------------------------------------------------

    def _readable(self, connection: _Connection) -> None:
        """Read what arrived: per statement its results then a ``None``; per segment, once
        its statements' results are in, any refusal of the commit and the sync's result."""
        if connection.dead:
            return
        pgconn = connection.pgconn
        try:
            pgconn.consume_input()
            ended = False
            while connection.segments and not pgconn.is_busy():
                result = pgconn.get_result()
                if result is None:  # the end of one statement's results
                    if ended:  # twice: nothing more to read now (never spin on it)
                        break
                    ended = True
                    if connection.current is not None:
                        connection.outcomes.append(connection.current)
                        connection.current = None
                    continue
                ended = False
                status = result.status
                if status == pq.ExecStatus.PIPELINE_SYNC:
                    self._settle(connection)
                elif len(connection.outcomes) >= len(connection.segments[0]):
                    # past the segment's last statement: the commit was refused
                    if status == pq.ExecStatus.FATAL_ERROR:
                        connection.late = _refusal(result)
                elif status == pq.ExecStatus.COMMAND_OK or status == pq.ExecStatus.TUPLES_OK:
                    connection.current = int(result.command_tuples or 0)
                elif status == pq.ExecStatus.PIPELINE_ABORTED:
                    connection.current = Unavailable("aborted with its group")
                else:
                    connection.current = _refusal(result)
            if pgconn.status != pq.ConnStatus.OK:
                raise psycopg.OperationalError("the connection was closed")
        except Exception as error:
            self._fail(connection, error)

    def _settle(self, connection: _Connection) -> None:
        """A segment's sync arrived: answer its writers, or send them again one by one."""
        segment = connection.segments.popleft()
        connection.sent.popleft()
        outcomes, late = connection.outcomes, connection.late
        connection.outcomes, connection.current, connection.late = [], None, None
        if not connection.segments:
            self._busy.discard(connection)
            self._free.append(connection)
        refusals = [o for o in outcomes if isinstance(o, FlowwError)]
        if late is not None:
            refusals.append(late)
        if len(outcomes) != len(segment) and not refusals:
            refusals.append(Unavailable("the database answered out of order"))
        if refusals and len(segment) > 1:
            for write in reversed(segment):  # each again, alone, ahead of the queue
                write.alone = True
                self._queue.appendleft(write)
        elif refusals:
            _fail_write(segment[0], refusals[0])
        else:
            for write, outcome in zip(segment, outcomes, strict=True):
                if not write.future.done() and isinstance(outcome, int):
                    write.future.set_result(outcome)
        if self._queue:
            if not self._pump_soon:
                self._pump_soon = True
                self._loop.call_soon(self._pump)
        else:
            self._retire_spares()

    def _fail(self, connection: _Connection, error: BaseException) -> None:
        if connection.dead:
            return
        log.warning("a database connection of the webhook path failed: %s", type(error).__name__)
        self._busy.discard(connection)
        with contextlib.suppress(ValueError):
            self._free.remove(connection)
        self._drop(connection, Unavailable("the database connection failed"))
        self._pump()

    def _drop(self, connection: _Connection, error: FlowwError, *, unwatch: bool = True) -> None:
        if unwatch:
            with contextlib.suppress(Exception):
                self._loop.remove_reader(connection.fd)
                if connection.writing:
                    self._loop.remove_writer(connection.fd)
        segments, connection.segments = connection.segments, collections.deque()
        connection.sent.clear()
        connection.finish()
        if unwatch:
            for segment in segments:
                for write in segment:
                    _fail_write(write, error)


_connecting = OwnThreads(CONNECTIONS, "floww-pg-connect")
"""The threads that open connections (never queued behind other work)."""


def _fail_write(write: _Write, error: FlowwError) -> None:
    if not write.future.done():
        write.future.set_exception(error)


def _connect(shared: LoopWrites) -> psycopg.Connection[Any]:
    """A new connection in pipeline mode with the statements prepared (on a thread)."""
    try:
        owner: psycopg.Connection[Any] = psycopg.Connection.connect(
            **shared.connect_params, autocommit=True
        )
    except psycopg.Error as error:
        raise Unavailable(f"the database cannot be reached ({type(error).__name__})") from error
    try:
        if not shared.durable:
            owner.execute("SET synchronous_commit TO off")
        pgconn = owner.pgconn
        for prepared in shared.statements:
            result = pgconn.prepare(shared.names[id(prepared)], _numbered(prepared.sql).encode())
            if result.status != pq.ExecStatus.COMMAND_OK:
                message = (pgconn.error_message or b"").decode(errors="replace")
                raise Unavailable(f"a statement could not be prepared: {message}")
        pgconn.nonblocking = 1
        pgconn.enter_pipeline_mode()
    except psycopg.Error as error:
        owner.close()
        raise Unavailable(f"the database connection failed ({type(error).__name__})") from error
    except BaseException:
        owner.close()
        raise
    return owner


def _refusal(result: pq.abc.PGresult) -> FlowwError:
    """The domain error of a statement PostgreSQL refused."""
    state = (result.error_field(pq.DiagnosticField.SQLSTATE) or b"").decode()
    message = (result.error_message or b"").decode(errors="replace")
    try:
        error: psycopg.Error = psycopg.errors.lookup(state)(message)
    except KeyError:  # no state, or one psycopg does not know
        error = psycopg.Error(message)
    if state.startswith("23"):
        return conflict(error)
    if state.startswith("22"):
        return invalid(error)
    return Unavailable(f"the database refused a write ({type(error).__name__})")
