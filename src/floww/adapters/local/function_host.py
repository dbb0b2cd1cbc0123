"""A function host that runs deployed code in warm local worker processes.

The host is a cache over the registry: a runtime is a durable record (its image reference), and
any call on a runtime this process has not seen yet (after a restart, on a second replica)
materializes it first, exactly as ``create_runtime`` does; ``create_runtime`` is idempotent.

``create_runtime`` pulls the runtime's image from the registry and unpacks its layers, in
order, into ``cache_dir/<manifest digest hex>/`` (once per digest, atomically, refusing any
entry that would land outside that directory: absolute paths, ``..``, links pointing out,
devices). The image's site directory (``opt/floww/site`` when the image has one, else its
root) goes on the workers' ``PYTHONPATH`` ahead of ``fallback_path``.

Each (runtime, workflow) gets its own pool of ``python -m floww.sdk.runtime`` workers, so one
workflow's slow handlers never hold the workers of another: a pool grows on demand up to
``workers_per_runtime`` and stops the workers idle for ``idle_s``. A worker gets a minimal
environment (``PATH``, ``LANG``, a private ``HOME`` and ``TMPDIR``, plus ``env``), never the
server's own. Code files cross the pipe only the first
time a worker sees a digest.

With a ``sandbox`` (``floww.adapters.local.sandbox``) every worker runs in bubblewrap with
limits, as its namespace's uid, on a copy of the image that uid owns (under
``cache_dir/sandboxed/``), in a network namespace of its own; a handler that runs out of
memory there ends with a ``MemoryError`` naming the limit. The host starts the sandbox's
``network`` (``floww.adapters.local.uplink``: the floww API and the egress proxy, over unix
sockets) and stops it when it closes; invocations then carry the API's address inside the
sandbox as their ``api_url``. A sandbox without a network has no way out at all. ``admit``
(when given) decides which namespaces' runtimes this host will run at all: a refused one is a
FAILED runtime carrying its reason.

Errors: the constructor raises ``Unavailable`` when the sandbox's network cannot start. A bad
or missing image gives a FAILED runtime, never an exception. ``invoke`` raises
``DeadlineExceeded`` past ``execution.deadline_ms`` (the worker is killed and replaced) and
``Unavailable`` when its worker dies (only that invocation fails), for a FAILED runtime and
for a closed host.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

import attrs

from floww.adapters.local.image_layers import UnsafeImage, parse_image_ref, unpack_layers
from floww.adapters.local.sandbox import SANDBOX_API_URL, BwrapSandbox
from floww.adapters.local.uplink import SandboxNetwork
from floww.adapters.local.workers import Worker, WorkerGone, WorkerPool, WorkerSpec
from floww.domain.errors import (
    DeadlineExceeded,
    FlowwError,
    InvalidInput,
    NotFound,
    Unavailable,
)
from floww.domain.model import (
    CodeBundle,
    Definitions,
    Invocation,
    InvocationResult,
    Runtime,
    RuntimeStatus,
)
from floww.ports.function_host import FunctionHost
from floww.ports.image_registry import ImageRegistry
from floww.sdk.wire import (
    definitions_from_wire,
    definitions_request,
    invocation_to_wire,
    result_from_wire,
)

__all__ = ["LocalFunctionHost", "UnsafeImage", "parse_image_ref", "unpack_layers"]

_T = TypeVar("_T")
SITE_DIR = Path("opt", "floww", "site")
# Past the deadline the worker gets a moment to answer for itself (the runtime bounds async
# handlers and reports their logs) before the host kills it.
_GRACE_SECONDS = 0.25


@attrs.define
class _Entry:
    """A materialized runtime: its spec is ``None`` when it FAILED. Pools by workflow id (the
    empty id for ``get_definitions``)."""

    runtime: Runtime
    spec: WorkerSpec | None = None
    pools: dict[str, WorkerPool] = attrs.field(factory=dict)


class LocalFunctionHost(FunctionHost):
    """Runs runtimes of ``registry`` images in local worker processes.

    ``workers_per_runtime`` bounds each runtime's pool; ``python`` is the interpreter the
    workers run; ``fallback_path`` follows the image's site directory on ``PYTHONPATH`` (so an
    image without floww still runs in development); ``env`` is added to every worker's
    environment. ``start_timeout`` bounds a worker's start and ``load_timeout`` a
    ``get_definitions`` call. Close the host (or use it as a context manager) to stop every
    worker.
    """

    def __init__(
        self,
        registry: ImageRegistry,
        cache_dir: Path,
        *,
        workers_per_runtime: int = 2,
        python: str = sys.executable,
        fallback_path: Sequence[str] = (),
        env: Mapping[str, str] | None = None,
        start_timeout: float = 30.0,
        load_timeout: float = 30.0,
        idle_s: float = 300.0,
        sandbox: BwrapSandbox | None = None,
        network: SandboxNetwork | None = None,
        admit: Callable[[str], str | None] | None = None,
    ) -> None:
        if workers_per_runtime < 1:
            raise ValueError("workers_per_runtime must be at least 1")
        self._registry = registry
        self._cache_dir = Path(cache_dir)
        self._workers = workers_per_runtime
        self._python = python
        self._fallback = tuple(str(p) for p in fallback_path)
        self._env = dict(env or {})
        self._start_timeout = start_timeout
        self._load_timeout = load_timeout
        self._scratch = Path(tempfile.mkdtemp(prefix="floww-host-"))
        self._idle_s = idle_s
        self._network = network if sandbox is not None else None
        if sandbox is not None and self._network is not None:
            try:
                uplink = self._network.start(self._scratch / "uplink")
            except OSError as exc:
                shutil.rmtree(self._scratch, ignore_errors=True)
                raise Unavailable(
                    f"the sandbox's network sockets could not be made under {self._scratch}: "
                    f"{exc} (TMPDIR chooses where)"
                ) from exc
            sandbox = attrs.evolve(sandbox, uplink=uplink)
        self._sandbox = sandbox
        self._admit = admit
        self._lock = threading.Lock()
        self._entries: dict[str, _Entry] = {}
        self._making: dict[str, threading.Lock] = {}
        self._running: dict[str, Worker] = {}  # execution id -> the worker running it
        self._on_loop: set[Worker] = set()  # running for an event loop (``invoke_async``)
        self._closed = False
        self._stopping = threading.Event()
        self._reaper = threading.Thread(target=self._reap, name="floww-host-reaper", daemon=True)
        self._reaper.start()

    # -- FunctionHost ------------------------------------------------------------------------

    def create_runtime(self, runtime: Runtime) -> Runtime:
        """Materialize ``runtime`` from its image; idempotent (a READY runtime of the same image
        is returned as it is). One caller prepares a given runtime at a time."""
        with self._lock:
            self._check_open()
            making = self._making.setdefault(runtime.id, threading.Lock())
        with making:
            return self._materialize(runtime)

    def _materialize(self, runtime: Runtime) -> Runtime:
        with self._lock:
            self._check_open()
            known = self._entries.get(runtime.id)
            if (
                known is not None
                and known.runtime.image_ref == runtime.image_ref
                and known.runtime.status is RuntimeStatus.READY
            ):
                return known.runtime
        try:
            spec = self._spec(runtime)
        except _ImageProblem as exc:
            made = attrs.evolve(runtime, status=RuntimeStatus.FAILED, error=str(exc))
            spec = None
        else:
            made = attrs.evolve(runtime, status=RuntimeStatus.READY, error="")
        with self._lock:
            closed = self._closed
            replaced = None if closed else self._entries.get(runtime.id)
            if not closed:
                self._entries[runtime.id] = _Entry(made, spec)
        if closed:
            raise Unavailable("the function host is closed")
        if replaced is not None:
            self._stop(replaced)
        return made

    def runtime_status(self, runtime: Runtime) -> RuntimeStatus:
        return self._entry(runtime).runtime.status

    def get_definitions(
        self, runtime: Runtime, code: CodeBundle, providers: dict[str, dict[str, str]]
    ) -> Definitions:
        def load(worker: Worker) -> dict[str, Any]:
            answer = worker.request(definitions_request(code, providers), self._load_timeout)
            if answer.get("ok"):
                worker.digests.add(code.digest)
            return answer

        late = f"loading the code took longer than {self._load_timeout:g} s"
        answer = _on_worker(self._pool(runtime, ""), self._load_timeout, load, late)
        return _checked(definitions_from_wire, answer)

    def invoke(self, runtime: Runtime, invocation: Invocation) -> InvocationResult:
        """The deadline bounds the handler's run once a worker has it; waiting for a free
        worker is bounded by the same amount again, and starting one by ``start_timeout``."""
        deadline_ms = invocation.execution.deadline_ms
        limit = deadline_ms / 1000 if deadline_ms > 0 else None

        execution_id = invocation.execution.id
        # The server's address means nothing inside the sandbox's network: the API is on its
        # loopback relay there.
        api_url = SANDBOX_API_URL if self._sandbox is not None else None

        def run(worker: Worker) -> dict[str, Any]:
            with self._lock:
                self._running[execution_id] = worker
            try:
                until = None if limit is None else _after(limit)
                return _invoke_on(worker, invocation, until, api_url)
            finally:
                with self._lock:
                    self._running.pop(execution_id, None)

        late = f"the handler did not finish within {deadline_ms} ms"
        pool = self._pool(runtime, invocation.execution.workflow_id)
        return self._result(_on_worker(pool, limit, run, late))

    async def invoke_async(
        self, runtime: Runtime, invocation: Invocation, limiter: Any = None
    ) -> InvocationResult:
        """``invoke`` for a caller on an event loop, which waits for the answer without a
        thread: taken on a worker idle now (of a runtime already materialized) when the
        request fits its pipe at once, and its answer read as it arrives. Anything else (no
        idle worker, a runtime to materialize, a long request, the code's files to send, a
        worker to replace or stop) is done on a thread of ``limiter`` (an anyio
        ``CapacityLimiter``; anyio's default one without)."""
        import anyio

        def on_thread(work: Callable[..., _T], *args: Any) -> Awaitable[_T]:
            return anyio.to_thread.run_sync(work, *args, limiter=limiter)

        worker = pool = None
        with self._lock:
            entry = self._entries.get(runtime.id)
            if (
                not self._closed
                and entry is not None
                and entry.runtime.image_ref == runtime.image_ref
            ):
                pool = entry.pools.get(invocation.execution.workflow_id)
        if pool is not None:
            worker = pool.take_idle()
        if pool is None or worker is None:
            return await on_thread(self.invoke, runtime, invocation)
        deadline_ms = invocation.execution.deadline_ms
        execution_id = invocation.execution.id
        late = f"the handler did not finish within {deadline_ms} ms"
        with self._lock:
            self._running[execution_id] = worker
            self._on_loop.add(worker)
        try:
            answer = await _ask_on_loop(worker, invocation, deadline_ms, self._sandbox is not None)
        except InvalidInput:  # the request cannot be encoded: the worker is fine
            self._forget(execution_id, worker)
            await on_thread(pool.release, worker)
            raise
        except BaseException as error:
            self._forget(execution_id, worker)
            await on_thread(pool.discard, worker)
            if isinstance(error, TimeoutError):
                raise DeadlineExceeded(late) from None
            if isinstance(error, WorkerGone):  # say how it ended, as ``invoke`` does
                raise await on_thread(worker.exited) from None
            raise
        with self._lock:  # a cancel from now on kills it (its descriptors are no longer watched)
            self._on_loop.discard(worker)
        if answer is None:  # it wants the files, or the request did not fit: on a thread
            api_url = SANDBOX_API_URL if self._sandbox is not None else None
            limit = deadline_ms / 1000 if deadline_ms > 0 else None

            def rest(given: Worker) -> dict[str, Any]:
                until = None if limit is None else _after(limit)
                try:
                    return _invoke_on(given, invocation, until, api_url)
                finally:
                    with self._lock:
                        self._running.pop(execution_id, None)

            try:
                answer = await on_thread(_on_given, pool, worker, rest, late)
            finally:
                self._forget(execution_id, worker)
        else:
            self._forget(execution_id, worker)
            if not pool.give_back(worker):  # the pool closed meanwhile: stopped on a thread
                await on_thread(worker.stop)
        return self._result(answer)

    def _forget(self, execution_id: str, worker: Worker) -> None:
        with self._lock:
            if self._running.get(execution_id) is worker:
                del self._running[execution_id]
            self._on_loop.discard(worker)

    def _result(self, answer: dict[str, Any]) -> InvocationResult:
        """A worker's answer to an invocation, as the port gives it."""
        result = _checked(result_from_wire, answer)
        if not result.ok and result.error is not None and result.error.type == "DeadlineExceeded":
            raise DeadlineExceeded(result.error.message or "the handler ran past its deadline")
        if (
            self._sandbox is not None
            and not result.ok
            and result.error is not None
            and result.error.type == "MemoryError"
        ):
            limit = self._sandbox.limits.memory_mb
            said = f"the handler ran out of memory: the sandbox's memory limit is {limit} MiB"
            error = attrs.evolve(result.error, message=said)
            result = attrs.evolve(result, error=error)
        return result

    def start(self, runtime: Runtime, invocation: Invocation) -> bool:
        """Runs are synchronous on the workers (the dispatcher's thread waits for its worker):
        the caller invokes."""
        return False

    def destroy_runtime(self, runtime: Runtime) -> None:
        """Stop the runtime's workers and forget it (a later call materializes it again);
        idempotent. The unpacked image stays in the cache: other runtimes may share its digest."""
        with self._lock:
            entry = self._entries.pop(runtime.id, None)
        if entry is not None:
            self._stop(entry)

    # -- lifecycle and introspection -----------------------------------------------------------

    def close(self) -> None:
        """Stop every worker of every runtime. Idempotent."""
        with self._lock:
            self._closed = True
            entries = list(self._entries.values())
            self._entries.clear()
        self._stopping.set()
        for entry in entries:
            self._stop(entry)
        if self._network is not None:
            self._network.close()
        shutil.rmtree(self._scratch, ignore_errors=True)

    def __enter__(self) -> LocalFunctionHost:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def worker_pids(self, runtime_id: str) -> tuple[int, ...]:
        """The process ids of the runtime's live workers, of every workflow (none before its
        first call)."""
        return tuple(sorted(pid for pool in self._pools_of(runtime_id) for pid in pool.pids()))

    def cancel_invocation(self, execution_id: str) -> bool:
        """Stop the handler of ``execution_id`` if a worker of this host runs it now: the
        worker is killed (and replaced on demand). Whether one was running."""
        with self._lock:
            worker = self._running.get(execution_id)
            on_loop = worker in self._on_loop
        if worker is None:
            return False
        if on_loop:
            worker.end()  # its event loop sees the output end and discards it
        else:
            worker.kill()
        return True

    def worker_count(self) -> int:
        """Worker processes alive now over every runtime's pools (for ``/metrics``)."""
        with self._lock:
            pools = [pool for entry in self._entries.values() for pool in entry.pools.values()]
        return sum(len(pool.pids()) for pool in pools)

    def files_sent(self, runtime_id: str) -> int:
        """How many requests carried code files to the runtime's current workers."""
        return sum(pool.files_sent() for pool in self._pools_of(runtime_id))

    def image_root(self, image_digest: str) -> Path:
        """Where the image with manifest ``image_digest`` is (or would be) unpacked."""
        return self._cache_dir / image_digest.removeprefix("sha256:")

    # -- internals ---------------------------------------------------------------------------

    def _spec(self, runtime: Runtime) -> WorkerSpec:
        """How ``runtime``'s workers start; ``_ImageProblem`` when they cannot."""
        if self._admit is not None:
            refused = self._admit(runtime.namespace_id)
            if refused is not None:
                raise _ImageProblem(refused)
        root = self._prepare(runtime.image_ref)
        if self._sandbox is None:
            return WorkerSpec(
                self._python,
                (str(_site_of(root)), *self._fallback),
                self._env,
                self._scratch,
                self._start_timeout,
            )
        uid = self._sandbox.uid_for(runtime.namespace_id)
        try:
            staged = self._sandbox.stage(root, self._cache_dir / "sandboxed", uid)
        except OSError as exc:
            raise _ImageProblem(f"the image could not be prepared for its sandbox: {exc}") from exc
        return WorkerSpec(
            self._python,
            (str(_site_of(staged)), *self._fallback),
            self._env,
            self._scratch,
            self._start_timeout,
            sandbox=self._sandbox,
            uid=uid,
        )

    def _prepare(self, image_ref: str) -> Path:
        """Pull and unpack ``image_ref``; the directory it is unpacked in."""
        try:
            repository, reference = parse_image_ref(image_ref)
            image = self._registry.pull(repository, reference)
        except NotFound as exc:
            raise _ImageProblem(f"image not found: {image_ref}") from exc
        except Unavailable as exc:
            raise _ImageProblem(f"the image registry could not be reached: {exc}") from exc
        except FlowwError as exc:
            raise _ImageProblem(f"image {image_ref!r} cannot be used: {exc}") from exc
        root = self.image_root(image.digest)
        if not root.is_dir():
            try:
                unpack_layers(image.layers, root)
            except UnsafeImage as exc:
                raise _ImageProblem(str(exc)) from exc
            except OSError as exc:
                raise _ImageProblem(f"the image could not be unpacked: {exc}") from exc
        return root

    def _pools_of(self, runtime_id: str) -> list[WorkerPool]:
        with self._lock:
            entry = self._entries.get(runtime_id)
            if entry is None:
                raise NotFound("runtime", runtime_id)
            return list(entry.pools.values())

    def _entry(self, runtime: Runtime) -> _Entry:
        """The runtime as this process has it, materialized on first use."""
        with self._lock:
            self._check_open()
            entry = self._entries.get(runtime.id)
        if entry is None or entry.runtime.image_ref != runtime.image_ref:
            self.create_runtime(runtime)
            with self._lock:
                self._check_open()
                entry = self._entries[runtime.id]
        return entry

    def _pool(self, runtime: Runtime, workflow_id: str) -> WorkerPool:
        entry = self._entry(runtime)
        spec = entry.spec
        if spec is None:
            raise Unavailable(f"runtime {runtime.id} failed: {entry.runtime.error}")
        with self._lock:
            self._check_open()
            pool = entry.pools.get(workflow_id)
            if pool is None:
                pool = entry.pools[workflow_id] = WorkerPool(lambda: Worker(spec), self._workers)
            return pool

    def _check_open(self) -> None:
        if self._closed:
            raise Unavailable("the function host is closed")

    def _reap(self) -> None:
        """Stop the workers that stayed idle for ``idle_s``."""
        while not self._stopping.wait(max(self._idle_s / 4, 0.05)):
            with self._lock:
                pools = [p for e in self._entries.values() for p in e.pools.values()]
            for pool in pools:
                pool.shrink(self._idle_s)

    @staticmethod
    def _stop(entry: _Entry) -> None:
        for pool in entry.pools.values():
            pool.close()


def _site_of(root: Path) -> Path:
    """The directory of an unpacked image that the workers import from."""
    site = root / SITE_DIR
    return site if site.is_dir() else root


class _ImageProblem(Exception):
    """Why a runtime is FAILED: one sentence."""


def _on_worker(
    pool: WorkerPool,
    wait: float | None,
    work: Callable[[Worker], dict[str, Any]],
    late: str,
) -> dict[str, Any]:
    """Do ``work`` on a worker of ``pool``: a worker that ran late or failed is replaced; one
    that merely could not be handed the request goes back to the pool."""
    try:
        worker = pool.acquire(wait)
    except TimeoutError:
        raise DeadlineExceeded("no worker became free in time") from None
    return _on_given(pool, worker, work, late)


def _on_given(
    pool: WorkerPool,
    worker: Worker,
    work: Callable[[Worker], dict[str, Any]],
    late: str,
) -> dict[str, Any]:
    """``_on_worker`` for a worker taken from ``pool`` already."""
    try:
        answer = work(worker)
    except InvalidInput:
        pool.release(worker)
        raise
    except TimeoutError:
        pool.discard(worker)
        raise DeadlineExceeded(late) from None
    except BaseException:
        pool.discard(worker)
        raise
    pool.release(worker)
    return answer


_CHECK_S = 0.25
"""How often a run awaited on an event loop checks that its worker was not ended meanwhile."""


async def _ask_on_loop(
    worker: Worker, invocation: Invocation, deadline_ms: int, sandboxed: bool
) -> dict[str, Any] | None:
    """Send ``invocation`` to ``worker`` and await its answer on the running event loop
    (``TimeoutError`` past the deadline and its grace, ``WorkerGone`` when the worker's
    process ended); ``None`` when the code's files must go with it, or the request does not
    fit the pipe: the caller sends it from a thread.

    The loop watches a duplicate of the worker's output descriptor, made for this run and
    closed by it: another thread may kill the worker and close the original meanwhile (its
    number then free for any new file), and the watch never follows that number."""
    import asyncio

    digest = invocation.code.digest
    if digest not in worker.digests:
        return None
    wire = invocation_to_wire(invocation, include_files=False)
    if sandboxed:
        wire["execution"]["api_url"] = SANDBOX_API_URL
    try:
        watched = worker.watch()
    except OSError:  # no descriptor left for a duplicate: sent from a thread instead
        return None
    if watched is None:
        raise WorkerGone("the worker closed its output")
    loop = asyncio.get_running_loop()
    try:
        if not worker.ask(wire):
            return None
        woken: asyncio.Future[None] = loop.create_future()

        def wake() -> None:
            if not woken.done():
                woken.set_result(None)

        until = None if deadline_ms <= 0 else loop.time() + deadline_ms / 1000 + _GRACE_SECONDS
        readable = False

        def ready() -> None:
            nonlocal readable
            readable = True
            wake()

        loop.add_reader(watched, ready)
        try:
            while True:
                if readable:  # one read: there is data, or the end of the output
                    readable = False
                    answer = worker.answer(watched)
                    if answer is not None:
                        break
                left = _CHECK_S if until is None else min(_CHECK_S, until - loop.time())
                if left <= 0:
                    worker.end()
                    raise TimeoutError
                timer = loop.call_later(left, wake)
                try:
                    await woken
                finally:
                    timer.cancel()
                woken = loop.create_future()
                if not readable and worker.ended(watched):
                    # its process is gone, its output kept open by a child (or killed)
                    raise WorkerGone("the worker ended")
        finally:
            loop.remove_reader(watched)
    finally:
        os.close(watched)
    if _error_type(answer) == "CodeNotCached":
        worker.digests.discard(digest)
        return None
    return answer


def _after(seconds: float) -> float:
    return time.monotonic() + seconds


def _invoke_on(
    worker: Worker, invocation: Invocation, until: float | None, api_url: str | None = None
) -> dict[str, Any]:
    """Run ``invocation`` on ``worker``, sending the code files only when it may lack them;
    ``api_url`` replaces the execution's API address when given."""

    def request(include_files: bool) -> dict[str, Any]:
        wire = invocation_to_wire(invocation, include_files=include_files)
        if api_url is not None:
            wire["execution"]["api_url"] = api_url
        return worker.request(wire, _left(until))

    digest = invocation.code.digest
    with_files = digest not in worker.digests
    answer = request(with_files)
    if not with_files and _error_type(answer) == "CodeNotCached":
        with_files = True
        answer = request(True)
    if with_files and _error_type(answer) not in {"UserCodeError", "InvalidRequest"}:
        worker.digests.add(digest)
    return answer


def _left(until: float | None) -> float | None:
    if until is None:
        return None
    return max(until - time.monotonic(), 0.0) + _GRACE_SECONDS


def _error_type(answer: dict[str, Any]) -> str | None:
    error = answer.get("error")
    if answer.get("ok") or not isinstance(error, dict):
        return None
    kind = error.get("type")
    return kind if isinstance(kind, str) else None


def _checked(decode: Callable[[Any], _T], answer: dict[str, Any]) -> _T:
    """Decode a worker's answer; a malformed one is the host's failure, not the caller's."""
    try:
        return decode(answer)
    except FlowwError as exc:
        if isinstance(exc, InvalidInput) and answer.get("ok") is False:
            raise  # the runtime refused the request or the code did not load
        raise Unavailable(f"the worker gave a malformed answer: {exc}") from exc
    except (KeyError, TypeError, ValueError) as exc:
        raise Unavailable(f"the worker gave a malformed answer: {exc!r}") from exc
