"""The real Starlette app over the in-memory adapters (and a local OCI store under tmp_path),
reached by the CLI through a transport: no sockets, no patching."""

from __future__ import annotations

import secrets
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import attrs
import pytest
from click.testing import CliRunner, Result
from starlette.testclient import TestClient

from floww.adapters.local.image_registry import LocalImageRegistry
from floww.adapters.memory import (
    FakeImageBuilder,
    InMemoryIdentity,
    InMemoryPlatformTokens,
    InMemorySecretBox,
    InMemoryWorkflowRepo,
    ManualClock,
)
from floww.bootstrap import client_adapters, http_services, memory_adapters, server_deps
from floww.domain.errors import Unauthenticated
from floww.domain.model import Principal, RuntimeTarget
from floww.domain.usecases.deps import ServerSettings
from floww.domain.usecases.workflows import create_namespace
from floww.entrypoints.cli.main import cli
from floww.entrypoints.cli.session import CliEnv
from floww.entrypoints.http.app import create_app
from floww.ports.identity import TokenSet
from floww.settings import Settings
from tests.support import EXAMPLES

SERVER = "http://floww.test"
TARGET = RuntimeTarget("linux/amd64", "3.12")
EXAMPLE = EXAMPLES / "hello"


@attrs.define
class Refresher:
    """The refresh grant over ``InMemoryIdentity``: refresh tokens are remembered here."""

    auth: InMemoryIdentity
    users: dict[str, Principal] = attrs.field(factory=dict)
    lock: threading.Lock = attrs.field(factory=threading.Lock)

    def issue(self, user: Principal, ttl: int = 3600) -> TokenSet:
        refresh = f"rt_{secrets.token_urlsafe(16)}"
        with self.lock:
            self.users[refresh] = user
        return TokenSet(self.auth.issue_token(user, ttl), ttl, refresh)

    def __call__(self, refresh_token: str) -> TokenSet:
        with self.lock:
            user = self.users.pop(refresh_token, None)
        if user is None:
            raise Unauthenticated("unknown refresh token")
        return self.issue(user)


@attrs.define
class World:
    tmp: Path
    clock: ManualClock
    auth: InMemoryIdentity
    repo: InMemoryWorkflowRepo
    registry: LocalImageRegistry
    refresher: Refresher
    client: TestClient
    user: Principal
    namespace_id: str
    builder: FakeImageBuilder = attrs.field(factory=FakeImageBuilder)
    browser_opened: list[str] = attrs.field(factory=list)
    env_vars: dict[str, str] = attrs.field(factory=dict)
    approve_on_browser: bool = True
    interactive: bool = False

    @property
    def config_dir(self) -> Path:
        return self.tmp / "config" / "floww"

    def login(self) -> None:
        """Store credentials for SERVER as `floww login` would."""
        result = self.run("login", "--server", SERVER)
        assert result.exit_code == 0, result.output

    def _open_browser(self, url: str) -> bool:
        self.browser_opened.append(url)
        if self.approve_on_browser:
            self.auth.approve_device(url.rsplit("user_code=", 1)[1], self.user)
        return True

    def _sleep(self, seconds: float) -> None:
        self.clock.advance(seconds)

    def env(self) -> CliEnv:
        return CliEnv(
            environ=dict(self.env_vars),
            config_dir=self.config_dir,
            cache_dir=self.tmp / "cache",
            transport=self.client._transport,  # the TestClient's in-process ASGI transport
            sleep=self._sleep,
            now=lambda: self.clock.now().timestamp(),
            interactive=self.interactive,
            open_browser=self._open_browser,
            adapters=client_adapters(pip_builder=lambda _, **__: self.builder),
            docker_available=lambda: False,
        )

    def run(self, *args: str, input: str | None = None, cwd: Path | None = None) -> Result:
        runner = CliRunner()
        if cwd is None:
            return runner.invoke(cli, list(args), obj=self.env(), input=input)
        with _chdir(cwd):
            return runner.invoke(cli, list(args), obj=self.env(), input=input)

    def run_raw(self, *args: str) -> Any:
        """The command with ``standalone_mode=False``: its exception propagates."""
        return cli.main(list(args), obj=self.env(), standalone_mode=False)

    def manifests(self) -> list[Path]:
        return sorted(p for p in (self.tmp / "registry").rglob("*") if p.is_file())


class _chdir:
    def __init__(self, path: Path) -> None:
        self.path = path

    def __enter__(self) -> None:
        import os

        self.before = Path.cwd()
        os.chdir(self.path)

    def __exit__(self, *_: object) -> None:
        import os

        os.chdir(self.before)


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    clock = ManualClock(datetime(2026, 1, 1, tzinfo=UTC))
    auth = InMemoryIdentity(clock, verification_uri=f"{SERVER}/device")
    repo = InMemoryWorkflowRepo(InMemorySecretBox())
    tokens = InMemoryPlatformTokens(clock)
    registry = LocalImageRegistry(
        tmp_path / "registry",
        registry_host="floww.test",
        issue_push_token=lambda ns, repository, ttl: tokens.issue_registry_token(
            namespace_id=ns, repository=repository, ttl_seconds=ttl
        ),
    )
    refresher = Refresher(auth)
    settings = ServerSettings(base_url=SERVER, response_deadline_s=5)
    adapters = attrs.evolve(
        memory_adapters(clock=clock),
        identity=auth,
        users=auth,
        tokens=tokens,
        api_keys=None,
        repo=repo,
        registry=registry,
        registry_storage=registry,
        refresh_tokens=refresher,
        runtime_target=TARGET,
    )
    with ThreadPoolExecutor(4) as executor:
        deps = server_deps(adapters, settings, executor)
        services = http_services(
            Settings(home=tmp_path / "home", public_url=SERVER), adapters, deps
        )
        client = TestClient(create_app(services), base_url=SERVER)
        user = auth.create_user("ada@example.com", admin=True)
        namespace = create_namespace(deps, user, "default")
        yield World(tmp_path, clock, auth, repo, registry, refresher, client, user, namespace.id)


def hello_project(world: World, name: str = "hello") -> Path:
    """examples/hello copied into a project made by `floww init`."""
    directory = world.tmp / name
    result = world.run("init", str(directory), "--name", name, "--yes")
    assert result.exit_code == 0, result.output
    (directory / "main.py").write_text((EXAMPLE / "main.py").read_text())
    return directory
