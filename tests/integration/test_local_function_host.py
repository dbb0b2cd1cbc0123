"""LocalFunctionHost with real worker processes: warm reuse, deadlines, crashes, isolation,
image unpacking."""

from __future__ import annotations

import gzip
import io
import os
import tarfile
import textwrap
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

import floww
from floww.adapters.local.function_host import LocalFunctionHost
from floww.adapters.memory import InMemoryImageRegistry
from floww.domain.errors import DeadlineExceeded, InvalidInput, Unavailable
from floww.domain.model import (
    CodeBundle,
    ExecutionContext,
    Invocation,
    ProviderRef,
    Runtime,
    RuntimeStatus,
    TriggerSpec,
)
from floww.domain.oci import OciImage

pytestmark = pytest.mark.integration

FLOWW_SOURCE = str(Path(floww.__file__).resolve().parents[1])

MAIN = textwrap.dedent(
    """
    import os, subprocess, sys, time
    from floww import Builtin

    builtin = Builtin()

    @builtin.webhook("/pid")
    def pid(ctx, event):
        return os.getpid()

    @builtin.webhook("/nap")
    def nap(ctx, event):
        time.sleep(0.1)
        return os.getpid()

    @builtin.webhook("/hang")
    def hang(ctx, event):
        child = subprocess.Popen(["sleep", "60"])
        with open(os.path.join(os.environ["CHILD_PID_DIR"], "child"), "w") as out:
            out.write(str(child.pid))
        time.sleep(60)

    @builtin.webhook("/die")
    def die(ctx, event):
        print("going down now", file=sys.stderr, flush=True)
        os._exit(3)

    @builtin.webhook("/env")
    def env(ctx, event):
        return {"names": sorted(os.environ), "home": os.environ.get("HOME"), "cwd": os.getcwd()}

    @builtin.webhook("/site")
    def site(ctx, event):
        import helperlib
        return helperlib.VALUE
    """
)
CODE = CodeBundle("main.py", {"main.py": MAIN})


def tar_gz(entries: list[tarfile.TarInfo], data: dict[str, bytes] | None = None) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for info in entries:
            body = (data or {}).get(info.name)
            if body is not None:
                info.size = len(body)
            archive.addfile(info, io.BytesIO(body) if body is not None else None)
    return gzip.compress(buffer.getvalue(), mtime=0)


def file_entry(name: str, body: bytes, data: dict[str, bytes]) -> tarfile.TarInfo:
    data[name] = body
    info = tarfile.TarInfo(name)
    info.mode = 0o644
    return info


def image(*layers: bytes) -> OciImage:
    return OciImage(config=b'{"architecture":"amd64","os":"linux"}', layers=layers)


def empty_image() -> OciImage:
    return image(tar_gz([]))


def call(
    path: str, deadline_ms: int = 20_000, code: CodeBundle = CODE, workflow_id: str = "wf_1"
) -> Invocation:
    spec = TriggerSpec(ProviderRef("builtin"), "webhook", {"path": path, "methods": ["POST"]})
    event = {"method": "POST", "path": path, "headers": {}, "query": {}, "body": {}}
    return Invocation(
        code=code,
        trigger=spec,
        event=event,
        providers={},
        execution=ExecutionContext("ex_1", "token", "http://127.0.0.1:9", deadline_ms, workflow_id),
    )


def gone(pid: int, timeout: float = 10.0) -> bool:
    """Whether ``pid`` has exited (a zombie counts as exited), waiting up to ``timeout``."""
    until = time.monotonic() + timeout
    while time.monotonic() < until:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (FileNotFoundError, ProcessLookupError):
            return True
        if state in {"Z", "X"}:
            return True
        time.sleep(0.05)
    return False


@pytest.fixture
def registry() -> InMemoryImageRegistry:
    registry = InMemoryImageRegistry()
    registry.push("img", "tag", empty_image())
    return registry


MakeHost = Callable[..., LocalFunctionHost]


@pytest.fixture
def make_host(registry: InMemoryImageRegistry, tmp_path: Path) -> Iterator[MakeHost]:
    hosts: list[LocalFunctionHost] = []

    def make(**options: Any) -> LocalFunctionHost:
        options.setdefault("fallback_path", [FLOWW_SOURCE])
        host = LocalFunctionHost(registry, tmp_path / "images", **options)
        hosts.append(host)
        return host

    yield make
    for host in hosts:
        host.close()


