"""LocalFunctionHost with its workers in real bubblewrap sandboxes: what a handler can see, the
limits it runs under, that everything it starts dies with its worker, and that the host's
loopback is out of its reach.

Skipped where bubblewrap cannot run, failed instead in CI, which installs it (.ci/run). An
unsandboxed server refuses a second namespace: see tests/unit/adapters/local/test_sandbox.py.
"""

from __future__ import annotations

import os
import socket
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from floww.adapters.local.function_host import LocalFunctionHost
from floww.adapters.local.sandbox import BwrapSandbox, SandboxLimits, probe_bwrap
from floww.adapters.local.uplink import SandboxNetwork
from floww.adapters.memory import InMemoryImageRegistry
from floww.domain.errors import Unavailable
from floww.domain.model import (
    CodeBundle,
    ExecutionContext,
    Invocation,
    InvocationResult,
    ProviderRef,
    Runtime,
    TriggerSpec,
)
from tests.integration.postgres import skip_or_fail
from tests.integration.test_local_function_host import (
    FLOWW_SOURCE,
    empty_image,
    file_entry,
    gone,
    image,
    tar_gz,
)

pytestmark = pytest.mark.integration

MAIN = textwrap.dedent(
    """
    import os, signal, socket, subprocess, time
    from floww import Builtin

    builtin = Builtin()

    def attempt(action):
        try:
            value = action()
        except BaseException as exc:
            return "refused: " + type(exc).__name__
        return "done: " + repr(value)[:80]

    @builtin.webhook("/look")
    def look(ctx, event):
        body = event.body
        seen = {path: attempt(lambda p=path: os.listdir(p) if os.path.isdir(p) else
                              open(p, "rb").read(64)) for path in body["paths"]}
        return {
            "seen": seen,
            "uid": os.getuid(),
            "pids": sorted(int(p) for p in os.listdir("/proc") if p.isdigit()),
            "signal": attempt(lambda: os.kill(body["server_pid"], signal.SIGTERM)),
            "site": sorted(os.listdir("/opt/floww/site")),
            "tmp": attempt(lambda: open("/tmp/scratch", "w").write("ok")),
        }

    @builtin.webhook("/eat")
    def eat(ctx, event):
        hog = bytearray(event.body["mib"] * 1024 * 1024)
        return len(hog)

    @builtin.webhook("/fork")
    def fork(ctx, event):
        born = 0
        try:
            for _ in range(event.body["tries"]):
                if os.fork() == 0:
                    time.sleep(2)
                    os._exit(0)
                born += 1
        except OSError as exc:
            return {"born": born, "stopped_by": type(exc).__name__}
        return {"born": born, "stopped_by": None}

    @builtin.webhook("/open")
    def open_many(ctx, event):
        kept = []
        try:
            for _ in range(event.body["tries"]):
                kept.append(open("/dev/null"))
        except OSError as exc:
            return {"opened": len(kept), "stopped_by": type(exc).__name__}
        return {"opened": len(kept), "stopped_by": None}

    @builtin.webhook("/spin")
    def spin(ctx, event):
        while True:
            pass

    @builtin.webhook("/detach")
    def detach(ctx, event):
        subprocess.Popen(["sleep", event.body["seconds"]], start_new_session=True)
        return "left a child behind"

    @builtin.webhook("/call")
    def call_out(ctx, event):
        with socket.create_connection(("127.0.0.1", event.body["port"]), timeout=5) as s:
            return s.recv(16).decode()
    """
)
CODE = CodeBundle("main.py", {"main.py": MAIN})


def call(path: str, body: dict[str, Any], deadline_ms: int = 20_000) -> Invocation:
    spec = TriggerSpec(ProviderRef("builtin"), "webhook", {"path": path, "methods": ["POST"]})
    event = {"method": "POST", "path": path, "headers": {}, "query": {}, "body": body}
    return Invocation(
        code=CODE,
        trigger=spec,
        event=event,
        providers={},
        execution=ExecutionContext("ex_1", "token", "http://127.0.0.1:9", deadline_ms, "wf_1"),
    )


def answer(result: InvocationResult) -> Any:
    assert result.ok, result.error
    return result.result


