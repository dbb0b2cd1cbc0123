"""Bubblewrap sandboxes with resource limits for local workers.

A ``BwrapSandbox`` turns "run this interpreter on this runtime's files" into a ``bwrap``
command line whose process

- sees a filesystem made only of read-only binds: the system's ``/usr`` (and the ``/bin``,
  ``/lib`` links into it), a few files of ``/etc`` (name resolution, TLS roots, time zone), the
  interpreter's installation, the floww source the workers import, and the runtime's own unpacked
  image at ``/opt/floww/site``; plus a private ``/tmp`` (a size-bounded tmpfs), a private
  ``/dev`` and the ``/proc`` of its own PID namespace. The floww home (keys, database, registry,
  other runtimes) is never bound, and is covered by an empty tmpfs should it lie under a bound
  directory;
- runs in its own PID, IPC, UTS and network namespaces (the server's processes do not exist
  for it, and its network is its own loopback only), under an unprivileged uid of its namespace
  (``uid_for``) with no capabilities and ``no_new_privs``;
- reaches out through an ``Uplink`` only, when it has one: the server's two unix sockets,
  bound at ``/run/floww``, put on its loopback by ``sandbox_relay`` (which starts the worker as
  its child): the floww API at ``SANDBOX_API_URL`` and the egress proxy at
  ``SANDBOX_PROXY_URL`` (``proxy_environment`` points HTTP clients at it);
- has ``setrlimit`` limits (``SandboxLimits``): address space, CPU seconds, processes of its
  uid, open files;
- dies with the server (``--die-with-parent``), and everything it started dies with it: killing
  the ``bwrap`` process ends its PID namespace, which the kernel empties.

Why bubblewrap run as root without a user namespace, dropping to the uid inside
(``setpriv``): a user namespace created by root maps the sandbox's uid back to root outside,
where ``RLIMIT_NPROC`` is not enforced and root-owned files stay readable; a real unprivileged
uid makes both the process limit and file modes hold. ``docs/sandbox.md`` has the details.
"""

from __future__ import annotations

import compileall
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path

import attrs

from floww.adapters.local.uplink import Uplink, Uplinks

__all__ = [
    "SANDBOX_API_URL",
    "SANDBOX_PROXY_URL",
    "SANDBOX_SITE",
    "BwrapSandbox",
    "OneNamespace",
    "SandboxLimits",
    "probe_bwrap",
    "proxy_environment",
]

# Where a runtime's site directory appears inside its sandbox.
SANDBOX_SITE = "/opt/floww/site"
# The uplink inside a sandbox: its sockets, and the loopback ports the relay puts them on.
SANDBOX_SOCKETS = "/run/floww"
_API_PORT = 9180
_PROXY_PORT = 9181
SANDBOX_API_URL = f"http://127.0.0.1:{_API_PORT}"
SANDBOX_PROXY_URL = f"http://127.0.0.1:{_PROXY_PORT}"
_RELAY = str(Path(__file__).with_name("sandbox_relay.py"))
_MIB = 1024 * 1024
_ETC = (
    "/etc/resolv.conf",
    "/etc/hosts",
    "/etc/nsswitch.conf",
    "/etc/host.conf",
    "/etc/gai.conf",
    "/etc/localtime",
    "/etc/ssl",
    "/etc/ca-certificates",
    "/etc/ld.so.cache",
    "/etc/mime.types",
)
_ROOT_LINKS = ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")


@attrs.frozen
class SandboxLimits:
    """Per-process limits of a sandboxed worker (``processes`` counts every process and thread
    of the namespace's uid, all its workers together). Each must be at least 1."""

    memory_mb: int = 1024
    cpu_s: int = 3600
    processes: int = 256
    open_files: int = 256
    tmp_mb: int = 64

    def __attrs_post_init__(self) -> None:
        for name in ("memory_mb", "cpu_s", "processes", "open_files", "tmp_mb"):
            if getattr(self, name) < 1:
                raise ValueError(f"the sandbox's {name} limit must be at least 1")

    def describe(self) -> str:
        return (
            f"memory {self.memory_mb} MiB, CPU {self.cpu_s} s, {self.processes} processes, "
            f"{self.open_files} open files, /tmp {self.tmp_mb} MiB"
        )