def ready(host: LocalFunctionHost, image_ref: str = "img:tag", rid: str = "rt_1") -> Runtime:
    runtime = host.create_runtime(Runtime(rid, "ns_1", "hash", image_ref))
    assert runtime.status is RuntimeStatus.READY, runtime.error
    return runtime


def test_a_warm_worker_serves_every_invocation(make_host: MakeHost) -> None:
    host = make_host(workers_per_runtime=1)
    runtime = ready(host)
    assert host.worker_pids(runtime.id) == ()
    pids = {host.invoke(runtime, call("/pid")).result for _ in range(5)}
    assert len(pids) == 1
    assert host.worker_pids(runtime.id) == tuple(pids)


def test_past_the_deadline_the_worker_and_its_children_are_killed(
    make_host: MakeHost, tmp_path: Path
) -> None:
    host = make_host(workers_per_runtime=1, env={"CHILD_PID_DIR": str(tmp_path)})
    runtime = ready(host)
    first = host.invoke(runtime, call("/pid")).result
    with pytest.raises(DeadlineExceeded):
        host.invoke(runtime, call("/hang", deadline_ms=1_500))
    assert gone(first)
    assert gone(int((tmp_path / "child").read_text()))
    after = host.invoke(runtime, call("/pid"))
    assert after.ok and after.result != first


def test_a_crashing_worker_fails_only_its_invocation(make_host: MakeHost) -> None:
    host = make_host(workers_per_runtime=1)
    runtime = ready(host)
    first = host.invoke(runtime, call("/pid")).result
    with pytest.raises(Unavailable) as info:
        host.invoke(runtime, call("/die"))
    assert str(info.value) == "the worker exited with code 3: going down now"
    assert gone(first)
    after = host.invoke(runtime, call("/pid"))
    assert after.ok and after.result != first


def test_concurrent_invocations_share_the_pool(make_host: MakeHost) -> None:
    host = make_host(workers_per_runtime=2)
    runtime = ready(host)
    with ThreadPoolExecutor(max_workers=6) as pool:
        results = list(pool.map(lambda _: host.invoke(runtime, call("/nap")), range(12)))
    assert all(r.ok for r in results)
    used = {r.result for r in results}
    assert used <= set(host.worker_pids(runtime.id))
    assert 1 <= len(host.worker_pids(runtime.id)) <= 2


