"""The composition root: settings -> adapters -> use cases -> the HTTP app.

This is the one place that knows which adapter serves which port; tests swap adapters here
(or build ``ServerDeps`` from fakes directly). The embedded profile: SQLite (or PostgreSQL by
URL), a local OCI registry served at ``/v2/``, warm local worker processes, the realtime hub
inside the server and local accounts.
"""

from __future__ import annotations

import os
import secrets
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import attrs
from dependency_injector import containers, providers
from starlette.applications import Starlette

import floww
from floww.adapters.local.auth import LocalAuth
from floww.adapters.local.dispatcher import ThreadDispatcher
from floww.adapters.local.function_host import LocalFunctionHost
from floww.adapters.local.image_builder import embedded_target
from floww.adapters.local.image_registry import LocalImageRegistry
from floww.adapters.local.realtime import LocalRealtimeHub
from floww.adapters.local.secret_box import AesGcmSecretBox
from floww.adapters.memory import InMemoryFunctionHost, InMemoryReplies, RandomIds, SystemClock
from floww.adapters.sql import SqlWorkflowRepo, make_engine, migrate
from floww.domain.errors import Unauthenticated
from floww.domain.model import Principal
from floww.domain.usecases.access import authorize_registry, may_subscribe
from floww.domain.usecases.deps import ServerDeps, ServerSettings
from floww.domain.usecases.workflows import create_namespace
from floww.entrypoints.http.app import HttpServices, create_app
from floww.entrypoints.http.realtime import realtime_route
from floww.entrypoints.http.registry import registry_routes, token_from_authorization
from floww.entrypoints.leases import LeaseKeeper
from floww.entrypoints.scheduler import CronScheduler
from floww.sdk.catalog import fields_for, provider_types
from floww.settings import Settings

__all__ = ["ADMIN_EMAIL", "Server", "ServerContainer", "build_server"]

ADMIN_EMAIL = "admin@localhost"


def _floww_source_root() -> str:
    return str(Path(floww.__file__).resolve().parent.parent)


def _server_settings(settings: Settings) -> ServerSettings:
    return ServerSettings(
        base_url=settings.base_url,
        response_deadline_s=settings.response_deadline_s,
        execution_timeout_s=settings.execution_timeout_s,
        max_body_bytes=settings.max_body_bytes,
        lease_ttl_s=settings.lease_ttl_s,
    )


class ServerContainer(containers.DeclarativeContainer):
    settings = providers.Dependency(instance_of=Settings)

    clock = providers.Singleton(SystemClock)
    ids = providers.Singleton(RandomIds)
    executor = providers.Singleton(ThreadPoolExecutor, max_workers=32, thread_name_prefix="floww")
    dispatcher = providers.Singleton(
        ThreadDispatcher,
        concurrency=settings.provided.concurrency_per_workflow,
        queue_limit=settings.provided.queue_per_workflow,
    )
    secret_box = providers.Singleton(
        AesGcmSecretBox.from_home, settings.provided.home, production=settings.provided.production
    )
    engine = providers.Singleton(make_engine, settings.provided.db_url)
    repo = providers.Singleton(SqlWorkflowRepo, engine, secret_box)
    auth = providers.Singleton(
        LocalAuth,
        settings.provided.home,
        clock,
        verification_uri=providers.Callable(lambda s: f"{s.base_url}/device", settings),
        production=settings.provided.production,
    )
    registry = providers.Singleton(
        LocalImageRegistry,
        providers.Callable(lambda s: s.home / "registry", settings),
        registry_host=providers.Callable(lambda s: s.base_url.split("://", 1)[-1], settings),
        issue_push_token=providers.Callable(
            lambda a: (
                lambda ns, repo, ttl: a.issue_registry_token(
                    namespace_id=ns, repository=repo, ttl_seconds=ttl
                )
            ),
            auth,
        ),
    )
    host = providers.Selector(
        settings.provided.function_host,
        local=providers.Singleton(
            LocalFunctionHost,
            registry,
            providers.Callable(lambda s: s.home / "runtimes", settings),
            workers_per_runtime=providers.Callable(
                lambda s: max(s.workers_per_runtime, s.concurrency_per_workflow), settings
            ),
            fallback_path=providers.Callable(lambda: [_floww_source_root()]),
        ),
        memory=providers.Singleton(InMemoryFunctionHost, registry=registry),
    )
    realtime = providers.Singleton(LocalRealtimeHub)
    replies = providers.Singleton(InMemoryReplies)
    deps = providers.Singleton(
        ServerDeps,
        repo=repo,
        host=host,
        realtime=realtime,
        replies=replies,
        auth=auth,
        clock=clock,
        ids=ids,
        executor=executor,
        dispatcher=dispatcher,
        settings=providers.Callable(_server_settings, settings),
        owner_id=providers.Callable(lambda ids: ids.new_id("srv"), ids),
    )


