"""How a server's local workers are kept apart, chosen at start.

``local_function_host`` builds the ``LocalFunctionHost`` of a server: with a bubblewrap
sandbox (``floww.adapters.local.sandbox``) when the mode asks for one and this machine can run
it (then with its network: ``floww.adapters.local.uplink``), otherwise unsandboxed, and then
admitting one namespace only unless the operator accepted the risk. It also returns the
sentence the server prints at start about it.

Modes: ``auto`` sandboxes when bubblewrap works here; ``bwrap`` requires it (``InvalidInput``
when it cannot run, naming why); ``off`` never sandboxes.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from floww.adapters.local.egress_proxy import EgressProxy
from floww.adapters.local.egress_rules import EgressRules
from floww.adapters.local.function_host import LocalFunctionHost
from floww.adapters.local.sandbox import BwrapSandbox, OneNamespace, SandboxLimits, probe_bwrap
from floww.adapters.local.uplink import SandboxNetwork
from floww.domain.errors import InvalidInput
from floww.ports.image_registry import ImageRegistry

__all__ = ["SANDBOX_MODES", "local_function_host"]

SANDBOX_MODES = ("auto", "bwrap", "off")


def local_function_host(
    registry: ImageRegistry,
    home: Path,
    *,
    mode: str,
    limits: SandboxLimits,
    allow_unsandboxed: bool,
    workers_per_runtime: int,
    fallback_path: Sequence[str],
    api_address: tuple[str, int],
    egress: EgressRules | None = None,
) -> tuple[LocalFunctionHost, str]:
    """The host whose workers run the runtimes unpacked under ``home / "runtimes"``, and what
    to tell the operator about their isolation. Sandboxed workers reach the floww API at
    ``api_address`` (where the server listens) and the internet through the egress proxy
    under ``egress``."""
    if mode not in SANDBOX_MODES:
        raise InvalidInput(f"FLOWW_SANDBOX must be one of {', '.join(SANDBOX_MODES)}")
    cache = home / "runtimes"

    def host(
        sandbox: BwrapSandbox | None = None, admit: OneNamespace | None = None
    ) -> LocalFunctionHost:
        return LocalFunctionHost(
            registry,
            cache,
            workers_per_runtime=workers_per_runtime,
            fallback_path=fallback_path,
            sandbox=sandbox,
            network=None if sandbox is None else SandboxNetwork(api_address, EgressProxy(rules)),
            admit=admit,
        )

    rules = egress or EgressRules()

    why = "FLOWW_SANDBOX=off"
    if mode != "off":
        sandbox = BwrapSandbox.for_python(
            sys.executable,
            import_path=fallback_path,
            hidden=[home],
            limits=limits,
        )
        problem = probe_bwrap(sandbox)
        if problem is None:
            return host(sandbox), (
                f"Workers run sandboxed (bubblewrap; {limits.describe()}), each in a network "
                "of its own: they reach the floww API and, through its egress proxy, public "
                f"internet addresses (also allowed: {rules.describe()})."
            )
        if mode == "bwrap":
            raise InvalidInput(
                f"FLOWW_SANDBOX=bwrap but workers cannot be sandboxed here: {problem}; "
                "fix that, or set FLOWW_SANDBOX=auto to run without the sandbox"
            )
        why = problem
    if allow_unsandboxed:
        return host(), (
            f"WARNING: workers are NOT sandboxed ({why}); FLOWW_ALLOW_UNSANDBOXED=1 lets every "
            "namespace's code run unseparated, as this server's user."
        )
    return host(admit=OneNamespace(cache / "only-namespace", why)), (
        f"WARNING: workers are NOT sandboxed ({why}); this server runs the code of one "
        "namespace only (set FLOWW_ALLOW_UNSANDBOXED=1 to accept the risk of more)."
    )
