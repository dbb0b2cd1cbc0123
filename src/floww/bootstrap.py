"""The composition root: settings -> adapters -> use cases -> the HTTP app and the CLI.

This is the only module that imports adapters (an import contract checks it; ``floww.testing``
may reach the in-memory ones). It builds

- the server's adapters from a profile (``Settings.profile``): ``embedded`` (SQLite or
  PostgreSQL, the local OCI store at ``/v2/``, warm local workers, the realtime hub inside the
  server, local accounts), ``memory`` (the in-memory fakes, for tests and embedding) and
  ``cloud`` (a slot: WorkOS, Centrifugo, ECR and Lambda plug in here);
- the server's use-case dependencies (``ServerDeps``) and its HTTP app from those adapters;
- the client's adapters (``ClientAdapters``) that the CLI's commands use.

Tests build through the same functions and swap what they need: ``server_adapters(settings,
repo=...)`` or ``memory_adapters(...)``. See ``docs/architecture.md`` ("Profiles").
"""

from __future__ import annotations

import functools
import gc
import os
import secrets
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import Any, cast

import attrs
import httpx
from starlette.routing import BaseRoute

import floww
from floww.adapters.aws.ecr import EcrImageRegistry, ecr_client, ecr_repository
from floww.adapters.aws.lambda_host import (
    HANDLER,
    LAMBDA_PLATFORM,
    LAMBDA_PYTHON,
    LambdaConfig,
    LambdaFunctionHost,
    lambda_client,
)
from floww.adapters.centrifugo import CentrifugoRealtime, HttpProxyCaller
from floww.adapters.http_client.client import ApiClient
from floww.adapters.http_client.device_login import DeviceFlowClient
from floww.adapters.http_client.platform import HttpPlatform
from floww.adapters.http_client.registry_upstream import BasicUpstream, proxied_registry
from floww.adapters.http_client.registry_v2 import RegistryV2Client
from floww.adapters.inprocess import (
    InProcessRunner,
    ProcessLimitStore,
    ProcessReplies,
    RandomIds,
    SystemClock,
)
from floww.adapters.local.dispatcher import ThreadDispatcher
from floww.adapters.local.docker_builder import DockerImageBuilder
from floww.adapters.local.egress_rules import EgressRules
from floww.adapters.local.function_host import LocalFunctionHost
from floww.adapters.local.hub import LocalRealtimeHub
from floww.adapters.local.identity import LocalAuth
from floww.adapters.local.image_builder import PipImageBuilder, embedded_target
from floww.adapters.local.image_registry import LocalImageRegistry
from floww.adapters.local.isolation import local_function_host
from floww.adapters.local.platform_tokens import LocalPlatformTokens
from floww.adapters.local.private_home import make_private
from floww.adapters.local.sandbox import SandboxLimits
from floww.adapters.local.secret_box import AesGcmSecretBox
from floww.adapters.memory import (
    InMemoryDevSessions,
    InMemoryFunctionHost,
    InMemoryIdentity,
    InMemoryImageRegistry,
    InMemoryPlatformTokens,
    InMemorySecretBox,
    InMemoryWorkflowRepo,
)
from floww.adapters.prometheus import CONTENT_TYPE, CountingRepo, PlatformMetrics
from floww.adapters.provider_hooks import RestProviderHooks
from floww.adapters.sql import SqlWorkflowRepo, make_engine, migrate
from floww.adapters.sql.dev_sessions import SqlDevSessions
from floww.adapters.sql.device_logins import SqlDeviceLogins
from floww.adapters.sql.logins import SqlLogins
from floww.adapters.sql.notify import PgNotifications
from floww.adapters.sql.realtime_fanout import PgFanOutRealtime
from floww.adapters.sql.replies import SqlReplies
from floww.adapters.workos import (
    WorkOSBrowserSignIn,
    WorkOSDirectory,
    WorkOSIdentity,
    WorkOSTokenVerifier,
)
from floww.domain.errors import InvalidInput, Unauthenticated
from floww.domain.model import Principal, RuntimeTarget
from floww.domain.rate_limits import TokenBucket
from floww.domain.usecases.access import authorize_registry, may_subscribe
from floww.domain.usecases.authentication import authenticate
from floww.domain.usecases.deps import ServerDeps, ServerSettings
from floww.domain.usecases.provisioning import sync_memberships
from floww.domain.usecases.retention import RetentionPolicy
from floww.domain.usecases.workflows import create_namespace
from floww.entrypoints.cli.main import cli
from floww.entrypoints.cli.session import CliEnv
from floww.entrypoints.cli.wiring import ClientAdapters, DockerBuilder, JsonApi, TokenSource
from floww.entrypoints.http.app import HttpServices, create_app
from floww.entrypoints.http.centrifuge_edge import realtime_route
from floww.entrypoints.http.centrifugo_api import server_api_routes
from floww.entrypoints.http.centrifugo_proxy import (
    CONNECT_PATH,
    RPC_PATH,
    SUBSCRIBE_PATH,
    proxy_routes,
)
from floww.entrypoints.http.dashboard import BrowserSignIn as DashboardSignIn
from floww.entrypoints.http.dashboard import HostedSignIn, PasswordSignIn, dashboard_routes
from floww.entrypoints.http.dev_rpc import dev_rpc_handlers
from floww.entrypoints.http.limits import EdgeGuard
from floww.entrypoints.http.metrics import WebhookAnswers, metrics_route
from floww.entrypoints.http.registry_proxy import proxy_routes as registry_proxy_routes
from floww.entrypoints.http.registry_v2 import registry_routes, token_from_authorization
from floww.entrypoints.http.signin import signin_routes
from floww.entrypoints.leases import LeaseKeeper
from floww.entrypoints.retention import RetentionSweeper
from floww.entrypoints.scheduler import CronScheduler
from floww.ports.api_keys import ApiKeys
from floww.ports.browser_sign_in import BrowserSignIn
from floww.ports.dev_sessions import DevSessions
from floww.ports.dispatcher import Dispatcher
from floww.ports.function_host import FunctionHost
from floww.ports.identity import Identity, TokenSet
from floww.ports.image_registry import ImageRegistry, RegistryCredentials
from floww.ports.limit_store import LimitStore
from floww.ports.provider_hooks import ProviderHooks
from floww.ports.realtime import DEV_REPLY_RPC, Realtime, RealtimeHub
from floww.ports.registry_storage import RegistryStorage
from floww.ports.registry_upstream import RegistryUpstream
from floww.ports.replies import Replies
from floww.ports.support import Clock, IdGenerator
from floww.ports.tokens import PlatformTokens
from floww.ports.users import Users
from floww.ports.workflow_repo import WorkflowRepo
from floww.sdk.catalog import fields_for, provider_types
from floww.settings import Settings

