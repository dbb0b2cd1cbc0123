"""The webhook path's execution writes on PostgreSQL, made by the event loop itself.

A webhook call run on the event loop (``entrypoints/http/webhooks.py``) records its execution
before the handler runs and again when it ends. On PostgreSQL each record is a round trip;
made from a thread, every call paid the hand-over to that thread and back, and the loop's
thread, the lanes' threads and the interpreter lock passed the core between them at each
round trip. Here the loop writes through libpq directly (psycopg's ``pq`` layer, the same
library the rest of the server uses), in pipeline mode, on a few connections it watches
itself:

- a write is queued; a connection with nothing in flight takes every write queued then, sends
  them as one pipeline ending in one sync (so one implicit transaction: one commit, one WAL
  flush for the lot) and the writers are answered when the sync's result arrives, so a write
  returns only once committed (``synchronous_commit`` as configured: with ``durable=False``
  it is off for these connections, as in ``direct.py``);
- statements are prepared once per connection, parameters sent as text, typed by the
  statement's own casts (``psycopg.adapt.Transformer`` converts them as psycopg would);
- when a write of a group is refused, the transaction committed nothing: each write of the
  group is sent again in a transaction of its own, so the refusal reaches only its writer
  (``Conflict`` for a constraint, ``InvalidInput`` for a value, ``Unavailable`` otherwise);
- a connection that fails (the server restarted, the network) fails the writes in flight on
  it with ``Unavailable`` and is dropped; the next write opens a new one. Opening one is the
  only blocking step and runs on a thread;
- the connections belong to the loop that opened them: a write from another loop (a test
  client's) first drops them.

Only ``write`` is called on the loop; ``close`` may be called from any thread.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import re
import threading
import weakref
from typing import Any

import psycopg
from psycopg import pq
from psycopg.adapt import PyFormat, Transformer
from sqlalchemy import Engine, event

from floww.adapters.sql.direct import Prepared
from floww.adapters.sql.engine import PG_CONNECT_TIMEOUT_S
from floww.adapters.sql.transactions import conflict, invalid
from floww.domain.errors import FlowwError, Unavailable

__all__ = ["LoopWrites"]

log = logging.getLogger("floww.sql")

CONNECTIONS = 4
"""At most this many connections write at once (each with one group in flight)."""

SPARE_AFTER_S = 0.05
"""One connection carries the writes (fewer, larger groups: fewer sends, commits and WAL
flushes than several connections would make); another is opened only for writes waiting
while every connection has had its group in flight for this long (a slow commit, a lock)."""

MAX_GROUP = 64
"""At most this many writes share a transaction."""

_PLACEHOLDER = re.compile(r"%(s|%)")


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

    def __init__(self, statement: int, params: list[Any], future: asyncio.Future[int]) -> None:
        self.statement = statement
        self.params = params
        self.future = future
        self.alone = False


class _Connection:
    """One pipeline-mode connection and the group it has in flight."""

    def __init__(self, owner: psycopg.Connection[Any]) -> None:
        self.owner = owner  # keeps the libpq connection open
        self.pgconn = owner.pgconn
        self.fd = self.pgconn.socket
        self.group: list[_Write] = []
        self.outcomes: list[int | FlowwError] = []
        self.writing = False
        self.sent_at = 0.0

    def finish(self) -> None:
        with contextlib.suppress(Exception):
            self.owner.close()


class LoopWrites:
    """Writes of ``statements`` (``Prepared`` for ``engine``, a PostgreSQL engine) made on
    the running event loop: ``await write(prepared, values)`` gives the statement's row
    count once committed. Each event loop gets connections of its own."""

    def __init__(self, engine: Engine, statements: list[Prepared], *, durable: bool = True) -> None:
        _cargs, params = engine.dialect.create_connect_args(engine.url)
        self.connect_params = {**params, "connect_timeout": PG_CONNECT_TIMEOUT_S}
        self.context = params.get("context")
        self.statements = statements
        self.index = {id(prepared): i for i, prepared in enumerate(statements)}
        self.names = [f"floww_w{i}".encode() for i in range(len(statements))]
        self.durable = durable
        self._lock = threading.Lock()
        self._pipelines: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Pipeline] = (
            weakref.WeakKeyDictionary()
        )
        self._closed = False
        event.listen(engine, "engine_disposed", lambda _engine: self.close())

    async def write(self, prepared: Prepared, values: dict[str, Any]) -> int:
        """The row count of ``prepared`` run with ``values``, once its transaction
        committed; the domain error of its refusal otherwise (``Unavailable`` once closed)."""
        loop = asyncio.get_running_loop()
        pipeline = self._pipelines.get(loop)
        if pipeline is None:
            with self._lock:
                if self._closed:
                    raise Unavailable("the database connections are closed (the server stops)")
                pipeline = self._pipelines[loop] = _Pipeline(self, loop)
        return await pipeline.write(self.index[id(prepared)], list(prepared.params(values)))

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
            if loop.is_closed():
                pipeline.drop_all(unwatch=False)
            elif loop is running:
                pipeline.drop_all()
            else:
                try:
                    loop.call_soon_threadsafe(pipeline.drop_all)
                except RuntimeError:  # closed meanwhile
                    pipeline.drop_all(unwatch=False)


class _Pipeline:
    """The writes of one event loop: its queue and connections."""

    def __init__(self, shared: LoopWrites, loop: asyncio.AbstractEventLoop) -> None:
        self._shared = shared
        self._loop = loop
        self._names = shared.names
        self._queue: collections.deque[_Write] = collections.deque()
        self._free: list[_Connection] = []
        self._busy: set[_Connection] = set()
        self._opening = 0
        self._closed = False
        self._pump_soon = False
        self._spare_check: asyncio.TimerHandle | None = None
        self._transformer = Transformer(shared.context)
        self._formats = [PyFormat.TEXT]

    async def write(self, statement: int, params: list[Any]) -> int:
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
        """Close every connection: the writes in flight or queued fail."""
        self._closed = True
        error = Unavailable("the database connection was closed")
        if self._spare_check is not None:
            self._spare_check.cancel()
            self._spare_check = None
        for connection in [*self._free, *self._busy]:
            self._drop(connection, error, unwatch=unwatch)
        self._free.clear()
        self._busy.clear()
        while self._queue:
            write = self._queue.popleft()
            if not write.future.done():
                write.future.set_exception(error)

    # -- on the loop --------------------------------------------------------------------------

    def _pump(self) -> None:
        """Give the queued writes to free connections (opening one when none is free)."""
        self._pump_soon = False
        while self._queue and self._free:
            connection = self._free.pop()
            group = self._take_group()
            self._send(connection, group)
        if not self._queue or self._closed or self._opening:
            return
        if not self._busy:
            self._open_one()
        elif len(self._busy) < CONNECTIONS and self._spare_check is None:
            self._spare_check = self._loop.call_later(SPARE_AFTER_S, self._spare)

    def _spare(self) -> None:
        """Writes waited ``SPARE_AFTER_S``: another connection when every one is slow."""
        self._spare_check = None
        if not self._queue or self._free or self._closed or self._opening:
            return
        now = self._loop.time()
        if all(now - busy.sent_at >= SPARE_AFTER_S for busy in self._busy):
            if len(self._busy) < CONNECTIONS:
                self._open_one()
        else:
            self._pump()

    def _open_one(self) -> None:
        self._opening += 1
        self._loop.create_task(self._open())

    def _take_group(self) -> list[_Write]:
        first = self._queue.popleft()
        group = [first]
        if first.alone:
            return group
        while self._queue and len(group) < MAX_GROUP and not self._queue[0].alone:
            group.append(self._queue.popleft())
        return group

    async def _open(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            owner = await loop.run_in_executor(None, _connect, self._shared)
        except FlowwError as error:
            self._opening -= 1
            if not self._busy:  # nobody will open another for them: fail them
                while self._queue:
                    write = self._queue.popleft()
                    if not write.future.done():
                        write.future.set_exception(error)
            return
        self._opening -= 1
        if self._closed:
            with contextlib.suppress(Exception):
                owner.close()
            return
        connection = _Connection(owner)
        loop.add_reader(connection.fd, self._readable, connection)
        self._free.append(connection)
        self._pump()

    def _send(self, connection: _Connection, group: list[_Write]) -> None:
        pgconn = connection.pgconn
        connection.group = group
        connection.outcomes = []
        connection.sent_at = self._loop.time()
        self._busy.add(connection)
        try:
            for write in group:
                dumped = self._transformer.dump_sequence(
                    write.params, self._formats * len(write.params)
                )
                pgconn.send_query_prepared(self._names[write.statement], dumped)
            pgconn.pipeline_sync()
            self._flush(connection)
        except psycopg.Error as error:
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
        except psycopg.Error as error:
            self._fail(connection, error)

    def _readable(self, connection: _Connection) -> None:
        pgconn = connection.pgconn
        try:
            pgconn.consume_input()
            while connection.group and not pgconn.is_busy():
                result = pgconn.get_result()
                if result is None:  # the end of one statement's results
                    continue
                status = result.status
                if status == pq.ExecStatus.PIPELINE_SYNC:
                    self._settle(connection)
                elif status == pq.ExecStatus.COMMAND_OK or status == pq.ExecStatus.TUPLES_OK:
                    connection.outcomes.append(int(result.command_tuples or 0))
                elif status == pq.ExecStatus.PIPELINE_ABORTED:
                    connection.outcomes.append(Unavailable("aborted with its group"))
                else:
                    connection.outcomes.append(_refusal(result))
            if not connection.group and pgconn.status != pq.ConnStatus.OK:
                raise psycopg.OperationalError("the connection was closed")
        except psycopg.Error as error:
            self._fail(connection, error)

    def _settle(self, connection: _Connection) -> None:
        """The group's sync arrived: answer its writers (or send them again one by one)."""
        group, outcomes = connection.group, connection.outcomes
        connection.group, connection.outcomes = [], []
        self._busy.discard(connection)
        self._free.append(connection)
        refused = any(isinstance(outcome, FlowwError) for outcome in outcomes)
        if refused and len(group) > 1:
            for write in reversed(group):  # each again, alone, ahead of the queue
                write.alone = True
                self._queue.appendleft(write)
        else:
            for write, outcome in zip(group, outcomes, strict=False):
                if write.future.done():
                    continue
                if isinstance(outcome, FlowwError):
                    write.future.set_exception(outcome)
                else:
                    write.future.set_result(outcome)
        self._pump()

    def _fail(self, connection: _Connection, error: BaseException) -> None:
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
        for write in connection.group:
            if not write.future.done():
                write.future.set_exception(error)
        connection.group = []
        connection.finish()


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
        for name, prepared in zip(shared.names, shared.statements, strict=True):
            result = pgconn.prepare(name, _numbered(prepared.sql).encode())
            if result.status != pq.ExecStatus.COMMAND_OK:
                message = (pgconn.error_message or b"").decode(errors="replace")
                raise Unavailable(f"a statement could not be prepared: {message}")
        pgconn.nonblocking = 1
        pgconn.enter_pipeline_mode()
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
