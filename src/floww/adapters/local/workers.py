"""Warm worker processes that serve the runtime contract as JSON lines, and their pools.

A ``Worker`` is one ``python -m floww.sdk.runtime`` process in its own process group (with a
sandbox in its spec: a ``bwrap`` process running it in its own PID namespace, started from one
long-lived launcher thread): one request line in, one answer line out. A ``WorkerPool`` keeps
up to ``size`` of them for one runtime, started on first use and reused while they stay
healthy; a worker that failed is killed (with everything it started) and a replacement is
started in the background; ``shrink`` stops the workers that stayed idle too long.

Errors: ``Worker.request`` raises ``TimeoutError`` when no answer came in time (the caller
decides what that means and discards the worker), ``Unavailable`` when the process exited
or answered something that is not a JSON object, and ``InvalidInput`` for a request that is not
JSON (nothing was sent then). Starting a ``Worker`` raises ``Unavailable`` unless the runtime
answers the ``ping`` request with its pong in time. ``WorkerPool.acquire`` raises
``TimeoutError`` when no worker became free in time and ``Unavailable`` once the pool is
closed or a worker could not be started.
"""

from __future__ import annotations

import collections
import contextlib
import fcntl
import json
import logging
import math
import os
import queue
import select
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import IO, Any

import orjson

from floww.adapters.local.sandbox import SANDBOX_SITE, BwrapSandbox, proxy_environment
from floww.domain.errors import InvalidInput, Unavailable

__all__ = ["Worker", "WorkerGone", "WorkerPool", "WorkerSpec"]

log = logging.getLogger(__name__)

# The runtime's readiness request: its answer proves the loop is up and the SDK imports.
_PING = {"type": "ping"}
_PONG = {"ok": True, "pong": True}


def _older_runtime_answer(answer: Mapping[str, Any]) -> bool:
    """A runtime from before ``ping`` (an image built by an older floww, or a Dockerfile that
    pins one) answers it as an unknown request: alive all the same."""
    error = answer.get("error")
    return (
        answer.get("ok") is False
        and isinstance(error, dict)
        and error.get("type") == "InvalidRequest"
    )


_STDERR_LINES = 20
_READ_BYTES = 1 << 16
_EXIT_WAIT_SECONDS = 5.0
_CHECK_EVERY_S = 1.0
"""How often an idle worker's process is asked whether it still runs (``Worker.alive``)."""


class WorkerSpec:
    """How to start a worker: the interpreter, what goes on ``PYTHONPATH`` (the runtime's site
    directory first) and the complete environment it gets on top of the minimal one (never the
    server's own). With a ``sandbox`` the worker runs in it as ``uid``, its site directory bound
    at ``SANDBOX_SITE``, its HTTP clients sent to the egress proxy when the sandbox has an
    uplink."""

    def __init__(
        self,
        python: str,
        path: Sequence[str],
        env: Mapping[str, str],
        scratch: Path,
        start_timeout: float,
        *,
        sandbox: BwrapSandbox | None = None,
        uid: int = 0,
    ) -> None:
        self.python = python
        self.path = tuple(path)
        self.env = dict(env)
        self.scratch = scratch
        self.start_timeout = start_timeout
        self.sandbox = sandbox
        self.uid = uid

    def command(self, workdir: Path) -> tuple[list[str], dict[str, str]]:
        """The command line and environment of a worker whose scratch space is ``workdir``."""
        argv = [self.python, "-m", "floww.sdk.runtime"]
        if self.sandbox is None:
            return argv, self.environment(workdir)
        site, *rest = self.path
        inside = {
            "PATH": "/usr/local/bin:/usr/bin:/bin",
            "LANG": os.environ.get("LANG", "C.UTF-8"),
            **self.env,
            "HOME": "/tmp",
            "TMPDIR": "/tmp",
            "PYTHONPATH": os.pathsep.join([SANDBOX_SITE, *rest]),
            "PYTHONNOUSERSITE": "1",
            # Everything bound is read-only: bytecode comes from the __pycache__ folders beside
            # the sources (the staged image is compiled when staged), nothing is written.
            "PYTHONDONTWRITEBYTECODE": "1",
            # glibc's per-thread arenas reserve address space the memory limit counts.
            "MALLOC_ARENA_MAX": "2",
        }
        if self.sandbox.uplink is not None:
            inside.update(proxy_environment())
        return self.sandbox.command(argv, site=Path(site), uid=self.uid), inside

    def limit_note(self) -> str:
        """What a sandboxed worker is limited to, for the reason of its death; empty when it
        is not sandboxed."""
        if self.sandbox is None:
            return ""
        return f" (the sandbox's limits: {self.sandbox.limits.describe()})"

    def environment(self, workdir: Path) -> dict[str, str]:
        home, tmp = workdir / "home", workdir / "tmp"
        home.mkdir()
        tmp.mkdir()
        return {
            "PATH": os.environ.get("PATH", os.defpath),
            "LANG": os.environ.get("LANG", "C.UTF-8"),
            **self.env,
            "HOME": str(home),
            "TMPDIR": str(tmp),
            "PYTHONPATH": os.pathsep.join(self.path),
            "PYTHONNOUSERSITE": "1",
            # Bytecode goes beside the worker, so unpacked images stay as they were unpacked.
            "PYTHONPYCACHEPREFIX": str(self.scratch / "pycache"),
        }