__all__ = [
    "ADMIN_EMAIL",
    "REALTIME_PATH",
    "Server",
    "ServerAdapters",
    "build_server",
    "centrifugo_standin_app",
    "client_adapters",
    "embedded_adapters",
    "http_services",
    "main",
    "memory_adapters",
    "server_adapters",
    "server_deps",
]

ADMIN_EMAIL = "admin@localhost"
REALTIME_PATH = "/connection/websocket"

FirstStart = Callable[[ServerDeps], "dict[str, str] | None"]


def _no_first_start(deps: ServerDeps) -> dict[str, str] | None:
    return None


@attrs.frozen
class ServerAdapters:
    """One adapter per port, as a profile chose them.

    ``registry`` issues push credentials; ``registry_storage`` is what ``/v2/`` serves (none:
    no ``/v2/``). ``password_login`` backs the device approval page, ``refresh_tokens`` the
    refresh grant and ``api_keys`` the API-key routes, where the identity provider has them.
    ``first_start`` runs once the dependencies exist (the embedded admin account).
    ``limit_store`` keeps the edge's rate-limit counters (in this process by default).
    ``dispatcher`` runs executions: lanes and a bounded queue per workflow.
    ``published`` is what the use cases publish to when it is not the hub itself (replicas on
    one PostgreSQL fan publications out through the database to every replica's hub).
    ``notices`` are what the server says at start about how it runs (its workers' sandbox).
    ``provider_hooks`` registers provider webhooks at deploy (none: nothing is registered)."""

    repo: WorkflowRepo
    host: FunctionHost
    realtime: RealtimeHub
    replies: Replies
    dev_sessions: DevSessions
    identity: Identity
    tokens: PlatformTokens
    clock: Clock
    ids: IdGenerator
    runtime_target: RuntimeTarget
    registry: ImageRegistry | None = None
    registry_storage: RegistryStorage | None = None
    api_keys: ApiKeys | None = None
    users: Users | None = None
    password_login: Callable[[str, str], Principal] | None = None
    refresh_tokens: Callable[[str], TokenSet] | None = None
    auth_provider: str = "local"
    first_start: FirstStart = _no_first_start
    closers: Sequence[Callable[[], None]] = ()
    limit_store: LimitStore = attrs.field(factory=ProcessLimitStore)
    published: Realtime | None = None
    dispatcher: Dispatcher = attrs.field(factory=ThreadDispatcher)
    browser_sign_in: BrowserSignIn | None = None
    public_auth: dict[str, str] = attrs.field(factory=dict)
    registry_upstream: RegistryUpstream | None = None  # FLOWW_REGISTRY=proxy: /v2/ forwards
    notices: Sequence[str] = ()
    provider_hooks: ProviderHooks | None = None
    # how people sign in to the dashboard (none: no dashboard)
    dashboard_sign_in: DashboardSignIn | None = None