@attrs.define
class Server:
    settings: Settings
    container: ServerContainer
    deps: ServerDeps
    app: Starlette
    scheduler: CronScheduler
    leases: LeaseKeeper
    first_start: dict[str, str] | None = None

    def close(self) -> None:
        self.scheduler.stop()
        self.leases.stop()
        self.container.dispatcher().close()
        self.leases.release()  # before the workers stop: what runs now is interrupted
        host: Any = self.deps.host
        if hasattr(host, "close"):
            host.close()
        executor: Any = self.deps.executor
        executor.shutdown(wait=False, cancel_futures=True)


def _ensure_admin(deps: ServerDeps, auth: LocalAuth, home: Path) -> dict[str, str] | None:
    """On first start: an admin account and its ``default`` namespace. The password goes to a
    file only its owner can read, never to the console or a log."""
    if auth.has_users():
        return None
    password = secrets.token_urlsafe(16)
    admin = auth.create_user(ADMIN_EMAIL, password)
    namespace = create_namespace(deps, admin, "default")
    password_file = home / "initial-admin-password"
    fd = os.open(password_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(password + "\n")
    return {"email": ADMIN_EMAIL, "password_file": str(password_file), "namespace": namespace.name}


def build_server(settings: Settings) -> Server:
    """Everything a ``floww serve`` process runs, wired. Applies database migrations."""
    settings.home.mkdir(parents=True, exist_ok=True)
    # The database holds webhook bodies, logs and KV values in the clear: owner only.
    settings.home.chmod(0o700)
    container = ServerContainer(settings=settings)
    migrate(container.engine())
    deps: ServerDeps = container.deps()
    auth: LocalAuth = container.auth()

    def authorize(header: str | None, repository: str, action: str) -> None:
        token = token_from_authorization(header)
        if token is None:
            raise Unauthenticated("use a bearer token, or basic auth with the token as password")
        principal = auth.verify(token)
        if repository:  # an empty repository asks only whether the credentials are good
            authorize_registry(deps.repo, principal, repository, action)

    def subscribe_allowed(principal: Principal, channel: str) -> bool:
        return may_subscribe(deps.repo, principal, channel)

    realtime_path = "/connection/websocket"
    ws_base = settings.base_url.replace("http://", "ws://").replace("https://", "wss://")
    services = HttpServices(
        deps=deps,
        provider_types=lambda: {name: fields_for(name) for name in provider_types()},
        fields_for=fields_for,
        runtime_target=embedded_target(),
        public_config={
            "realtime_url": f"{ws_base}{realtime_path}",
            "registry_host": settings.base_url.split("://", 1)[-1],
            "auth_provider": "local",
        },
        password_login=auth.check_password,
        registry=container.registry(),
        refresh_tokens=auth.refresh,
        api_keys=auth,
        extra_routes=[
            *registry_routes(container.registry(), authorize),
            realtime_route(
                container.realtime(),
                authenticate=auth.verify,
                may_subscribe=subscribe_allowed,
                path=realtime_path,
            ),
        ],
    )
    app = create_app(services)
    first = _ensure_admin(deps, auth, settings.home)
    scheduler = CronScheduler(deps, interval=settings.cron_interval_s)
    return Server(settings, container, deps, app, scheduler, LeaseKeeper(deps), first)
