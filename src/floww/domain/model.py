"""The nouns of floww as frozen attrs types.

Construction is dumb (no validation in ``__init__``); rules live in named constructors and in
the use cases. Timestamps are aware UTC datetimes.
"""

from __future__ import annotations

import enum
import functools
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import attrs

from floww.domain.canonical import canonical_json, sha256_hex
from floww.domain.errors import Conflict, InvalidInput

__all__ = [
    "ApiKey",
    "CodeBundle",
    "Definitions",
    "Deployment",
    "DeploymentStatus",
    "ErrorInfo",
    "Execution",
    "ExecutionContext",
    "ExecutionStatus",
    "Invocation",
    "InvocationResult",
    "KvItem",
    "LogLine",
    "Member",
    "Namespace",
    "Principal",
    "Provider",
    "ProviderField",
    "ProviderRef",
    "Runtime",
    "RuntimeStatus",
    "RuntimeTarget",
    "Trigger",
    "TriggerSource",
    "TriggerSpec",
    "UserAccount",
    "Webhook",
    "Workflow",
]

JSON = Any


def _frozen_dict(value: Mapping[str, Any] | None) -> dict[str, Any]:
    return dict(value or {})


@attrs.frozen
class Principal:
    """Who is calling. ``kind`` is ``user``, ``api_key``, ``execution`` or ``registry``.

    Scoped principals (execution, registry) carry the one namespace / workflow / execution they
    are bound to; a user's access is decided by membership.
    """

    id: str
    kind: str = "user"
    email: str | None = None
    namespace_id: str | None = None
    workflow_id: str | None = None
    execution_id: str | None = None
    scopes: tuple[str, ...] = ()
    # A dev token's person: the token works only while they may run the workflow's namespace.
    on_behalf_of: str | None = None


@attrs.frozen
class UserAccount:
    """A person's account as an administrator sees it: never a password or its hash.
    ``admin`` may manage users; a ``disabled`` account signs nobody in."""

    id: str
    email: str
    created_at: datetime
    admin: bool = False
    disabled: bool = False


@attrs.frozen
class Namespace:
    id: str
    name: str
    created_at: datetime


@attrs.frozen
class Member:
    namespace_id: str
    user_id: str
    role: str = "owner"


@attrs.frozen
class Workflow:
    id: str
    namespace_id: str
    name: str
    created_at: datetime
    description: str = ""


@attrs.frozen(order=True)
class ProviderRef:
    """A provider as code names it: its type and an alias (``default`` unless given)."""

    type: str
    alias: str = "default"

    @property
    def key(self) -> str:
        return f"{self.type}:{self.alias}"

    @classmethod
    def parse(cls, key: str) -> ProviderRef:
        type_, sep, alias = key.partition(":")
        if not type_ or (sep and not alias):
            raise InvalidInput(f"provider key must be 'type' or 'type:alias', not {key!r}")
        return cls(type_, alias or "default")


@attrs.frozen
class ProviderField:
    """One credential field a provider type asks for when it is set up."""

    name: str
    label: str = ""
    secret: bool = False
    required: bool = True


@attrs.frozen
class Provider:
    """Credentials for one provider in one namespace. ``config`` is plaintext in memory only;
    repositories keep it encrypted at rest."""

    id: str
    namespace_id: str
    type: str
    alias: str
    config: dict[str, str] = attrs.field(converter=_frozen_dict, repr=False)

    @property
    def ref(self) -> ProviderRef:
        return ProviderRef(self.type, self.alias)


@attrs.frozen
class TriggerSpec:
    """A trigger as declared by user code. Its identity is (provider type, alias, trigger type,
    canonical JSON of its input)."""

    provider: ProviderRef
    trigger_type: str
    input: dict[str, Any] = attrs.field(converter=_frozen_dict)

    @property
    def identity(self) -> tuple[str, str, str, str]:
        return (
            self.provider.type,
            self.provider.alias,
            self.trigger_type,
            canonical_json(self.input),
        )

    @property
    def key(self) -> str:
        """A short stable string for the identity, usable as an id or a dictionary key."""
        return sha256_hex(canonical_json(list(self.identity)))[:32]

    def describe(self) -> str:
        if self.trigger_type == "webhook":
            methods = ",".join(self.input.get("methods", ["POST"]))
            return f"webhook {methods} {self.input.get('path')}"
        if self.trigger_type == "cron":
            return f"cron {self.input.get('expression')!r}"
        if self.trigger_type == "manual":
            return f"manual {self.input.get('name')}"
        return f"{self.provider.key} {self.trigger_type} {canonical_json(self.input)}"