def _floww_source_root() -> str:
    return str(Path(floww.__file__).resolve().parent.parent)


def _registry_host(settings: Settings) -> str:
    return settings.base_url.split("://", 1)[-1]


# server: profiles -----------------------------------------------------------------------------


def embedded_adapters(settings: Settings) -> ServerAdapters:
    """The embedded profile under ``settings.home``. Applies database migrations."""
    # The database holds webhook bodies, logs and KV values in the clear: owner only, as is
    # everything else under the home (keys, registry, runtimes).
    make_private(settings.home)
    clock = SystemClock()
    engine = make_engine(settings.db_url)
    migrate(engine)
    box = AesGcmSecretBox.from_home(settings.home, production=settings.production)
    identity = LocalAuth(
        settings.home,
        clock,
        verification_uri=f"{settings.base_url}/device",
        production=settings.production,
        device_logins=SqlDeviceLogins(engine),
        logins=SqlLogins(engine),
    )
    # Replicas on one PostgreSQL share dev replies and realtime through it; SQLite is one
    # process, so they stay in it there.
    hub = LocalRealtimeHub()
    notifications = PgNotifications(engine) if engine.dialect.name == "postgresql" else None
    replies: Replies = ProcessReplies()
    published: Realtime | None = None
    closers: tuple[Callable[[], None], ...] = (engine.dispose,)
    if notifications is not None:
        replies = SqlReplies(engine, notifications)
        published = PgFanOutRealtime(hub, engine, notifications, box)
        closers = (notifications.close, engine.dispose)
    tokens = LocalPlatformTokens(settings.home, clock, production=settings.production)
    local_registry = LocalImageRegistry(
        settings.home / "registry",
        registry_host=_registry_host(settings),
        issue_push_token=lambda ns, repo, ttl: tokens.issue_registry_token(
            namespace_id=ns, repository=repo, ttl_seconds=ttl
        ),
    )
    registry: ImageRegistry = local_registry
    upstream: RegistryUpstream | None = None
    if settings.registry == "proxy":
        registry, upstream, close_proxy = _registry_proxy(settings, clock, tokens)
        closers = (*closers, close_proxy)
    host: FunctionHost
    notices: tuple[str, ...] = ()
    if settings.function_host == "memory":
        host = InMemoryFunctionHost(registry=registry)
    elif settings.function_host == "lambda":
        host = _lambda_host(settings)
    else:
        host, notice = local_function_host(
            registry,
            settings.home,
            mode=settings.sandbox,
            limits=_sandbox_limits(settings),
            allow_unsandboxed=settings.allow_unsandboxed,
            workers_per_runtime=max(
                settings.workers_per_runtime, settings.concurrency_per_workflow
            ),
            fallback_path=[_floww_source_root()],
            api_address=(settings.host, settings.port),
            egress=EgressRules.parse(settings.sandbox_egress_allow),
        )
        notices = (notice,)

    def first_start(deps: ServerDeps) -> dict[str, str] | None:
        return _ensure_admin(deps, identity, settings.home)

    return ServerAdapters(
        repo=SqlWorkflowRepo(engine, box, durable=settings.pg_synchronous_commit),
        host=host,
        realtime=hub,
        published=published,
        replies=replies,
        dev_sessions=SqlDevSessions(engine, notifications),
        identity=identity,
        tokens=tokens,
        clock=clock,
        ids=RandomIds(),
        runtime_target=_lambda_target(settings)
        if settings.function_host == "lambda"
        else embedded_target(),
        registry=registry,
        registry_storage=local_registry if upstream is None else None,
        registry_upstream=upstream,
        api_keys=identity,
        users=identity,
        password_login=identity.check_password,
        refresh_tokens=identity.refresh,
        dashboard_sign_in=PasswordSignIn(identity.check_password, identity.issue_token),
        first_start=first_start,
        closers=closers,
        notices=notices,
        dispatcher=ThreadDispatcher(
            concurrency=settings.concurrency_per_workflow,
            queue_limit=settings.queue_per_workflow,
        ),
    )


