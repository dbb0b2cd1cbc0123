"""Running ``pip install --target`` for a runtime target and translating its failures.

A target is either the embedded host (``LOCAL_PLATFORM``: the machine's own interpreter, no
``--platform``) or an OCI platform with manylinux wheels (``linux/amd64``, ``linux/arm64``).
pip's merged output is relayed as progress lines; a failed run becomes one domain error that
names what could not be installed and what to do about it.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

from floww.domain.errors import FlowwError, InvalidInput, Unavailable
from floww.domain.model import RuntimeTarget

__all__ = [
    "ARCHES",
    "LOCAL_PLATFORM",
    "PROJECT_NAME",
    "describe_target",
    "embedded_target",
    "pip_error",
    "pip_install_args",
    "pip_platform_tags",
    "run_pip",
]

LOCAL_PLATFORM = "local"
# OCI architecture names by the spellings machines and platforms use.
ARCHES = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}
# The leading project name of a requirement line.
PROJECT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*")
_MANYLINUX_ARCH = {"amd64": "x86_64", "arm64": "aarch64"}


def embedded_target() -> RuntimeTarget:
    """The target of the embedded function host: the host's own interpreter, no base image."""
    return RuntimeTarget(
        platform=LOCAL_PLATFORM, python_version=f"{sys.version_info[0]}.{sys.version_info[1]}"
    )


def pip_platform_tags(platform: str) -> list[str]:
    """pip ``--platform`` values for an OCI platform such as ``linux/amd64`` or
    ``linux/arm64``: manylinux2014 (glibc 2.17), which pip widens to older manylinux tags.
    Raises ``InvalidInput`` for platforms without manylinux wheels."""
    os_name, _, rest = platform.partition("/")
    arch = ARCHES.get(rest.partition("/")[0], "")
    if os_name != "linux" or arch not in _MANYLINUX_ARCH:
        raise InvalidInput(
            f"cannot build a runtime image for platform {platform!r}: "
            "supported platforms are linux/amd64 and linux/arm64"
        )
    return [f"manylinux2014_{_MANYLINUX_ARCH[arch]}"]


_NETWORK_TROUBLE = (
    *("NewConnectionError", "Failed to establish a new connection", "Connection refused"),
    *("Temporary failure in name resolution", "Name or service not known", "ProxyError"),
    *("ConnectTimeoutError", "ReadTimeoutError", "Network is unreachable", "SSLError"),
)


def pip_install_args(site: Path, packages: Sequence[str], target: RuntimeTarget) -> list[str]:
    """The arguments after ``pip``: install ``packages`` into ``site`` for ``target`` (the
    embedded target installs for the host interpreter, without ``--platform``)."""
    args = ["install", "--target", str(site), "--only-binary=:all:", "--no-compile"]
    args += ["--disable-pip-version-check", "--no-input", "--progress-bar", "off"]
    if target.platform != LOCAL_PLATFORM:
        for tag in pip_platform_tags(target.platform):
            args += ["--platform", tag]
        args += ["--python-version", target.python_version, "--implementation", "cp"]
    elif target.python_version != embedded_target().python_version:
        args += ["--python-version", target.python_version]
    return [*args, *packages]


def run_pip(
    args: list[str], report: Callable[[str], None], timeout: float
) -> tuple[list[str], int]:
    """Run pip, relaying progress: its merged output lines and exit code. ``Unavailable``
    when pip cannot start or outlives ``timeout``."""
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "PIP_NO_INPUT": "1"}
    try:
        process = subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
        )
    except OSError as exc:
        raise Unavailable(f"cannot run pip ({args[0]}): {exc.strerror or exc}") from exc
    expired = threading.Event()

    def expire() -> None:
        expired.set()
        process.kill()

    timer = threading.Timer(timeout, expire)
    timer.start()
    lines: list[str] = []
    try:
        for raw in process.stdout or ():
            lines.append(line := raw.rstrip())
            if line.startswith("Collecting "):
                report(f"collecting {line.removeprefix('Collecting ').strip()}")
            elif line.startswith("Installing collected packages:"):
                report(f"installing {len(line.partition(':')[2].split(','))} packages")
        code = process.wait()
    finally:
        timer.cancel()
        if process.stdout:
            process.stdout.close()
    if expired.is_set():
        raise Unavailable(f"pip did not finish within {timeout:.0f} seconds")
    return lines, code


def describe_target(target: RuntimeTarget) -> str:
    if target.platform == LOCAL_PLATFORM:
        return f"this machine (Python {target.python_version})"
    return f"{target.platform}/Python {target.python_version}"


def pip_error(lines: Sequence[str], target: RuntimeTarget) -> FlowwError:
    """The domain error for the output of a failed ``pip install``: ``Unavailable`` when the
    index could not be reached (connection trouble and no versions seen), otherwise
    ``InvalidInput`` naming what could not be installed for ``target`` and what to do."""
    text = "\n".join(lines)
    errors = [line.removeprefix("ERROR: ") for line in lines if line.startswith("ERROR:")]
    detail = errors[-1] if errors else (lines[-1] if lines else "pip failed without output")
    missing = re.search(r"No matching distribution found for (\S+)", text) or re.search(
        r"satisfies the requirement (\S+)", text
    )
    trouble = [line for line in lines if any(m in line for m in _NETWORK_TROUBLE)]
    if trouble and (not missing or "(from versions: none)" in text):
        return Unavailable(f"the package index cannot be reached: {trouble[0].strip()[:300]}")
    where = describe_target(target)
    if missing:
        name = missing.group(1)
        project = PROJECT_NAME.match(name)
        return InvalidInput(
            f"cannot install {name} for {where}: {detail}. Pin a version of "
            f"{project.group(0) if project else name} that "
            f"publishes wheels for {where} (only binary wheels are installed), or drop it.",
            requirement=name,
        )
    if "conflicting dependencies" in text or "ResolutionImpossible" in text:
        causes = _conflict_causes(lines)
        return InvalidInput(
            f"the requirements conflict for {where}: {'; '.join(causes) or detail}. "
            "Loosen or align the pins named here.",
        )
    return InvalidInput(f"pip cannot install the requirements for {where}: {detail}")


def _conflict_causes(lines: Sequence[str]) -> list[str]:
    causes: list[str] = []
    collecting = False
    for line in lines:
        if line.strip().startswith("The conflict is caused by"):
            collecting = True
        elif collecting and line.strip():
            if line.strip().startswith(("To fix this", "Additionally", "ERROR")):
                break
            causes.append(line.strip())
    return causes