class TriggerSource(enum.StrEnum):
    DEPLOYMENT = "deployment"
    DEV = "dev"


@attrs.frozen
class Trigger:
    """A trigger stored for a workflow, from its active deployment or from a dev session."""

    id: str
    workflow_id: str
    spec: TriggerSpec
    source: TriggerSource = TriggerSource.DEPLOYMENT
    deployment_id: str | None = None
    state: dict[str, Any] = attrs.field(factory=dict, converter=_frozen_dict)


@attrs.frozen
class Webhook:
    """An HTTP endpoint of the platform that fires one trigger."""

    id: str
    workflow_id: str
    trigger_id: str
    method: str
    path: str
    owner: ProviderRef
    source: TriggerSource = TriggerSource.DEPLOYMENT


@attrs.frozen
class CodeBundle:
    """The user's code: an entrypoint (module path relative to the bundle root, like
    ``main.py``) and its files. Content-addressed by ``digest``."""

    entrypoint: str
    files: dict[str, str] = attrs.field(converter=_frozen_dict, repr=False)

    @functools.cached_property
    def digest(self) -> str:
        # computed once per bundle: a deployment's bundle is hashed on every invocation
        return "sha256:" + sha256_hex(
            canonical_json({"entrypoint": self.entrypoint, "files": self.files})
        )


@attrs.frozen
class RuntimeTarget:
    """What a runtime image is built for: a platform such as ``linux/amd64``, a Python version
    such as ``3.12``, and the base image the dependency layer goes on (empty for the embedded
    host, whose own interpreter runs the layer). ``handler`` is the command the image's
    config names (``floww.sdk.lambda_entry.handler`` on Lambda; empty: the base's own)."""

    platform: str
    python_version: str
    base_image: str = ""
    handler: str = ""


class RuntimeStatus(enum.StrEnum):
    PENDING = "pending"
    READY = "ready"
    FAILED = "failed"


@attrs.frozen
class Runtime:
    """A function-host runtime made from an image. ``spec_hash`` names its dependency set."""

    id: str
    namespace_id: str
    spec_hash: str
    image_ref: str
    status: RuntimeStatus = RuntimeStatus.PENDING
    error: str = ""
    created_at: datetime | None = None


class DeploymentStatus(enum.StrEnum):
    ACTIVE = "active"
    INACTIVE = "inactive"


@attrs.frozen
class Deployment:
    id: str
    workflow_id: str
    runtime_id: str
    code: CodeBundle
    triggers: tuple[TriggerSpec, ...]
    provider_mapping: dict[str, str] = attrs.field(converter=_frozen_dict)
    status: DeploymentStatus = DeploymentStatus.ACTIVE
    created_at: datetime | None = None
    # who created it: a user's e-mail, or ``kind:id`` of another caller
    created_by: str | None = None


class ExecutionStatus(enum.StrEnum):
    RECEIVED = "received"
    QUEUED = "queued"
    STARTED = "started"
    COMPLETED = "completed"
    FAILED = "failed"
    TIMED_OUT = "timed_out"
    NO_DEPLOYMENT = "no_deployment"
    # Its server stopped after the handler may have started: it may have run, in part or whole.
    INTERRUPTED = "interrupted"
    # Someone stopped it (``floww executions cancel``) before it finished.
    CANCELLED = "cancelled"

    @property
    def is_final(self) -> bool:
        return self in _FINAL


_FINAL = {
    ExecutionStatus.COMPLETED,
    ExecutionStatus.FAILED,
    ExecutionStatus.TIMED_OUT,
    ExecutionStatus.NO_DEPLOYMENT,
    ExecutionStatus.INTERRUPTED,
    ExecutionStatus.CANCELLED,
}
_ALLOWED = {
    ExecutionStatus.RECEIVED: {
        ExecutionStatus.QUEUED,
        ExecutionStatus.STARTED,
        ExecutionStatus.NO_DEPLOYMENT,
        ExecutionStatus.COMPLETED,
        ExecutionStatus.FAILED,
        ExecutionStatus.TIMED_OUT,
        ExecutionStatus.CANCELLED,
    },
    ExecutionStatus.QUEUED: {
        ExecutionStatus.STARTED,
        ExecutionStatus.NO_DEPLOYMENT,
        ExecutionStatus.FAILED,
        ExecutionStatus.CANCELLED,
    },
    ExecutionStatus.STARTED: {
        ExecutionStatus.COMPLETED,
        ExecutionStatus.FAILED,
        ExecutionStatus.TIMED_OUT,
        ExecutionStatus.INTERRUPTED,
        ExecutionStatus.CANCELLED,
    },
}