def _registry_proxy(
    settings: Settings, clock: Clock, tokens: LocalPlatformTokens
) -> tuple[ImageRegistry, RegistryUpstream, Callable[[], None]]:
    """``FLOWW_REGISTRY=proxy``: the upstream ``/v2/`` forwards to (ECR or a v2 server with
    Basic credentials), the server's ``ImageRegistry`` over it, and what closes them."""

    def issue(namespace_id: str, repository: str, ttl: int) -> str:
        return tokens.issue_registry_token(
            namespace_id=namespace_id, repository=repository, ttl_seconds=ttl
        )

    http = httpx.Client(timeout=60)
    if settings.registry_upstream_auth == "ecr":
        ecr = EcrImageRegistry(
            ecr_client(settings.ecr_region, endpoint_url=settings.ecr_endpoint_url),
            clock=clock,
            registry_host=_registry_host(settings),
            issue_push_token=issue,
            http=http,
            repository_prefix=settings.ecr_repository_prefix,
            scan_on_push=settings.ecr_scan_on_push,
            upstream_url=settings.registry_upstream_url,
        )
        return ecr, ecr, http.close
    upstream = BasicUpstream(
        settings.registry_upstream_url,
        username=settings.registry_upstream_username,
        password=settings.registry_upstream_password,
    )
    registry = proxied_registry(
        settings.registry_upstream_url,
        username=settings.registry_upstream_username,
        password=settings.registry_upstream_password,
        registry_host=_registry_host(settings),
        issue_push_token=issue,
        http=http,
    )
    return registry, upstream, http.close


def _lambda_host(settings: Settings) -> FunctionHost:
    """AWS Lambda as the function host (``FLOWW_FUNCTION_HOST=lambda``, docs/cloud-functions.md)."""
    config = LambdaConfig(
        role_arn=settings.lambda_role_arn,
        image_prefix=settings.lambda_image_prefix,
        memory_mb=settings.lambda_memory_mb,
        timeout_s=settings.lambda_timeout_s,
        ephemeral_storage_mb=settings.lambda_ephemeral_storage_mb,
        function_prefix=settings.lambda_function_prefix,
        # Images pushed through the proxy into ECR live under ECR's repository names.
        repository=functools.partial(ecr_repository, settings.ecr_repository_prefix)
        if settings.registry == "proxy" and settings.registry_upstream_auth == "ecr"
        else None,
    )
    client = lambda_client(
        settings.lambda_region,
        endpoint_url=settings.lambda_endpoint_url,
        timeout_s=settings.lambda_timeout_s,
    )
    return LambdaFunctionHost(client, config)


def _lambda_target(settings: Settings) -> RuntimeTarget:
    return RuntimeTarget(
        LAMBDA_PLATFORM, LAMBDA_PYTHON, base_image=settings.lambda_base_image, handler=HANDLER
    )


def _sandbox_limits(settings: Settings) -> SandboxLimits:
    return SandboxLimits(
        memory_mb=settings.sandbox_memory_mb,
        cpu_s=settings.sandbox_cpu_s,
        processes=settings.sandbox_processes,
        open_files=settings.sandbox_open_files,
        tmp_mb=settings.sandbox_tmp_mb,
    )