def test_workers_do_not_inherit_the_server_environment(
    make_host: MakeHost, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FLOWW_SECRET_CANARY", "do-not-leak")
    host = make_host(env={"FLOWW_EXTRA": "given"})
    runtime = ready(host)
    seen = host.invoke(runtime, call("/env")).result
    assert isinstance(seen, dict)
    assert "FLOWW_SECRET_CANARY" not in seen["names"]
    assert "FLOWW_EXTRA" in seen["names"]
    assert seen["home"] != os.environ.get("HOME")
    assert seen["cwd"] != os.getcwd()


def test_code_files_cross_once_per_worker_and_digest(make_host: MakeHost) -> None:
    host = make_host(workers_per_runtime=1)
    runtime = ready(host)
    for _ in range(3):
        assert host.invoke(runtime, call("/pid")).ok
    assert host.files_sent(runtime.id) == 1
    # The runtime keeps a few digests only: after others pushed this one out, it asks again.
    for n in range(5):
        other = CodeBundle("main.py", {"main.py": MAIN + f"\nVERSION = {n}\n"})
        assert host.invoke(runtime, call("/pid", code=other)).ok
    assert host.files_sent(runtime.id) == 6
    assert host.invoke(runtime, call("/pid")).ok
    assert host.files_sent(runtime.id) == 7


def _unsafe(kind: str) -> tarfile.TarInfo:
    if kind == "absolute":
        info = tarfile.TarInfo("/tmp/floww-escape")
    elif kind == "parent":
        info = tarfile.TarInfo("opt/../../floww-escape")
    elif kind == "symlink":
        info = tarfile.TarInfo("opt/link")
        info.type, info.linkname = tarfile.SYMTYPE, "../../outside"
    elif kind == "absolute-symlink":
        info = tarfile.TarInfo("opt/link")
        info.type, info.linkname = tarfile.SYMTYPE, "/etc"
    elif kind == "hardlink":
        info = tarfile.TarInfo("opt/hard")
        info.type, info.linkname = tarfile.LNKTYPE, "../outside"
    else:
        info = tarfile.TarInfo("dev/null")
        info.type = tarfile.CHRTYPE
    return info


@pytest.mark.parametrize(
    "kind", ["absolute", "parent", "symlink", "absolute-symlink", "hardlink", "device"]
)
def test_unsafe_layers_fail_the_runtime(
    make_host: MakeHost, registry: InMemoryImageRegistry, tmp_path: Path, kind: str
) -> None:
    data: dict[str, bytes] = {}
    safe = file_entry("opt/fine.txt", b"fine", data)
    registry.push("bad", "tag", image(tar_gz([safe, _unsafe(kind)], data)))
    host = make_host()
    runtime = host.create_runtime(Runtime("rt_bad", "ns_1", "hash", "bad:tag"))
    assert runtime.status is RuntimeStatus.FAILED
    assert "layer 1" in runtime.error
    assert host.runtime_status(runtime) is RuntimeStatus.FAILED
    images = tmp_path / "images"
    assert [p.name for p in images.iterdir()] == []
    assert not (tmp_path / "floww-escape").exists()
    with pytest.raises(Unavailable):
        host.invoke(runtime, call("/pid"))


def test_a_missing_image_fails_the_runtime(make_host: MakeHost) -> None:
    host = make_host()
    runtime = host.create_runtime(Runtime("rt_x", "ns_1", "hash", "img:nope"))
    assert (runtime.status, runtime.error) == (RuntimeStatus.FAILED, "image not found: img:nope")


def test_the_image_site_dir_is_importable_and_layers_apply_in_order(
    make_host: MakeHost, registry: InMemoryImageRegistry, tmp_path: Path
) -> None:
    data: dict[str, bytes] = {}
    lower = tar_gz(
        [
            file_entry("opt/floww/site/helperlib.py", b"VALUE = 'lower'\n", data),
            file_entry("opt/floww/site/stale.txt", b"x", data),
        ],
        data,
    )
    data = {}
    upper = tar_gz(
        [
            file_entry("opt/floww/site/helperlib.py", b"VALUE = 'upper'\n", data),
            file_entry("opt/floww/site/.wh.stale.txt", b"", data),
        ],
        data,
    )
    pushed = registry.push("site", "v1", image(lower, upper))
    host = make_host()
    first = ready(host, f"site@{pushed}", rid="rt_a")
    ready(host, "site:v1", rid="rt_b")
    root = tmp_path / "images" / pushed.removeprefix("sha256:")
    assert [p.name for p in (tmp_path / "images").iterdir()] == [root.name]
    assert not (root / "opt/floww/site/stale.txt").exists()
    assert host.invoke(first, call("/site")).result == "upper"


def test_destroy_and_close_stop_the_workers(make_host: MakeHost) -> None:
    host = make_host()
    one, two = ready(host, rid="rt_1"), ready(host, rid="rt_2")
    pid_one = host.invoke(one, call("/pid")).result
    pid_two = host.invoke(two, call("/pid")).result
    host.destroy_runtime(one)
    assert gone(pid_one)
    host.destroy_runtime(one)  # idempotent
    again = host.invoke(one, call("/pid")).result  # materialized again, by a new worker
    assert again != pid_one
    host.close()
    assert gone(again)
    assert gone(pid_two)


def test_a_second_host_runs_a_runtime_the_first_created(make_host: MakeHost) -> None:
    """As a restarted server or a second replica: same registry, same image cache, no memory
    of the runtime."""
    first = make_host()
    created = ready(first)
    assert first.invoke(created, call("/pid")).ok
    first.close()
    second = make_host()
    assert second.runtime_status(created) is RuntimeStatus.READY
    assert second.invoke(created, call("/pid")).ok
    again = second.create_runtime(created)  # idempotent: nothing to redo
    assert again.status is RuntimeStatus.READY


def test_idle_workers_are_stopped_and_come_back_on_demand(make_host: MakeHost) -> None:
    host = make_host(workers_per_runtime=2, idle_s=0.5)
    runtime = ready(host)
    first = host.invoke(runtime, call("/pid")).result
    deadline = time.monotonic() + 10
    while host.worker_pids(runtime.id) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert host.worker_pids(runtime.id) == ()
    assert gone(first)
    assert host.invoke(runtime, call("/pid")).ok


def test_each_workflow_has_its_own_workers(make_host: MakeHost) -> None:
    host = make_host(workers_per_runtime=1)
    runtime = ready(host)
    one = host.invoke(runtime, call("/pid", workflow_id="wf_1")).result
    two = host.invoke(runtime, call("/pid", workflow_id="wf_2")).result
    assert one != two
    assert set(host.worker_pids(runtime.id)) == {one, two}


def test_a_worker_that_cannot_start_is_unavailable(make_host: MakeHost) -> None:
    host = make_host(python="/nonexistent/python3")
    runtime = ready(host)
    with pytest.raises(Unavailable):
        host.invoke(runtime, call("/pid"))


def test_a_request_that_is_not_json_keeps_the_worker(make_host: MakeHost) -> None:
    host = make_host(workers_per_runtime=1)
    runtime = ready(host)
    pid = host.invoke(runtime, call("/pid")).result
    bad = call("/pid")
    bad = Invocation(bad.code, bad.trigger, {"body": {1, 2}}, {}, bad.execution)
    with pytest.raises(InvalidInput):
        host.invoke(runtime, bad)
    assert host.invoke(runtime, call("/pid")).result == pid


# -- answers awaited on an event loop (invoke_async) ----------------------------------------


def _on_loop(host: LocalFunctionHost, runtime: Runtime, invocation: Invocation) -> Any:
    import asyncio

    async def run() -> Any:
        return await host.invoke_async(runtime, invocation)

    return asyncio.run(run())


def test_invoke_async_answers_as_invoke_and_keeps_the_warm_worker(
    make_host: MakeHost, tmp_path: Path
) -> None:
    host = make_host(workers_per_runtime=1, env={"CHILD_PID_DIR": str(tmp_path)})
    runtime = ready(host)
    first = host.invoke(runtime, call("/pid")).result  # the files cross once, on a thread
    answers = {_on_loop(host, runtime, call("/pid")).result for _ in range(5)}
    assert answers == {first}
    with pytest.raises(DeadlineExceeded):
        _on_loop(host, runtime, call("/hang", deadline_ms=500))
    assert gone(first)  # the late worker was killed, and its children
    assert gone(int((tmp_path / "child").read_text()))
    with pytest.raises(Unavailable) as info:
        _on_loop(host, runtime, call("/die"))
    assert str(info.value) == "the worker exited with code 3: going down now"
    assert _on_loop(host, runtime, call("/pid")).ok


def test_a_run_on_the_loop_can_be_cancelled_also_when_its_files_cross(
    make_host: MakeHost, tmp_path: Path
) -> None:
    """The first run of a digest on a worker sends the files from a thread; a cancel finds
    it there as well as when the loop awaits the answer."""
    import threading

    host = make_host(workers_per_runtime=1, env={"CHILD_PID_DIR": str(tmp_path)})
    runtime = ready(host)
    for warm in (False, True):
        if warm:
            assert host.invoke(runtime, call("/pid")).ok
        cancelled: list[bool] = []

        def cancel_soon(cancelled: list[bool] = cancelled) -> None:
            deadline = time.monotonic() + 10
            while not (tmp_path / "child").exists() and time.monotonic() < deadline:
                time.sleep(0.02)
            cancelled.append(host.cancel_invocation("ex_1"))

        canceller = threading.Thread(target=cancel_soon)
        canceller.start()
        t0 = time.monotonic()
        with pytest.raises(Unavailable):
            _on_loop(host, runtime, call("/hang"))
        canceller.join(10)
        (tmp_path / "child").unlink()
        assert cancelled == [True], warm
        assert time.monotonic() - t0 < 20  # not the 60 s of the handler


def test_a_run_on_the_loop_survives_its_worker_being_stopped_by_another_thread(
    make_host: MakeHost, tmp_path: Path
) -> None:
    """Another thread stops the runtime (closing the worker's descriptors) while the loop
    awaits the answer, and new pipes take the freed numbers: the run ends unavailable,
    never reading another file's bytes, and the loop is not left watching a stale number."""
    import threading

    host = make_host(workers_per_runtime=1, env={"CHILD_PID_DIR": str(tmp_path)})
    runtime = ready(host)
    assert host.invoke(runtime, call("/pid")).ok
    pipes: list[tuple[int, int]] = []

    def stop_soon() -> None:
        deadline = time.monotonic() + 10
        while not (tmp_path / "child").exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        host.destroy_runtime(runtime)
        for _ in range(8):  # take the freed descriptor numbers, with an answer-like line
            read, write = os.pipe()
            os.write(write, b'{"ok": true, "result": "another file"}\n')
            pipes.append((read, write))

    stopper = threading.Thread(target=stop_soon)
    stopper.start()
    try:
        with pytest.raises(Unavailable):
            _on_loop(host, runtime, call("/hang"))
    finally:
        stopper.join(10)
        for read, write in pipes:
            os.close(read)
            os.close(write)
