"""The sandbox's command line, uids, staged images, the one-namespace rule of an unsandboxed
server, the owner-only home and the sandbox settings. Real sandboxes run in
tests/integration/test_sandbox_limits.py and test_sandbox_escape.py."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from floww.adapters.local.isolation import local_function_host
from floww.adapters.local.private_home import make_private, not_private
from floww.adapters.local.sandbox import (
    SANDBOX_API_URL,
    SANDBOX_PROXY_URL,
    SANDBOX_SITE,
    BwrapSandbox,
    OneNamespace,
    SandboxLimits,
    probe_bwrap,
)
from floww.adapters.local.uplink import Uplink, Uplinks
from floww.adapters.local.workers import WorkerSpec
from floww.adapters.memory import FakeImageBuilder, InMemoryImageRegistry
from floww.domain.errors import InvalidInput
from floww.domain.model import Runtime, RuntimeStatus, RuntimeTarget
from floww.settings import Settings


def pairs(args: list[str], flag: str) -> list[tuple[str, str]]:
    return [(args[i + 1], args[i + 2]) for i, a in enumerate(args) if a == flag]


def test_limits_must_be_positive() -> None:
    with pytest.raises(ValueError, match="memory_mb"):
        SandboxLimits(memory_mb=0)
    assert "memory 64 MiB" in SandboxLimits(memory_mb=64).describe()


def test_the_command_binds_the_site_and_the_interpreter_read_only_and_never_the_home(
    tmp_path: Path,
) -> None:
    readable = tmp_path / "venv"
    home = readable / "data" / "floww"  # a home inside a bound directory gets covered
    sandbox = BwrapSandbox(
        limits=SandboxLimits(memory_mb=300, cpu_s=7, processes=9, open_files=33),
        readable=(str(readable),),
        hidden=(str(home), str(tmp_path / "elsewhere")),
    )
    args = sandbox.command(["python", "-m", "x"], site=tmp_path / "site", uid=200_123)
    binds = pairs(args, "--ro-bind")
    assert (str(tmp_path / "site"), SANDBOX_SITE) in binds
    assert (str(readable), str(readable)) in binds
    assert not any(source.startswith(str(home)) for source, _ in binds)
    tmpfs = [args[i + 1] for i, a in enumerate(args) if a == "--tmpfs"]
    assert tmpfs == ["/tmp", str(home)]
    assert args.index("--tmpfs", args.index(str(readable))) < args.index(str(home))
    for flag in ("--unshare-pid", "--unshare-ipc", "--die-with-parent", "--new-session"):
        assert flag in args
    assert "--unshare-net" in args and "--setenv" not in args
    assert not any(target.startswith("/run/floww") for _, target in binds), "no uplink"
    tail = args[args.index("--", 1) :]
    assert tail[:7] == [
        "--",
        "prlimit",
        f"--as={300 * 1024 * 1024}",
        "--cpu=7",
        "--nproc=9",
        "--nofile=33",
        "--",
    ]
    assert "--reuid=200123" in tail and "--no-new-privs" in tail
    assert tail[-3:] == ["python", "-m", "x"]


def test_an_uplink_binds_its_sockets_and_the_relay_starts_the_worker(tmp_path: Path) -> None:
    uplink = Uplink(str(tmp_path / "api.sock"), str(tmp_path / "egress.sock"))
    sandbox = BwrapSandbox(uplink=uplink, python="/venv/bin/python")
    args = sandbox.command(["python", "-m", "x"], site=tmp_path / "site", uid=200_123)
    binds = pairs(args, "--ro-bind")
    assert (uplink.api_socket, "/run/floww/api.sock") in binds
    assert (uplink.egress_socket, "/run/floww/egress.sock") in binds
    assert "--unshare-net" in args
    tail = args[args.index("--no-new-privs") + 2 :]
    relay = tail[: tail.index("--") + 1]
    assert relay[:3] == ["/venv/bin/python", "-I", "-S"]
    assert relay[3].endswith("sandbox_relay.py")
    listens = [relay[i + 1] for i, a in enumerate(relay) if a == "--listen"]
    assert listens == ["9180=/run/floww/api.sock", "9181=/run/floww/egress.sock"]
    assert tail[len(relay) :] == ["python", "-m", "x"]
    assert SANDBOX_API_URL.endswith(":9180") and SANDBOX_PROXY_URL.endswith(":9181")


def test_each_uid_gets_its_own_sockets_bound(tmp_path: Path) -> None:
    asked: list[int] = []

    def make(uid: int) -> Uplink:
        asked.append(uid)
        return Uplink(str(tmp_path / f"u{uid}" / "api.sock"), str(tmp_path / f"u{uid}" / "e.sock"))

    sandbox = BwrapSandbox(uplink=Uplinks(str(tmp_path), make), python="/venv/bin/python")
    for uid in (200_001, 200_002):
        binds = pairs(sandbox.command(["x"], site=tmp_path / "site", uid=uid), "--ro-bind")
        assert (str(tmp_path / f"u{uid}" / "api.sock"), "/run/floww/api.sock") in binds
        assert (str(tmp_path / f"u{uid}" / "e.sock"), "/run/floww/egress.sock") in binds
    assert asked == [200_001, 200_002]


def test_a_sandboxed_worker_with_an_uplink_sends_http_clients_to_the_proxy(
    tmp_path: Path,
) -> None:
    uplink = Uplink(str(tmp_path / "api.sock"), str(tmp_path / "egress.sock"))

    def environment(sandbox: BwrapSandbox | None) -> dict[str, str]:
        spec = WorkerSpec(
            "python", [str(tmp_path)], {}, tmp_path, 1.0, sandbox=sandbox, uid=200_000
        )
        workdir = tmp_path / "w"
        workdir.mkdir(exist_ok=True)
        return spec.command(workdir)[1]

    inside = environment(BwrapSandbox(uplink=uplink))
    for name in ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy"):
        assert inside[name] == SANDBOX_PROXY_URL
    assert "127.0.0.1" in inside["NO_PROXY"].split(",")  # the API relay stays direct
    assert "HTTP_PROXY" not in environment(BwrapSandbox())  # no uplink: no proxy to name
    assert "HTTP_PROXY" not in environment(None)  # unsandboxed: the machine's own network


def test_parent_folders_are_made_crossable(tmp_path: Path) -> None:
    sandbox = BwrapSandbox(readable=("/srv/python/3.11",))
    args = sandbox.command(["true"], site=tmp_path, uid=200_000)
    dirs = [args[i + 3] for i, a in enumerate(args) if a == "--perms" and args[i + 2] == "--dir"]
    assert {"/srv", "/srv/python", "/opt", "/opt/floww"} <= set(dirs)


def test_each_namespace_has_a_stable_unprivileged_uid() -> None:
    sandbox = BwrapSandbox()
    uid = sandbox.uid_for("ns_a")
    assert uid == BwrapSandbox().uid_for("ns_a")
    assert sandbox.uid_base <= uid < sandbox.uid_base + sandbox.uid_count
    assert uid != sandbox.uid_for("ns_b")


@pytest.mark.skipif(os.geteuid() != 0, reason="giving files to another uid needs root")
def test_a_staged_image_belongs_to_the_namespace_uid_and_is_owner_only(tmp_path: Path) -> None:
    root = tmp_path / "abc123"
    (root / "opt" / "floww" / "site").mkdir(parents=True)
    (root / "opt" / "floww" / "site" / "mod.py").write_text("X = 1\n")
    (root / "opt" / "floww" / "site" / "mod.py").chmod(0o644)
    staged = BwrapSandbox().stage(root, tmp_path / "staged", 200_777)
    assert staged == tmp_path / "staged" / "u200777" / "abc123"
    for path in [staged, *staged.rglob("*")]:
        info = path.lstat()
        assert info.st_uid == 200_777
        assert stat.S_IMODE(info.st_mode) == (0o700 if path.is_dir() else 0o600)
    marker = staged / "marker"
    marker.write_text("kept")
    assert BwrapSandbox().stage(root, tmp_path / "staged", 200_777) == staged
    assert marker.exists(), "a staged image is made once"


@pytest.mark.skipif(os.geteuid() != 0, reason="the probe first says the server is not root")
def test_without_the_tools_the_probe_says_what_to_install() -> None:
    said = probe_bwrap(BwrapSandbox(bwrap="/nonexistent/bwrap"))
    assert said is not None and "bubblewrap" in said


def test_an_unsandboxed_server_admits_one_namespace_across_restarts(tmp_path: Path) -> None:
    pin = tmp_path / "runtimes" / "only-namespace"
    admit = OneNamespace(pin, "bwrap is missing")
    assert admit("ns_a") is None
    assert admit("ns_a") is None
    refused = admit("ns_b")
    assert refused is not None
    assert "bwrap is missing" in refused and "FLOWW_ALLOW_UNSANDBOXED=1" in refused
    assert stat.S_IMODE(pin.stat().st_mode) == 0o600
    again = OneNamespace(pin, "bwrap is missing")  # the server restarted
    assert again("ns_b") is not None and again("ns_a") is None


@pytest.fixture
def umask() -> Iterator[None]:
    before = os.umask(0o022)
    yield
    os.umask(before)


def test_the_home_is_made_owner_only(tmp_path: Path, umask: None) -> None:
    home = tmp_path / "home"
    (home / "registry" / "blobs").mkdir(parents=True)
    (home / "registry" / "blobs" / "b").write_text("blob")
    (home / "floww.db").write_text("db")
    (home / "tool").write_text("#!/bin/sh\n")
    (home / "tool").chmod(0o755)
    outside = tmp_path / "outside"
    outside.write_text("not ours")
    outside.chmod(0o644)
    (home / "link").symlink_to(outside)
    assert not_private(home)
    make_private(home)
    assert not_private(home) == []
    assert stat.S_IMODE((home / "tool").stat().st_mode) == 0o700
    assert stat.S_IMODE((home / "floww.db").stat().st_mode) == 0o600
    assert stat.S_IMODE(outside.stat().st_mode) == 0o644, "links are not followed"
    (home / "later.db-wal").write_text("created after the start")
    assert not_private(home) == []


def registry() -> InMemoryImageRegistry:
    images = InMemoryImageRegistry()
    images.push(
        "img", "tag", FakeImageBuilder().build(RuntimeTarget("linux/amd64", "3.11"), []).image
    )
    return images


def test_off_without_consent_hosts_one_namespace_and_says_so(tmp_path: Path) -> None:
    host, notice = local_function_host(
        registry(),
        tmp_path,
        mode="off",
        limits=SandboxLimits(),
        allow_unsandboxed=False,
        workers_per_runtime=1,
        fallback_path=[],
        api_address=("127.0.0.1", 8000),
    )
    with host:
        assert "NOT sandboxed" in notice and "one namespace only" in notice
        first = host.create_runtime(Runtime("rt_a", "ns_a", "h", "img:tag"))
        second = host.create_runtime(Runtime("rt_b", "ns_b", "h", "img:tag"))
    assert first.status is RuntimeStatus.READY
    assert second.status is RuntimeStatus.FAILED
    assert "FLOWW_ALLOW_UNSANDBOXED=1" in second.error


def test_off_with_consent_hosts_every_namespace(tmp_path: Path) -> None:
    host, notice = local_function_host(
        registry(),
        tmp_path,
        mode="off",
        limits=SandboxLimits(),
        allow_unsandboxed=True,
        workers_per_runtime=1,
        fallback_path=[],
        api_address=("127.0.0.1", 8000),
    )
    with host:
        assert "NOT sandboxed" in notice and "FLOWW_ALLOW_UNSANDBOXED=1" in notice
        for ns in ("ns_a", "ns_b"):
            made = host.create_runtime(Runtime(f"rt_{ns}", ns, "h", "img:tag"))
            assert made.status is RuntimeStatus.READY


def test_without_bubblewrap_bwrap_mode_refuses_to_start_and_auto_falls_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))  # no bwrap, prlimit or setpriv here

    def build(mode: str) -> str:
        host, notice = local_function_host(
            registry(),
            tmp_path,
            mode=mode,
            limits=SandboxLimits(),
            allow_unsandboxed=False,
            workers_per_runtime=1,
            fallback_path=[],
            api_address=("127.0.0.1", 8000),
        )
        host.close()
        return notice

    with pytest.raises(InvalidInput, match="FLOWW_SANDBOX=bwrap but workers cannot be sandboxed"):
        build("bwrap")
    notice = build("auto")
    assert "NOT sandboxed" in notice
    assert "not installed" in notice or "does not run as root" in notice


def test_sandbox_settings_are_checked() -> None:
    settings = Settings.load(
        {"FLOWW_HOME": "/x", "FLOWW_ALLOW_UNSANDBOXED": "1", "FLOWW_SANDBOX_MEMORY_MB": "300"}
    )
    assert settings.allow_unsandboxed and settings.sandbox_memory_mb == 300
    assert settings.sandbox == "auto"
    with pytest.raises(InvalidInput, match="FLOWW_SANDBOX must be auto, bwrap or off"):
        Settings.load({"FLOWW_HOME": "/x", "FLOWW_SANDBOX": "docker"})
    with pytest.raises(InvalidInput, match="FLOWW_SANDBOX_PROCESSES must be at least 1"):
        Settings.load({"FLOWW_HOME": "/x", "FLOWW_SANDBOX_PROCESSES": "0"})
    allowed = Settings.load({"FLOWW_HOME": "/x", "FLOWW_SANDBOX_EGRESS_ALLOW": "10.2.0.0/16"})
    assert allowed.sandbox_egress_allow == "10.2.0.0/16"
    assert Settings.load({"FLOWW_HOME": "/x"}).sandbox_egress_allow == ""