def memory_adapters(
    *, clock: Clock | None = None, verification_uri: str = "http://127.0.0.1:8000/device"
) -> ServerAdapters:
    """The in-memory fakes: nothing touches the disk or the network; a process's state ends
    with it. For tests and for embedding floww in another program."""
    clock = clock if clock is not None else SystemClock()
    identity = InMemoryIdentity(clock, verification_uri=verification_uri)
    return ServerAdapters(
        repo=InMemoryWorkflowRepo(InMemorySecretBox()),
        host=InMemoryFunctionHost(),
        realtime=LocalRealtimeHub(),
        replies=ProcessReplies(),
        dev_sessions=InMemoryDevSessions(),
        identity=identity,
        tokens=InMemoryPlatformTokens(clock),
        clock=clock,
        ids=RandomIds(),
        runtime_target=embedded_target(),
        registry=InMemoryImageRegistry(),
        api_keys=identity,
        users=identity,
        auth_provider="memory",
    )


def server_adapters(settings: Settings, **replace: Any) -> ServerAdapters:
    """The adapters of ``settings.profile``, with any of them replaced by keyword (tests pass
    fakes here: ``server_adapters(settings, repo=InMemoryWorkflowRepo())``)."""
    if settings.profile in ("embedded", "cloud"):
        # The cloud profile is the embedded one with every component's cloud choice, which
        # ``Settings`` made (WorkOS, Centrifugo, the registry proxy, Lambda; PostgreSQL).
        adapters = embedded_adapters(settings)
    elif settings.profile == "memory":
        adapters = memory_adapters(verification_uri=f"{settings.base_url}/device")
    else:
        raise InvalidInput(f"unknown profile {settings.profile!r}", field="profile")
    if settings.realtime == "centrifugo":
        # Centrifugo carries live events to every replica's clients: no fan-out through the
        # database. The local hub stays for the (unadvertised) embedded endpoint.
        published = CentrifugoRealtime(
            settings.centrifugo_api_url,
            settings.centrifugo_api_key,
            timeout_s=settings.centrifugo_timeout_s,
        )
        adapters = attrs.evolve(
            adapters, published=published, closers=(*adapters.closers, published.close)
        )
    if settings.identity == "workos":
        adapters = _workos_identity(settings, adapters)
    if settings.register_provider_hooks and settings.profile != "memory":
        # A provider's api_url is the tenant's: the server's calls go where handlers' may.
        hooks = RestProviderHooks(egress=EgressRules.parse(settings.sandbox_egress_allow))
        adapters = attrs.evolve(adapters, provider_hooks=hooks)
    return attrs.evolve(adapters, **replace)


def _workos_identity(settings: Settings, adapters: ServerAdapters) -> ServerAdapters:
    """WorkOS in place of the profile's identity provider (docs/cloud-identity.md); the
    platform's own tokens stay the profile's."""
    repo, clock = adapters.repo, adapters.clock
    identity = WorkOSIdentity(
        WorkOSTokenVerifier(settings.workos_base_url, settings.workos_client_id),
        WorkOSDirectory(
            api_key=settings.workos_api_key,
            client_id=settings.workos_client_id,
            base_url=settings.workos_base_url,
        ),
        lambda user_id, orgs: sync_memberships(repo, clock, user_id, orgs),
    )
    sign_in = WorkOSBrowserSignIn(
        identity,
        redirect_uri=settings.workos_redirect_uri,
        cookie_secret=settings.workos_cookie_password,
    )
    return attrs.evolve(
        adapters,
        identity=identity,
        api_keys=None,
        users=None,  # WorkOS keeps the people: /api/users answers 503 saying so
        password_login=None,
        refresh_tokens=None,
        auth_provider="workos",
        first_start=_no_first_start,
        browser_sign_in=sign_in,
        # The dashboard signs people in through AuthKit (docs/dashboard.md); each request
        # re-reads the user's organizations and roles as the API does.
        dashboard_sign_in=HostedSignIn(sign_in, lambda user: identity.provisioned(user.id)),
        public_auth=identity.public_auth(),
    )


# server: dependencies and the HTTP app --------------------------------------------------------