def _decoded(line: bytes) -> dict[str, Any]:
    """A worker's answer line as the JSON object it must be."""
    try:
        decoded = json.loads(line)
    except ValueError:
        decoded = None
    if not isinstance(decoded, dict):
        raise Unavailable("the worker answered something that is not a JSON object")
    return decoded


class WorkerGone(Exception):
    """The worker's process ended (its input or output closed): ``Worker.exited`` says how,
    as the ``Unavailable`` the host raises."""


class Worker:
    """One runtime process. ``digests`` are the code digests this process has been sent the
    files of (the runtime caches loaded code by digest); ``files_sent`` counts such requests."""

    def __init__(self, spec: WorkerSpec) -> None:
        self.workdir = Path(tempfile.mkdtemp(prefix="worker-", dir=spec.scratch))
        self.digests: set[str] = set()
        self.files_sent = 0
        # Answers are read by the thread that asked (one request at a time per worker), so
        # no reader thread stands between a worker's answer and its caller.
        self._pending = bytearray()
        self._scanned = 0
        # ``kill`` may come from another thread while the asking one reads: the descriptor is
        # closed under this lock and never read once closed (its number may be reused at once).
        self._output_lock = threading.Lock()
        self._output_closed = False
        # Likewise the request pipe: ``ask`` writes to its descriptor by number.
        self._input_lock = threading.Lock()
        self._input_closed = False
        self._stderr: collections.deque[str] = collections.deque(maxlen=_STDERR_LINES)
        self._stderr_closed = False
        self._checked_at = 0.0
        self._limit_note = spec.limit_note()
        start = _LAUNCHER.popen if spec.sandbox is not None else subprocess.Popen
        try:
            argv, env = spec.command(self.workdir)  # OSError: the uid's sockets not made
            self._process = start(
                argv,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                cwd=self.workdir,
                env=env,
                start_new_session=True,
            )
        except OSError as exc:
            shutil.rmtree(self.workdir, ignore_errors=True)
            raise Unavailable(f"the worker could not be started: {exc}") from exc
        assert self._process.stdout is not None and self._process.stderr is not None
        self._stdout = self._process.stdout.fileno()
        assert self._process.stdin is not None
        try:  # what ``ask`` may write at once into the empty request pipe
            self._input_room = fcntl.fcntl(self._process.stdin.fileno(), fcntl.F_GETPIPE_SZ)
        except OSError:
            self._input_room = select.PIPE_BUF
        self._poll = select.poll()
        self._poll.register(self._stdout, select.POLLIN)
        self._readers = [_daemon(self._pump_stderr, self._process.stderr)]
        try:
            answer = self.request(_PING, spec.start_timeout)
        except TimeoutError as exc:
            self.kill()
            raise Unavailable(f"the worker did not start within {spec.start_timeout} s") from exc
        except Unavailable:
            self.kill()
            raise
        if answer != _PONG and not _older_runtime_answer(answer):
            self.kill()
            error = answer.get("error")
            said = error.get("message") if isinstance(error, dict) else None
            raise Unavailable(
                "the worker's runtime did not answer the readiness ping"
                + (f" ({said})" if said else "")
                + "; its floww SDK may predate this host: rebuild the image with this floww"
            )
        log.debug("worker %d started", self.pid)

    @property
    def pid(self) -> int:
        return self._process.pid

    @property
    def alive(self) -> bool:
        """Whether the process still runs. Its exit closes its error output, which the
        reader thread notices at once (a pool hands out a worker on every call: that costs
        no system call); the process is asked directly at most every ``_CHECK_EVERY_S``,
        for one that left its output open to a child."""
        if self._stderr_closed:  # most likely gone; a handler may close its own, though
            return self._process.poll() is None
        now = time.monotonic()
        if now - self._checked_at < _CHECK_EVERY_S:
            return True
        self._checked_at = now
        return self._process.poll() is None

    def request(self, payload: Mapping[str, Any], timeout: float | None) -> dict[str, Any]:
        """Send one request line and return the answer line, decoded."""
        line = _request_line(payload)
        if "files" in payload.get("code", {}):
            self.files_sent += 1
        stdin = self._process.stdin
        assert stdin is not None
        try:
            stdin.write(line)
            stdin.flush()
        except (BrokenPipeError, ValueError, OSError):
            raise self._exited() from None
        answer = self._read_line(None if timeout is None else time.monotonic() + timeout)
        if answer is None:
            raise self._exited()
        return _decoded(answer)

    # -- answers awaited on an event loop (``ask``, ``watch``, ``answer``) ----------------------

    def ask(self, payload: Mapping[str, Any]) -> bool:
        """Send one request line without waiting for the answer, when the line fits the pipe
        at once: at most its capacity, which a pipe with nothing in it takes whole without
        blocking (the worker reads each line whole before answering, so its input is empty
        between requests). ``False`` (nothing sent) for a longer line, or while another
        thread closes the pipe. ``WorkerGone`` when the worker's input is closed. The answer
        is read with ``answer``."""
        line = _request_line(payload)
        if len(line) > self._input_room:
            return False
        stdin = self._process.stdin
        assert stdin is not None
        if not self._input_lock.acquire(blocking=False):
            return False
        try:
            if self._input_closed:
                raise WorkerGone("the worker's input is closed")
            try:
                written = os.write(stdin.fileno(), line)
            except (BrokenPipeError, ValueError, OSError):
                raise WorkerGone("the worker closed its input") from None
        finally:
            self._input_lock.release()
        if written != len(line):  # never for a line that fits an empty pipe
            raise WorkerGone("the worker's input took part of a request")
        return True

    def watch(self) -> int | None:
        """A duplicate of the descriptor answers arrive on, for an event loop to watch and
        read (``answer``) and for its caller to close; ``None`` once the worker was killed.
        ``OSError`` when no descriptor is left to make one."""
        with self._output_lock:
            if self._output_closed:
                return None
            return os.dup(self._stdout)

    def answer(self, watched: int) -> dict[str, Any] | None:
        """The answer line, decoded, when a whole one arrived, reading ``watched`` (from
        ``watch``) once: call it only when it is readable. ``None`` while the line is not
        whole. ``WorkerGone`` when the output ended or the worker was killed; ``Unavailable``
        when the answer is not a JSON object."""
        end = self._pending.find(b"\n", self._scanned)
        if end < 0:
            self._scanned = len(self._pending)
            if self._output_closed:
                raise WorkerGone("the worker closed its output")
            try:
                chunk = os.read(watched, _READ_BYTES)
            except OSError:
                chunk = b""
            if not chunk:
                raise WorkerGone("the worker closed its output")
            self._pending += chunk
            end = self._pending.find(b"\n", self._scanned)
            if end < 0:
                self._scanned = len(self._pending)
                return None
        line = bytes(self._pending[: end + 1])
        del self._pending[: end + 1]
        self._scanned = 0
        return _decoded(line)

    def ended(self, watched: int) -> bool:
        """Whether the process is gone (or was killed) with nothing left to read on
        ``watched``: its output may be kept open by a child it left, so no end of output
        comes. Asks the process itself, not its error output (a handler may close that)."""
        if self._output_closed:
            return True
        if self._process.poll() is None:
            return False
        pending = select.poll()
        pending.register(watched, select.POLLIN)
        return not pending.poll(0)

    def end(self) -> None:
        """Kill the process group, without closing anything: its reader sees the output end
        and discards it."""
        self._signal_group()

    def kill(self) -> None:
        """Kill the process group at once and clean up."""
        self._signal_group()
        self._reap(_EXIT_WAIT_SECONDS)

    def stop(self, grace: float = 1.0) -> None:
        """Ask the process to finish (end of input), then kill what is left after ``grace``."""
        with self._input_lock:
            self._input_closed = True
            try:
                if self._process.stdin is not None:
                    self._process.stdin.close()
            except OSError:
                pass
        with contextlib.suppress(subprocess.TimeoutExpired):
            self._process.wait(grace)
        self._signal_group()  # children it left behind go too
        self._reap(_EXIT_WAIT_SECONDS)

    def _signal_group(self) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self._process.pid, signal.SIGKILL)

    def _reap(self, timeout: float) -> None:
        try:
            self._process.wait(timeout)
        except subprocess.TimeoutExpired:
            log.warning("worker %d did not exit after SIGKILL", self.pid)
        for reader in self._readers:
            reader.join(timeout=1.0)
        # The stderr reader closes its own stream at end of input: closing it here could block
        # for as long as a process that escaped the kill keeps the pipe open. Nothing else reads
        # the answers, so closing them never waits.
        with self._input_lock, contextlib.suppress(OSError, ValueError):
            self._input_closed = True
            if self._process.stdin is not None:
                self._process.stdin.close()
        with self._output_lock, contextlib.suppress(OSError, ValueError):
            self._output_closed = True
            if self._process.stdout is not None:
                self._process.stdout.close()
        shutil.rmtree(self.workdir, ignore_errors=True)

    def exited(self) -> Unavailable:
        """How the process ended (once it has, or was killed), as ``Unavailable``."""
        return self._exited()

    def _exited(self) -> Unavailable:
        try:
            code = self._process.wait(_EXIT_WAIT_SECONDS)
        except subprocess.TimeoutExpired:
            code = None
            self._signal_group()
        self._readers[0].join(timeout=1.0)  # the last words on stderr
        last = self._stderr[-1] if self._stderr else ""
        if code is not None and code > 128 and self._limit_note:
            code = 128 - code  # bwrap reports its command's death by signal N as 128 + N
        what = (
            "the worker closed its output"
            if code is None
            else f"the worker was killed by signal {-code}"
            if code < 0
            else f"the worker exited with code {code}"
        ) + (self._limit_note if code is None or code != 0 else "")
        return Unavailable(f"{what}: {last}" if last else what, exit_code=code)

    def _read_line(self, until: float | None) -> bytes | None:
        """The next answer line; ``None`` at end of output (the process is gone or closed
        it), ``TimeoutError`` when none came by ``until``."""
        while True:
            end = self._pending.find(b"\n", self._scanned)
            if end >= 0:
                line = bytes(self._pending[: end + 1])
                del self._pending[: end + 1]
                self._scanned = 0
                return line
            self._scanned = len(self._pending)
            left = None if until is None else until - time.monotonic()
            if left is not None and left <= 0:
                raise TimeoutError
            if not self._poll.poll(None if left is None else max(1, math.ceil(left * 1000))):
                raise TimeoutError
            with self._output_lock:
                if self._output_closed:
                    return None
                try:
                    chunk = os.read(self._stdout, _READ_BYTES)
                except OSError:
                    return None
            if not chunk:
                return None
            self._pending += chunk

    def _pump_stderr(self, stream: IO[bytes]) -> None:
        try:
            for raw in stream:
                text = raw.decode("utf-8", "replace").strip()
                if text:
                    self._stderr.append(text)
        except (OSError, ValueError):
            pass
        finally:
            self._stderr_closed = True
            stream.close()