def sleepers(seconds: str) -> list[int]:
    """The host's processes running ``sleep <seconds>``."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                argv = (entry / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if argv[:2] == [b"sleep", seconds.encode()]:
                found.append(int(entry.name))
    return found


def one_sleeper(seconds: str) -> int:
    """The host's one process running ``sleep <seconds>``. A handler's ``Popen`` may return
    while its child is still inside ``exec`` (vfork lets the parent go on first): the new
    command line shows a moment later, so it is waited for."""
    until = time.monotonic() + 10
    while not (found := sleepers(seconds)) and time.monotonic() < until:
        time.sleep(0.02)
    assert len(found) == 1, found
    return found[0]


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """A floww home with the things a handler must never see."""
    home = tmp_path / "home"
    (home / "keys").mkdir(parents=True)
    (home / "keys" / "access.key").write_text("the platform's signing key")
    (home / "floww.db").write_text("the database")
    return home


@pytest.fixture
def registry() -> InMemoryImageRegistry:
    registry = InMemoryImageRegistry()
    registry.push("img", "tag", empty_image())
    data: dict[str, bytes] = {}
    other = tar_gz([file_entry("opt/floww/site/theirs.py", b"SECRET = 'theirs'\n", data)], data)
    registry.push("other", "tag", image(other))
    return registry


MakeHost = Callable[..., LocalFunctionHost]


@pytest.fixture
def make_host(registry: InMemoryImageRegistry, home: Path) -> Iterator[MakeHost]:
    hosts: list[LocalFunctionHost] = []

    def make(limits: SandboxLimits | None = None, workers: int = 1) -> LocalFunctionHost:
        sandbox = BwrapSandbox.for_python(
            sys.executable, import_path=[FLOWW_SOURCE], hidden=[home], limits=limits
        )
        problem = probe_bwrap(sandbox)
        if problem is not None:
            skip_or_fail(f"workers cannot be sandboxed here: {problem}")
        host = LocalFunctionHost(
            registry,
            home / "runtimes",
            fallback_path=[FLOWW_SOURCE],
            workers_per_runtime=workers,
            sandbox=sandbox,
            # No server here: its API address leads nowhere (test_sandbox_network.py has one).
            network=SandboxNetwork(("127.0.0.1", 9)),
        )
        hosts.append(host)
        return host

    yield make
    for host in hosts:
        host.close()


def runtime(namespace: str = "ns_a", ref: str = "img:tag", rid: str = "rt_a") -> Runtime:
    return Runtime(rid, namespace, "spec", ref)


def test_a_handler_sees_neither_the_home_nor_other_runtimes_nor_the_server(
    make_host: MakeHost, home: Path
) -> None:
    host = make_host()
    theirs = host.create_runtime(runtime("ns_b", "other:tag", "rt_b"))
    host.invoke(theirs, call("/eat", {"mib": 1}))  # their image is unpacked and staged
    staged = sorted(str(p) for p in (home / "runtimes").rglob("theirs.py"))
    assert len(staged) == 2  # the unpacked image and its copy for ns_b's uid
    paths = [
        str(home),
        str(home / "keys" / "access.key"),
        str(home / "floww.db"),
        str(home / "runtimes"),
        *staged,
        f"/proc/{os.getpid()}/environ",
        f"/proc/{os.getpid()}/cmdline",
        "/etc/shadow",
        "/home",
    ]
    seen = answer(
        host.invoke(runtime(), call("/look", {"paths": paths, "server_pid": os.getpid()}))
    )
    assert {p: v for p, v in seen["seen"].items() if not v.startswith("refused")} == {}
    assert seen["signal"].startswith("refused"), seen["signal"]
    assert seen["uid"] >= 200_000
    assert seen["uid"] != os.getuid()  # a real, unprivileged uid, not the server's
    # only the sandbox's own init, the uplink relay and the worker are visible
    assert seen["pids"] == [1, 2, 3]
    assert "theirs.py" not in seen["site"]
    assert seen["tmp"] == "done: 2"
    assert os.path.exists(f"/proc/{os.getpid()}")  # the server is alive and unharmed


def test_each_namespace_runs_as_its_own_uid(make_host: MakeHost) -> None:
    host = make_host()
    look = call("/look", {"paths": [], "server_pid": os.getpid()})
    mine = answer(host.invoke(runtime("ns_a"), look))["uid"]
    theirs = answer(host.invoke(runtime("ns_b", rid="rt_b"), look))["uid"]
    again = answer(host.invoke(runtime("ns_a", rid="rt_c"), look))["uid"]
    assert mine != theirs and mine == again


def test_past_the_memory_limit_the_handler_fails_naming_the_limit(make_host: MakeHost) -> None:
    host = make_host(SandboxLimits(memory_mb=256))
    result = host.invoke(runtime(), call("/eat", {"mib": 512}))
    assert not result.ok and result.error is not None
    assert result.error.type == "MemoryError"
    assert "memory limit is 256 MiB" in result.error.message
    assert answer(host.invoke(runtime(), call("/eat", {"mib": 16}))) == 16 * 1024 * 1024


def test_a_fork_bomb_is_bounded_and_the_worker_serves_on(make_host: MakeHost) -> None:
    host = make_host(SandboxLimits(processes=40))
    bombed = answer(host.invoke(runtime(), call("/fork", {"tries": 1000})))
    assert bombed["stopped_by"] in {"BlockingIOError", "OSError"}, bombed
    assert bombed["born"] < 40
    time.sleep(2.5)  # the children exit
    assert answer(host.invoke(runtime(), call("/eat", {"mib": 1}))) == 1024 * 1024


def test_open_files_are_bounded(make_host: MakeHost) -> None:
    host = make_host(SandboxLimits(open_files=64))
    opened = answer(host.invoke(runtime(), call("/open", {"tries": 1000})))
    assert opened["stopped_by"] == "OSError" and opened["opened"] < 64, opened


def test_past_the_cpu_limit_the_worker_dies_naming_the_limits(make_host: MakeHost) -> None:
    host = make_host(SandboxLimits(cpu_s=2))
    with pytest.raises(Unavailable, match=r"killed by signal 9.*CPU 2 s"):
        host.invoke(runtime(), call("/spin", {}))
    assert answer(host.invoke(runtime(), call("/eat", {"mib": 1}))) == 1024 * 1024


def test_a_detached_child_dies_with_its_killed_worker(make_host: MakeHost) -> None:
    host = make_host()
    answer(host.invoke(runtime(), call("/detach", {"seconds": "917"})))
    child = one_sleeper("917")
    (worker,) = host.worker_pids("rt_a")
    os.kill(worker, 9)
    assert gone(child)


def test_a_detached_child_dies_when_the_host_closes(make_host: MakeHost) -> None:
    host = make_host()
    answer(host.invoke(runtime(), call("/detach", {"seconds": "918"})))
    child = one_sleeper("918")
    host.close()
    assert gone(child)


def test_the_hosts_loopback_is_out_of_reach(make_host: MakeHost) -> None:
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]
        host = make_host()
        result = host.invoke(runtime(), call("/call", {"port": port}))
        assert not result.ok and result.error is not None
        assert result.error.type == "ConnectionRefusedError", result.error
        listener.settimeout(0.5)
        with pytest.raises(TimeoutError):
            listener.accept()  # nothing arrived
