"""The ports and settings the server-side use cases run over, handed in as one parameter."""

from __future__ import annotations

from concurrent.futures import Executor

import attrs

from floww.domain.usecases.routing_tables import RoutingTables
from floww.ports.api_keys import ApiKeys
from floww.ports.dev_sessions import DevSessions
from floww.ports.dispatcher import Dispatcher
from floww.ports.function_host import FunctionHost
from floww.ports.identity import Identity
from floww.ports.provider_hooks import ProviderHooks
from floww.ports.realtime import Realtime
from floww.ports.replies import Replies
from floww.ports.support import Clock, IdGenerator
from floww.ports.tokens import PlatformTokens
from floww.ports.users import Users
from floww.ports.workflow_repo import WorkflowRepo

__all__ = ["ServerDeps", "ServerSettings"]


@attrs.frozen
class ServerSettings:
    """``base_url`` is where the server is reached from outside (webhook URLs, the API URL
    handed to runtimes). ``response_deadline_s`` bounds how long a webhook caller waits for the
    handler's answer; ``execution_timeout_s`` bounds the handler itself, from when a worker
    takes it. ``lease_ttl_s`` is how long an execution's lease lasts unless its owner renews
    it: a process that died is noticed that long after its last renewal. ``dev_lease_s`` is
    how long a dev session stays live without renewing its lease.
    ``webhook_calls_per_workflow`` bounds one workflow's webhook calls in flight at once."""

    base_url: str = "http://127.0.0.1:8000"
    response_deadline_s: float = 30.0
    execution_timeout_s: float = 60.0
    max_body_bytes: int = 1_048_576
    deploy_max_body_bytes: int = 67_108_864
    execution_token_ttl_s: int = 900
    dev_lease_s: float = 30.0
    webhook_calls_per_workflow: int = 100
    lease_ttl_s: float = 30.0


@attrs.frozen
class ServerDeps:
    """``dispatcher`` runs executions per workflow; ``owner_id`` names this server process in
    the leases of the executions it runs (unique per process); ``routing`` holds its webhook
    routing tables (``routing_tables.py``); ``provider_hooks`` registers provider webhooks at
    deploy (``None``: none are registered)."""

    repo: WorkflowRepo
    host: FunctionHost
    realtime: Realtime
    replies: Replies
    dev_sessions: DevSessions
    identity: Identity
    tokens: PlatformTokens
    clock: Clock
    ids: IdGenerator
    executor: Executor
    dispatcher: Dispatcher
    settings: ServerSettings = ServerSettings()
    api_keys: ApiKeys | None = None
    owner_id: str = "server"
    routing: RoutingTables = attrs.field(factory=RoutingTables, eq=False)
    users: Users | None = None
    provider_hooks: ProviderHooks | None = None