@attrs.frozen
class BwrapSandbox:
    """How workers are sandboxed. ``readable`` are host directories bound read-only at the
    same path (the interpreter's prefixes and the import path are added by ``for_python``);
    ``hidden`` are directories that must stay invisible (the floww home): one lying under a
    readable directory is covered by an empty tmpfs. Without an ``uplink`` the sandbox has no
    way out at all; with one, ``python`` runs its relay. Namespaces map onto uids
    ``uid_base .. uid_base + uid_count - 1``."""

    limits: SandboxLimits = SandboxLimits()
    readable: tuple[str, ...] = ()
    hidden: tuple[str, ...] = ()
    uplink: Uplink | Uplinks | None = None
    python: str = sys.executable
    bwrap: str = "bwrap"
    prlimit: str = "prlimit"
    setpriv: str = "setpriv"
    uid_base: int = 200_000
    uid_count: int = 1 << 20

    @classmethod
    def for_python(
        cls,
        python: str,
        *,
        import_path: Sequence[str] = (),
        hidden: Sequence[Path] = (),
        limits: SandboxLimits | None = None,
        uplink: Uplink | Uplinks | None = None,
    ) -> BwrapSandbox:
        """A sandbox that can run ``python`` (a virtual environment's or a system one) with
        ``import_path`` importable, keeping ``hidden`` out of sight, its network reaching out
        through ``uplink`` only."""
        readable: list[str] = []
        for prefix in (sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix):
            readable.append(prefix)
        exe = Path(python)
        readable.append(str(exe.parent.parent))
        readable.append(str(exe.resolve().parent.parent))
        readable.extend(str(Path(p).resolve()) for p in import_path)
        readable.append(str(Path(_RELAY).resolve().parent))
        return cls(
            bwrap=shutil.which("bwrap") or "bwrap",
            prlimit=shutil.which("prlimit") or "prlimit",
            setpriv=shutil.which("setpriv") or "setpriv",
            limits=limits or SandboxLimits(),
            readable=_outermost(p for p in readable if p.startswith("/")),
            hidden=tuple(str(Path(h).resolve()) for h in hidden),
            uplink=uplink,
            python=python,
        )

    def uid_for(self, namespace_id: str) -> int:
        """The unprivileged uid of ``namespace_id``'s workers: stable across restarts, so
        ``RLIMIT_NPROC`` bounds one namespace's processes together."""
        digest = hashlib.sha256(namespace_id.encode("utf-8")).digest()
        return self.uid_base + int.from_bytes(digest[:8], "big") % self.uid_count

    def command(self, argv: Sequence[str], *, site: Path, uid: int) -> list[str]:
        """The command line that runs ``argv`` in a sandbox with ``site`` at
        ``SANDBOX_SITE``, as ``uid``. The sandboxed process inherits the environment ``bwrap``
        is started with: pass it there, never on the command line, which anyone can read
        (the sandbox's own ``/proc/1/cmdline`` included)."""
        limits = self.limits
        args: list[str] = [
            self.bwrap,
            "--unshare-pid",
            "--unshare-ipc",
            "--unshare-uts",
            "--unshare-net",
            "--unshare-cgroup-try",
            "--die-with-parent",
            "--new-session",
            "--hostname",
            "floww-worker",
        ]
        made: set[str] = {"/", "/proc", "/dev", "/tmp"}
        bound: list[str] = ["/usr", "/proc", "/dev"]
        for link in _ROOT_LINKS:
            if os.path.islink(link):
                args += ["--symlink", os.readlink(link), link]
            elif os.path.isdir(link):
                args += ["--ro-bind", link, link]
                bound.append(link)
        args += ["--ro-bind", "/usr", "/usr"]
        for path in _ETC:
            if os.path.exists(path):
                args += _dirs_for(path, made, bound)
                args += ["--ro-bind", path, path]
        args += ["--proc", "/proc", "--dev", "/dev"]
        args += ["--perms", "1777", "--size", str(limits.tmp_mb * _MIB), "--tmpfs", "/tmp"]
        for path in self.readable:
            args += _dirs_for(path, made, bound)
            args += ["--ro-bind", path, path]
            bound.append(path)
        for path in self.hidden:
            if any(_within(path, r) for r in self.readable):
                args += ["--tmpfs", path]
        args += _dirs_for(SANDBOX_SITE, made, bound)
        args += ["--ro-bind", str(site), SANDBOX_SITE]
        if self.uplink is not None:
            uplink = self.uplink.of(uid)  # the uid's own sockets
            api, egress = f"{SANDBOX_SOCKETS}/api.sock", f"{SANDBOX_SOCKETS}/egress.sock"
            args += _dirs_for(api, made, bound)
            args += ["--ro-bind", uplink.api_socket, api]
            args += ["--ro-bind", uplink.egress_socket, egress]
            argv = [
                self.python,
                "-I",
                "-S",
                _RELAY,
                "--listen",
                f"{_API_PORT}={api}",
                "--listen",
                f"{_PROXY_PORT}={egress}",
                "--",
                *argv,
            ]
        args += ["--chdir", "/tmp"]
        args += [
            "--",
            self.prlimit,
            f"--as={limits.memory_mb * _MIB}",
            f"--cpu={limits.cpu_s}",
            f"--nproc={limits.processes}",
            f"--nofile={limits.open_files}",
            "--",
            self.setpriv,
            f"--reuid={uid}",
            f"--regid={uid}",
            "--clear-groups",
            "--inh-caps=-all",
            "--bounding-set=-all",
            "--no-new-privs",
            "--",
            *argv,
        ]
        return args

    def stage(self, root: Path, into: Path, uid: int) -> Path:
        """A copy of the unpacked image ``root`` that ``uid`` owns (owner-only modes), with its
        Python files compiled, under ``into``; made once (atomically) and reused. The sandbox
        binds it read-only."""
        target = into / f"u{uid}" / root.name
        if target.is_dir():
            return target
        target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chown(target.parent, uid, uid)
        scratch = Path(tempfile.mkdtemp(prefix=f".{root.name}.", dir=target.parent)) / "copy"
        shutil.copytree(root, scratch, symlinks=True)
        # Parsing only, nothing runs: the workers then start from bytecode they cannot write.
        compileall.compile_dir(scratch, quiet=2, workers=1)
        for path in [scratch, *scratch.rglob("*")]:
            os.chown(path, uid, uid, follow_symlinks=False)
            if not path.is_symlink():
                executable = path.is_dir() or path.stat().st_mode & 0o111
                path.chmod(0o700 if executable else 0o600)
        try:
            scratch.rename(target)
        except OSError:
            if not target.is_dir():
                raise
        finally:
            shutil.rmtree(scratch.parent, ignore_errors=True)
        return target