def server_settings(settings: Settings) -> ServerSettings:
    return ServerSettings(
        base_url=settings.base_url,
        response_deadline_s=settings.response_deadline_s,
        execution_timeout_s=settings.execution_timeout_s,
        max_body_bytes=settings.max_body_bytes,
        deploy_max_body_bytes=settings.deploy_max_body_bytes,
        dev_lease_s=settings.dev_lease_s,
        lease_ttl_s=settings.lease_ttl_s,
        webhook_calls_per_workflow=settings.webhook_calls_per_workflow,
    )


def server_deps(
    adapters: ServerAdapters, settings: ServerSettings, executor: ThreadPoolExecutor
) -> ServerDeps:
    return ServerDeps(
        repo=adapters.repo,
        host=adapters.host,
        realtime=adapters.published or adapters.realtime,
        replies=adapters.replies,
        dev_sessions=adapters.dev_sessions,
        identity=adapters.identity,
        tokens=adapters.tokens,
        clock=adapters.clock,
        ids=adapters.ids,
        executor=executor,
        dispatcher=adapters.dispatcher,
        settings=settings,
        api_keys=adapters.api_keys,
        owner_id=adapters.ids.new_id("srv"),
        users=adapters.users,
        provider_hooks=adapters.provider_hooks,
    )


def http_services(settings: Settings, adapters: ServerAdapters, deps: ServerDeps) -> HttpServices:
    """The HTTP edge's services: the API, webhooks, pages, ``/v2/`` over the registry storage
    and the realtime endpoint over the hub."""

    def authorize_push(header: str | None, repository: str, action: str) -> None:
        token = token_from_authorization(header)
        if token is None:
            raise Unauthenticated("use a bearer token, or basic auth with the token as password")
        principal = authenticate(token, identity=deps.identity, tokens=deps.tokens)
        if repository:  # an empty repository asks only whether the credentials are good
            authorize_registry(deps.repo, principal, repository, action)

    def authenticate_token(token: str) -> Principal:
        return authenticate(token, identity=deps.identity, tokens=deps.tokens)

    def subscribe_allowed(principal: Principal, channel: str) -> bool:
        return may_subscribe(deps.repo, principal, channel)

    ws_base = settings.base_url.replace("http://", "ws://").replace("https://", "wss://")
    realtime_url = f"{ws_base}{REALTIME_PATH}"
    routes: list[BaseRoute] = []
    if adapters.registry_storage is not None:
        routes += registry_routes(adapters.registry_storage, authorize_push)
    elif adapters.registry_upstream is not None:
        shared = [r.strip() for r in settings.registry_shared_repositories.split(",") if r.strip()]
        routes += registry_proxy_routes(adapters.registry_upstream, authorize_push, shared=shared)
    rpc = dev_rpc_handlers(deps)
    if settings.realtime == "centrifugo":  # clients connect to Centrifugo, which asks these
        realtime_url = settings.centrifugo_ws_url
        routes += proxy_routes(
            authenticate=authenticate_token, may_subscribe=subscribe_allowed, rpc=rpc
        )
    else:
        routes.append(
            realtime_route(
                adapters.realtime,
                authenticate=authenticate_token,
                may_subscribe=subscribe_allowed,
                path=REALTIME_PATH,
                rpc=rpc,
            )
        )
    if adapters.dashboard_sign_in is not None:
        routes += dashboard_routes(adapters.dashboard_sign_in)
    if adapters.browser_sign_in is not None:
        routes += signin_routes(adapters.browser_sign_in, base_url=settings.base_url)
    public_auth = {"auth": dict(adapters.public_auth)} if adapters.public_auth else {}
    return HttpServices(
        deps=deps,
        provider_types=lambda: {name: fields_for(name) for name in provider_types()},
        fields_for=fields_for,
        runtime_target=adapters.runtime_target,
        public_config={
            "realtime_url": realtime_url,
            # A Centrifugo without the RPC proxy answers 108: the client then replies over HTTP.
            "realtime_rpc": [DEV_REPLY_RPC],
            "registry_host": _registry_host(settings),
            "auth_provider": adapters.auth_provider,
            **public_auth,
        },
        password_login=adapters.password_login,
        registry=adapters.registry,
        refresh_tokens=adapters.refresh_tokens,
        guard=EdgeGuard(
            adapters.limit_store,
            deps.clock,
            device_starts=TokenBucket(settings.device_starts_per_minute, 60.0),
            client_ip_header=settings.client_ip_header,
        ),
        extra_routes=routes,
        # The event loop makes the execution writes (SQLite: short, in process; PostgreSQL:
        # over connections it watches) and the local host's workers answer on pipes it
        # watches: no thread per call
        webhooks_on_loop=isinstance(adapters.host, LocalFunctionHost),
    )