class _Launcher:
    """Starts processes from one thread that lives as long as this process: a sandbox dies
    with the thread that started it (``--die-with-parent`` is the parent-death signal, which
    Linux ties to the starting thread), and pool threads come and go."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests: queue.Queue[
            tuple[Callable[[], subprocess.Popen[bytes]], queue.Queue[Any]]
        ] = queue.Queue()
        self._thread: threading.Thread | None = None

    def popen(self, argv: Sequence[str], **options: Any) -> subprocess.Popen[bytes]:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._serve, name="floww-worker-launcher", daemon=True
                )
                self._thread.start()
        done: queue.Queue[Any] = queue.Queue(maxsize=1)
        self._requests.put((lambda: subprocess.Popen(argv, **options), done))
        outcome = done.get()
        if isinstance(outcome, BaseException):
            raise outcome
        started: subprocess.Popen[bytes] = outcome
        return started

    def _serve(self) -> None:
        while True:
            start, done = self._requests.get()
            try:
                done.put(start())
            except BaseException as exc:  # handed to the caller, raised there
                done.put(exc)


_LAUNCHER = _Launcher()


def _daemon(target: Callable[[IO[bytes]], None], stream: IO[bytes]) -> threading.Thread:
    thread = threading.Thread(target=target, args=(stream,), name="floww-worker-io", daemon=True)
    thread.start()
    return thread


class WorkerPool:
    """Up to ``size`` warm workers of one runtime. ``acquire`` hands out an idle worker,
    starts one while there is room, or waits for one to be released."""

    def __init__(self, spawn: Callable[[], Worker], size: int) -> None:
        if size < 1:
            raise ValueError("a worker pool needs room for at least one worker")
        self._spawn = spawn
        self._size = size
        self._ready = threading.Condition()
        self._idle: list[Worker] = []
        self._idle_since: dict[Worker, float] = {}
        self._members: set[Worker] = set()
        self._starting = 0
        self._closed = False
        self._refills: list[threading.Thread] = []

    def pids(self) -> tuple[int, ...]:
        with self._ready:
            return tuple(sorted(w.pid for w in self._members))

    def files_sent(self) -> int:
        with self._ready:
            return sum(w.files_sent for w in self._members)

    def take_idle(self) -> Worker | None:
        """An idle worker, without waiting or starting one; ``None`` when none is idle (or the
        one that is has died: ``acquire`` replaces it)."""
        with self._ready:
            if self._closed or not self._idle:
                return None
            worker = self._idle[-1]
            if not worker.alive:
                return None
            self._idle.pop()
            self._idle_since.pop(worker, None)
            return worker

    def acquire(self, timeout: float | None) -> Worker:
        until = None if timeout is None else time.monotonic() + timeout
        dead: list[Worker] = []
        try:
            with self._ready:
                while True:
                    if self._closed:
                        raise Unavailable("the runtime's workers were stopped")
                    while self._idle:
                        worker = self._idle.pop()
                        self._idle_since.pop(worker, None)
                        if worker.alive:
                            return worker
                        self._members.discard(worker)
                        dead.append(worker)
                    if len(self._members) + self._starting < self._size:
                        self._starting += 1
                        break
                    left = None if until is None else until - time.monotonic()
                    if left is not None and left <= 0:
                        raise TimeoutError
                    self._ready.wait(left)
        finally:
            for worker in dead:  # killed outside the lock: a kill waits for the process
                worker.kill()
        return self._start(for_caller=True)

    def release(self, worker: Worker) -> None:
        if not self.give_back(worker):
            worker.stop()

    def give_back(self, worker: Worker) -> bool:
        """``release`` without stopping: ``False`` when the pool no longer keeps ``worker``
        (closed, or it was discarded), which the caller then stops (that may take a while)."""
        with self._ready:
            if not self._closed and worker in self._members:
                self._idle.append(worker)
                self._idle_since[worker] = time.monotonic()
                self._ready.notify()
                return True
        return False

    def shrink(self, idle_for: float) -> int:
        """Stop the workers idle for ``idle_for`` seconds or more; how many were stopped."""
        cutoff = time.monotonic() - idle_for
        with self._ready:
            stale = [w for w in self._idle if self._idle_since.get(w, cutoff) <= cutoff]
            for worker in stale:
                self._idle.remove(worker)
                self._idle_since.pop(worker, None)
                self._members.discard(worker)
        for worker in stale:
            worker.stop()
        return len(stale)

    def discard(self, worker: Worker) -> None:
        """Kill ``worker`` (it failed or ran late) and start a replacement in the background."""
        with self._ready:
            self._members.discard(worker)
            self._ready.notify()
        worker.kill()
        with self._ready:
            if self._closed or len(self._members) + self._starting >= self._size:
                return
            self._starting += 1
            refill = threading.Thread(target=self._refill, name="floww-worker-refill", daemon=True)
            self._refills = [t for t in self._refills if t.is_alive()] + [refill]
        refill.start()

    def close(self) -> None:
        """Stop every worker, busy or idle; later ``acquire`` calls raise ``Unavailable``."""
        with self._ready:
            self._closed = True
            workers = list(self._members)
            self._members.clear()
            self._idle.clear()
            self._idle_since.clear()
            refills = list(self._refills)
            self._ready.notify_all()
        for worker in workers:
            worker.stop()
        for refill in refills:
            refill.join(timeout=30.0)

    def _refill(self) -> None:
        try:
            self._start(for_caller=False)
        except Unavailable as exc:
            log.warning("a replacement worker could not be started: %s", exc)

    def _start(self, *, for_caller: bool) -> Worker:
        try:
            worker = self._spawn()
        except BaseException:
            with self._ready:
                self._starting -= 1
                self._ready.notify()
            raise
        with self._ready:
            self._starting -= 1
            if not self._closed:
                self._members.add(worker)
                if not for_caller:
                    self._idle.append(worker)
                    self._idle_since[worker] = time.monotonic()
                self._ready.notify()
                return worker
        worker.stop()
        raise Unavailable("the runtime's workers were stopped")


_PASS_THROUGH = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS
"""Types the standard library refuses and orjson would encode: left to the standard library."""


def _request_line(payload: Mapping[str, Any]) -> bytes:
    """``payload`` as one line of ASCII JSON (the worker reads its input in the locale's
    encoding). orjson encodes the common case; what it refuses, spells with non-ASCII bytes
    or writes ``null`` for (NaN is refused here, and orjson would write it as ``null``) is
    encoded by the standard library, which decides."""
    try:
        line = orjson.dumps(payload, option=_PASS_THROUGH)
    except TypeError:
        line = b"null"
    if b"null" in line or not line.isascii():
        try:
            line = json.dumps(payload, allow_nan=False).encode("ascii")
        except (TypeError, ValueError) as exc:
            raise InvalidInput(f"the request cannot be encoded as JSON: {exc}") from exc
    return line + b"\n"