@attrs.frozen
class LogLine:
    at: datetime
    level: str
    message: str
    fields: dict[str, Any] = attrs.field(factory=dict, converter=_frozen_dict)


@attrs.frozen
class ErrorInfo:
    type: str
    message: str
    traceback: str = ""


@attrs.frozen
class Execution:
    """One run of one trigger. Moves RECEIVED -> QUEUED (waiting for a worker) -> STARTED ->
    COMPLETED / FAILED / TIMED_OUT, or to NO_DEPLOYMENT when nothing could run it; a STARTED
    one whose server stopped becomes INTERRUPTED. Final states never change.

    ``owner`` is the server process that holds the execution's lease and ``lease_expires_at``
    when that lease lapses unless renewed: only an execution whose lease lapsed is recovered.
    The repository changes the lease (``renew_leases``, ``take_over_execution``), never
    ``update_execution``."""

    id: str
    workflow_id: str
    trigger_id: str
    status: ExecutionStatus
    received_at: datetime
    event: dict[str, Any] = attrs.field(factory=dict, converter=_frozen_dict, repr=False)
    deployment_id: str | None = None
    dedupe_key: str | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    duration_ms: float | None = None
    result: JSON = None
    error: ErrorInfo | None = None
    logs: tuple[LogLine, ...] = ()
    triggered_by: str | None = None
    owner: str | None = None
    lease_expires_at: datetime | None = None
    # Retries (floww.domain.retry_policy): which run of the event this is, the first run's
    # id, and how long the platform waited after the previous attempt failed.
    attempt: int = 1
    retry_of: str | None = None
    retry_delay_s: float | None = None

    def transition(self, status: ExecutionStatus, **changes: Any) -> Execution:
        """Return the execution moved to ``status``; raise ``Conflict`` for an illegal move."""
        if status not in _ALLOWED.get(self.status, set()):
            raise Conflict(
                f"execution {self.id} cannot move from {self.status.value} to {status.value}",
                execution_id=self.id,
            )
        return attrs.evolve(self, status=status, **changes)

    def check_replaces(self, stored_workflow_id: str, stored_status: ExecutionStatus) -> None:
        """The rule of every ``WorkflowRepo.update_execution``: this version may replace the
        stored one (of that workflow and status). ``InvalidInput`` for a move to another
        workflow, ``Conflict`` when the stored status is final and this one differs."""
        if stored_workflow_id != self.workflow_id:
            raise InvalidInput(f"execution {self.id} cannot move to another workflow")
        if stored_status.is_final and self.status != stored_status:
            raise Conflict(
                f"execution {self.id} is {stored_status.value} already", execution_id=self.id
            )


@attrs.frozen
class KvItem:
    namespace_id: str
    key: str
    value: JSON
    updated_at: datetime


@attrs.frozen
class ExecutionContext:
    """What a runtime needs to call back: the execution id, its scoped token, the API URL and
    the time it has left."""

    id: str
    token: str
    api_url: str
    deadline_ms: int
    workflow_id: str = ""


@attrs.frozen
class Invocation:
    """The ``invoke_trigger`` request of the runtime contract."""

    code: CodeBundle
    trigger: TriggerSpec
    event: dict[str, Any] = attrs.field(converter=_frozen_dict)
    providers: dict[str, dict[str, str]] = attrs.field(converter=_frozen_dict, repr=False)
    execution: ExecutionContext


@attrs.frozen
class InvocationResult:
    """The runtime's answer: ``ok`` with a result, or an error; logs either way."""

    ok: bool
    result: JSON = None
    logs: tuple[LogLine, ...] = ()
    duration_ms: float = 0.0
    error: ErrorInfo | None = None


@attrs.frozen
class Definitions:
    """What loading the user's code declared: trigger specs, provider usage and, where the code
    declares them itself (a ``Secret``), the credential fields of a provider (``type:alias``)."""

    triggers: tuple[TriggerSpec, ...]
    providers: tuple[ProviderRef, ...]
    provider_fields: dict[str, tuple[ProviderField, ...]] = attrs.field(factory=dict)


@attrs.frozen
class ApiKey:
    """What may be shown about an API key: never the key itself nor its digest. ``hint`` (for
    example ``floww_...x7Qa``) lets a person tell their keys apart; ``user_id`` owns the key and
    ``namespace_id`` is the one namespace it reaches; ``scope`` (``full``, ``deploy`` or ``read``,
    see ``floww.domain.roles``) bounds what it may do there."""

    id: str
    name: str
    namespace_id: str
    user_id: str
    created_at: datetime
    hint: str
    scope: str = "deploy"