def centrifugo_standin_app(
    *,
    api_key: str,
    server_url: str,
    ping_interval: float = 25.0,
    proxy_timeout_s: float = 1.0,
    rpc_proxy: bool = True,
) -> Any:
    """The embedded hub playing Centrifugo for a floww server at ``server_url``: its server
    API (``/api/publish``, ``/api/presence_stats``) and its client websocket
    (``/connection/websocket``) asking the server's connect, subscribe and (``rpc_proxy``)
    RPC proxies, with the client's ``Authorization`` header forwarded. For tests and local
    trials of the ``centrifugo`` realtime setting; see docs/cloud-realtime.md for what it does
    not play."""
    from starlette.applications import Starlette

    hub = LocalRealtimeHub()
    base = server_url.rstrip("/")
    proxy = HttpProxyCaller(
        f"{base}{CONNECT_PATH}",
        f"{base}{SUBSCRIBE_PATH}",
        rpc_url=f"{base}{RPC_PATH}" if rpc_proxy else None,
        timeout_s=proxy_timeout_s,
    )

    def refuse(*_: Any) -> Any:
        raise Unauthenticated("this endpoint asks the proxies")

    websocket = realtime_route(
        hub,
        authenticate=refuse,
        may_subscribe=refuse,
        path=REALTIME_PATH,
        ping_interval=ping_interval,
        proxy=proxy,
    )
    return Starlette(routes=[*server_api_routes(hub, api_key), websocket])


@attrs.define
class Server:
    settings: Settings
    adapters: ServerAdapters
    deps: ServerDeps
    app: Any
    scheduler: CronScheduler
    executor: ThreadPoolExecutor
    leases: LeaseKeeper
    first_start: dict[str, str] | None = None
    sweeper: RetentionSweeper | None = None

    @property
    def notices(self) -> Sequence[str]:
        return self.adapters.notices

    def start_background(self) -> None:
        """Start what runs beside the HTTP app: the cron scheduler, the lease keeper (renewal
        and recovery) and the retention sweeper."""
        self.scheduler.start()
        self.leases.start()
        if self.sweeper is not None:
            self.sweeper.start()

    def freeze_heap(self) -> None:
        """Once built, before it serves: collect, then move every object alive into the
        collector's permanent generation (``gc.freeze``). What start-up built (modules,
        routes, routing tables, the app) lives as long as the process; full collections then
        no longer walk it, and stop pausing every request in flight (under webhook load they
        set the p99 latency: docs/performance.md)."""
        gc.collect()
        gc.freeze()

    def close(self) -> None:
        self.scheduler.stop()
        if self.sweeper is not None:
            self.sweeper.stop()
        self.leases.stop()
        self.adapters.dispatcher.close()
        self.leases.release()  # before the workers stop: what runs now is interrupted
        close_host = getattr(self.deps.host, "close", None)
        if callable(close_host):
            close_host()
        self.executor.shutdown(wait=False, cancel_futures=True)
        for close in self.adapters.closers:
            close()


def build_server(settings: Settings, **replace: Any) -> Server:
    """Everything a ``floww serve`` process runs, wired from ``settings`` (adapters replaced
    by keyword, as in ``server_adapters``)."""
    adapters = server_adapters(settings, **replace)
    metrics = _metrics(settings, adapters)
    if metrics is not None:
        adapters = attrs.evolve(
            adapters, repo=cast(WorkflowRepo, CountingRepo(adapters.repo, metrics))
        )
    executor = ThreadPoolExecutor(max_workers=32, thread_name_prefix="floww")
    deps = server_deps(adapters, server_settings(settings), executor)
    services = http_services(settings, adapters, deps)
    if metrics is not None:
        route = metrics_route(metrics.render, CONTENT_TYPE, settings.metrics_token)
        services = attrs.evolve(services, extra_routes=[*services.extra_routes, route])
    app = create_app(services)
    if metrics is not None:
        app.add_middleware(WebhookAnswers, count=metrics.webhook_answered)
    first = adapters.first_start(deps)
    scheduler = CronScheduler(deps, interval=settings.cron_interval_s)
    policy = RetentionPolicy(
        max_age=timedelta(days=settings.execution_retention_days),
        keep_per_workflow=settings.execution_retention_count,
    )
    sweeper = RetentionSweeper(
        deps.repo, deps.clock, policy, interval=settings.retention_interval_s
    )
    return Server(
        settings, adapters, deps, app, scheduler, executor, LeaseKeeper(deps), first, sweeper
    )


