"""What a command needs to talk to a server: the server URL, credentials (``FLOWW_TOKEN``
first, then the stored ones, refreshed when they expire), a ``Platform`` and the
namespace to work in.

``CliEnv`` is everything a command takes from the outside world: the client-side adapters
(from the composition root), environment variables, the config directory, the HTTP transport,
the clock, and whether a person is at the terminal. ``floww.bootstrap.main`` builds it from the
process; tests hand their own to ``cli.main(obj=...)``.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import attrs
import click
import httpx

from floww.domain.errors import InvalidInput, NotFound, Unauthenticated
from floww.domain.model import Workflow
from floww.entrypoints.cli.project import find_project
from floww.entrypoints.cli.store import (
    ClientStore,
    StoredCredentials,
    default_config_dir,
    server_url,
)
from floww.entrypoints.cli.wiring import ClientAdapters, DeviceLogin
from floww.ports.identity import TokenSet

__all__ = ["DEFAULT_SERVER", "CliEnv", "Session", "current_env", "session"]

DEFAULT_SERVER = "http://127.0.0.1:8000"


@attrs.define
class CliEnv:
    adapters: ClientAdapters
    environ: Mapping[str, str]
    config_dir: Path
    cache_dir: Path
    transport: httpx.BaseTransport | None = None
    sleep: Callable[[float], None] = time.sleep
    now: Callable[[], float] = time.time
    interactive: bool = False
    open_browser: Callable[[str], bool] | None = None
    docker_available: Callable[[], bool] | None = None

    @classmethod
    def from_process(cls, adapters: ClientAdapters) -> CliEnv:
        environ = dict(os.environ)
        cache = environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
        return cls(
            adapters=adapters,
            environ=environ,
            config_dir=default_config_dir(environ),
            cache_dir=Path(cache) / "floww",
            interactive=sys.stdin.isatty() and sys.stdout.isatty(),
        )

    @property
    def store(self) -> ClientStore:
        return ClientStore(self.config_dir)

    def http(self) -> httpx.Client:
        return httpx.Client(transport=self.transport, timeout=httpx.Timeout(60.0, connect=10.0))


def current_env() -> CliEnv:
    ctx = click.get_current_context()
    root = ctx.find_root()
    if not isinstance(root.obj, CliEnv):
        raise click.UsageError(
            "this command line was started without its wiring; run the `floww` command"
        )
    return root.obj


class Session:
    """One server, as seen by one command. ``server`` is ``--server`` when given, else
    ``FLOWW_SERVER``, else the current server of ``config.json``, else the local default."""

    def __init__(self, env: CliEnv, server: str | None = None) -> None:
        self.env = env
        self.store = env.store
        self.server = server_url(
            server
            or env.environ.get("FLOWW_SERVER")
            or self.store.current_server()
            or DEFAULT_SERVER
        )
        self._http = env.http()
        self.api = env.adapters.api(self.server, self._http, self.token)
        self.platform = env.adapters.platform(self.server, self._http, self.token)

    @property
    def api_http(self) -> httpx.Client:
        """The HTTP client (for adapters that talk to the same server, like the registry)."""
        return self._http

    def close(self) -> None:
        self._http.close()

    # credentials ------------------------------------------------------------------------------

    @property
    def api_key(self) -> str | None:
        return self.env.environ.get("FLOWW_TOKEN") or None

    def token(self) -> str:
        """The bearer token: ``FLOWW_TOKEN``, else the stored one (refreshed when expired).
        ``Unauthenticated`` telling to log in when there is none."""
        if self.api_key:
            return self.api_key
        stored = self.store.credentials(self.server)
        if stored is None:
            raise Unauthenticated(f"not logged in to {self.server}; run `floww login`")
        if stored.expired(self.env.now()):
            if not stored.refresh_token:
                raise Unauthenticated(f"your session on {self.server} expired; run `floww login`")
            stored = self.refresh(stored.refresh_token)
        return stored.access_token

    def device_flow(self) -> DeviceLogin:
        auth_config = self.platform.config().get("auth") or {}
        return self.env.adapters.device_login(
            self.server,
            self._http,
            auth_config if isinstance(auth_config, dict) else {},
            self.env.sleep,
        )

    def refresh(self, refresh_token: str) -> StoredCredentials:
        try:
            tokens = self.device_flow().refresh(refresh_token)
        except Unauthenticated:
            raise Unauthenticated(
                f"your session on {self.server} expired; run `floww login`"
            ) from None
        return self.remember(tokens, previous_refresh=refresh_token)

    def remember(self, tokens: TokenSet, previous_refresh: str | None = None) -> StoredCredentials:
        stored = StoredCredentials(
            access_token=tokens.access_token,
            refresh_token=tokens.refresh_token or previous_refresh,
            expires_at=self.env.now() + tokens.expires_in if tokens.expires_in else None,
        )
        self.store.save_credentials(self.server, stored)
        return stored

    # namespaces -------------------------------------------------------------------------------

    def namespace(self, name: str | None = None) -> dict[str, Any]:
        """The namespace to work in: ``name`` if given, else the one selected for this server,
        else the only one the caller has. ``NotFound`` / ``InvalidInput`` say how to choose."""
        wanted = name or self.store.namespace(self.server)
        found = self.platform.list_namespaces()
        if wanted:
            for namespace in found:
                if wanted in (namespace.get("name"), namespace.get("id")):
                    return namespace
            raise NotFound("namespace", wanted)
        if len(found) == 1:
            return found[0]
        if not found:
            raise NotFound("namespace", "(any)")
        names = ", ".join(str(n.get("name")) for n in found)
        raise InvalidInput(
            f"you have several namespaces ({names}); run `floww namespace select NAME`"
        )

    def workflow(self, name: str | None, start: Path | None = None) -> Workflow:
        """The workflow named ``name`` in the current namespace, else the one of the project
        in ``start`` (or the working directory). ``NotFound`` when there is none."""
        if name:
            ns = self.namespace()
            found = self.platform.find_workflow(str(ns["id"]), name)
            if found is None:
                raise NotFound("workflow", name)
            return found
        project = find_project((start or Path.cwd()).resolve())
        if project.workflow_id:
            return self.platform.get_workflow(project.workflow_id)
        ns = self.namespace(project.namespace)
        found = self.platform.find_workflow(str(ns["id"]), project.name)
        if found is None:
            raise NotFound("workflow", project.name)
        return found


def session(server: str | None = None) -> Session:
    """The session of the running command; closed when the command ends."""
    ctx = click.get_current_context()
    made = Session(current_env(), server)
    ctx.call_on_close(made.close)
    return made