def proxy_environment() -> dict[str, str]:
    """The variables that send a sandboxed handler's HTTP clients (urllib, requests, httpx,
    curl, pip) through the egress proxy; its own loopback (the API relay) stays direct."""
    direct = "127.0.0.1,localhost,::1"
    env: dict[str, str] = {}
    for name in ("http_proxy", "https_proxy"):
        env[name] = env[name.upper()] = SANDBOX_PROXY_URL
    env["no_proxy"] = env["NO_PROXY"] = direct
    return env


def probe_bwrap(sandbox: BwrapSandbox, timeout: float = 10.0) -> str | None:
    """Whether ``sandbox`` can run here: ``None`` when a sandboxed ``true`` ran under it, else a
    sentence saying why not."""
    if os.geteuid() != 0:
        return "the server does not run as root, so its workers cannot run as uids of their own"
    for tool in (sandbox.bwrap, sandbox.prlimit, sandbox.setpriv):
        if shutil.which(tool) is None:
            return f"{tool!r} is not installed (Debian packages bubblewrap and util-linux)"
    site = Path("/usr")
    argv = sandbox.command(["/usr/bin/env", "true"], site=site, uid=sandbox.uid_base)
    try:
        done = subprocess.run(
            argv, capture_output=True, timeout=timeout, check=False, env={"PATH": "/usr/bin"}
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"bubblewrap could not be run: {exc}"
    if done.returncode != 0:
        said = done.stderr.decode("utf-8", "replace").strip().splitlines()
        return "bubblewrap refused to start a sandbox" + (f": {said[-1]}" if said else "")
    return None


class OneNamespace:
    """Admits the runtimes of one namespace only: the first one asked about, remembered in
    ``pin`` (an owner-only file) so a restart keeps the same one. For a host whose workers
    cannot be sandboxed: code of several namespaces would run unseparated."""

    def __init__(self, pin: Path, why: str) -> None:
        self._pin = pin
        self._why = why
        self._lock = threading.Lock()

    def __call__(self, namespace_id: str) -> str | None:
        with self._lock:
            try:
                pinned = self._pin.read_text("utf-8").strip()
            except FileNotFoundError:
                pinned = ""
            if not pinned:
                self._pin.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
                fd = os.open(self._pin, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
                with os.fdopen(fd, "w", encoding="utf-8") as out:
                    out.write(namespace_id + "\n")
                return None
        if pinned == namespace_id:
            return None
        return (
            f"this server does not sandbox its workers ({self._why}), so it runs the code of "
            "one namespace only; its operator can enable the sandbox (docs/sandbox.md) or set "
            "FLOWW_ALLOW_UNSANDBOXED=1 to run every namespace's code unseparated"
        )


def _within(path: str, parent: str) -> bool:
    return path == parent or path.startswith(parent.rstrip("/") + "/")


def _outermost(paths: Iterable[str]) -> tuple[str, ...]:
    """``paths`` without duplicates and without those inside another one."""
    kept: list[str] = []
    for path in sorted({os.path.normpath(p) for p in paths}):
        if not any(_within(path, k) for k in kept):
            kept.append(path)
    return tuple(kept)


def _dirs_for(path: str, made: set[str], bound: Sequence[str]) -> list[str]:
    """``--dir`` arguments (mode 0755) for the parents of ``path`` not made yet, outside what is
    bound already: bwrap would make them owner-only, which the unprivileged worker could not
    cross."""
    args: list[str] = []
    for parent in reversed(Path(path).parents):
        name = str(parent)
        if name in made or any(_within(name, b) for b in bound):
            continue
        made.add(name)
        args += ["--perms", "0755", "--dir", name]
    return args