def _metrics(settings: Settings, adapters: ServerAdapters) -> PlatformMetrics | None:
    """``/metrics`` (none when ``FLOWW_METRICS=off``), its gauges read from the dispatcher and
    the function host where they can tell."""
    if settings.metrics == "off":
        return None
    gauges: dict[str, tuple[str, Callable[[], float]]] = {}
    totals = getattr(adapters.dispatcher, "totals", None)
    if callable(totals):
        gauges["floww_queue_depth"] = ("Executions waiting for a lane", lambda: totals()["waiting"])
        gauges["floww_dispatcher_busy"] = ("Lanes running an execution", lambda: totals()["busy"])
        gauges["floww_dispatcher_threads"] = (
            "Dispatcher threads alive",
            lambda: totals()["threads"],
        )
    workers = getattr(adapters.host, "worker_count", None)
    if callable(workers):
        gauges["floww_function_workers"] = ("Warm worker processes of runtimes", workers)
    return PlatformMetrics(gauges)


def _ensure_admin(deps: ServerDeps, accounts: LocalAuth, home: Path) -> dict[str, str] | None:
    """On first start: an admin account and its ``default`` namespace. The password goes to a
    file only its owner can read, never to the console or a log."""
    if accounts.has_users():
        return None
    password = secrets.token_urlsafe(16)
    admin = accounts.create_user(ADMIN_EMAIL, password, admin=True)
    namespace = create_namespace(deps, admin, "default")
    password_file = home / "initial-admin-password"
    fd = os.open(password_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(password + "\n")
    return {"email": ADMIN_EMAIL, "password_file": str(password_file), "namespace": namespace.name}


# client ---------------------------------------------------------------------------------------


def _api(server: str, http: httpx.Client, token: TokenSource) -> JsonApi:
    return ApiClient(server, http=http, token=token)


def _platform(server: str, http: httpx.Client, token: TokenSource) -> HttpPlatform:
    return HttpPlatform(ApiClient(server, http=http, token=token))


def _device_login(
    server: str, http: httpx.Client, auth_config: dict[str, Any], sleep: Callable[[float], None]
) -> DeviceFlowClient:
    return DeviceFlowClient(ApiClient(server, http=http), auth_config, sleep=sleep)


def _registry(
    server: str,
    http: httpx.Client,
    credentials: Callable[[str], tuple[str, str]],
    issue: Callable[[str, str], RegistryCredentials],
) -> ImageRegistry:
    return RegistryV2Client(server, http=http, credentials=credentials, issue_credentials=issue)


def _docker_builder(
    root: Path, docker: Sequence[str], report: Callable[[str], None]
) -> DockerBuilder:
    return DockerImageBuilder(root, docker=docker, report=report)


def client_adapters(**replace: Any) -> ClientAdapters:
    """The CLI's adapters: the server's HTTP API, the Registry v2 client, the daemonless (pip)
    and Docker image builders, the in-process userspace runner, the system clock, and the
    server this process can become (``floww serve``)."""
    adapters = ClientAdapters(
        api=_api,
        platform=_platform,
        device_login=_device_login,
        registry=_registry,
        pip_builder=PipImageBuilder,
        docker_builder=_docker_builder,
        runner=InProcessRunner,
        clock=SystemClock,
        build_server=build_server,
    )
    return attrs.evolve(adapters, **replace)


def main() -> None:
    """The ``floww`` command."""
    cli.main(prog_name="floww", obj=CliEnv.from_process(client_adapters()))
