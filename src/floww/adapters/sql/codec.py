"""Domain values to column values and back.

JSON columns hold plain documents: trigger specs as ``{"provider": {"type", "alias"},
"trigger_type", "input"}``, log lines with ISO-8601 times, errors as ``{"type", "message",
"traceback"}``. Reading a row gives back a value equal to the one written.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Row

from floww.adapters.sql.fast_json import json_copy
from floww.domain.errors import InvalidInput
from floww.domain.model import (
    CodeBundle,
    Deployment,
    DeploymentStatus,
    ErrorInfo,
    Execution,
    ExecutionStatus,
    KvItem,
    LogLine,
    Namespace,
    ProviderRef,
    Runtime,
    RuntimeStatus,
    Trigger,
    TriggerSource,
    TriggerSpec,
    Webhook,
    Workflow,
)

__all__ = [
    "deployment_from_row",
    "deployment_values",
    "execution_from_row",
    "execution_values",
    "json_copy",
    "kv_from_row",
    "log_to_json",
    "namespace_from_row",
    "runtime_from_row",
    "spec_from_json",
    "spec_to_json",
    "trigger_from_row",
    "webhook_from_row",
    "workflow_from_row",
]


def namespace_from_row(row: Row[Any]) -> Namespace:
    return Namespace(row.id, row.name, row.created_at)


def workflow_from_row(row: Row[Any]) -> Workflow:
    return Workflow(row.id, row.namespace_id, row.name, row.created_at, row.description)


def spec_to_json(spec: TriggerSpec) -> dict[str, Any]:
    return {
        "provider": {"type": spec.provider.type, "alias": spec.provider.alias},
        "trigger_type": spec.trigger_type,
        "input": json_copy(spec.input),
    }


def spec_from_json(doc: dict[str, Any]) -> TriggerSpec:
    provider = doc["provider"]
    return TriggerSpec(
        ProviderRef(provider["type"], provider["alias"]), doc["trigger_type"], doc["input"]
    )


def trigger_from_row(row: Row[Any]) -> Trigger:
    spec = TriggerSpec(
        ProviderRef(row.provider_type, row.provider_alias), row.trigger_type, row.input
    )
    return Trigger(
        row.id, row.workflow_id, spec, TriggerSource(row.source), row.deployment_id, row.state
    )


def webhook_from_row(row: Row[Any]) -> Webhook:
    return Webhook(
        row.id,
        row.workflow_id,
        row.trigger_id,
        row.method,
        row.path,
        ProviderRef(row.owner_type, row.owner_alias),
        TriggerSource(row.source),
    )


def runtime_from_row(row: Row[Any]) -> Runtime:
    return Runtime(
        row.id,
        row.namespace_id,
        row.spec_hash,
        row.image_ref,
        RuntimeStatus(row.status),
        row.error,
        row.created_at,
    )


def deployment_values(deployment: Deployment) -> dict[str, Any]:
    return {
        "id": deployment.id,
        "workflow_id": deployment.workflow_id,
        "runtime_id": deployment.runtime_id,
        "status": deployment.status.value,
        "created_at": deployment.created_at,
        "code_entrypoint": deployment.code.entrypoint,
        "code_files": json_copy(deployment.code.files),
        "trigger_specs": [spec_to_json(spec) for spec in deployment.triggers],
        "provider_mapping": json_copy(deployment.provider_mapping),
        "created_by": deployment.created_by,
    }


def deployment_from_row(row: Row[Any]) -> Deployment:
    return Deployment(
        id=row.id,
        workflow_id=row.workflow_id,
        runtime_id=row.runtime_id,
        code=CodeBundle(row.code_entrypoint, row.code_files),
        triggers=tuple(spec_from_json(doc) for doc in row.trigger_specs),
        provider_mapping=row.provider_mapping,
        status=DeploymentStatus(row.status),
        created_at=row.created_at,
        created_by=row.created_by,
    )


def execution_values(execution: Execution) -> dict[str, Any]:
    error = execution.error
    return {
        "id": execution.id,
        "workflow_id": execution.workflow_id,
        "trigger_id": execution.trigger_id,
        "status": execution.status.value,
        "received_at": execution.received_at,
        "event": json_copy(execution.event),
        "deployment_id": execution.deployment_id,
        "dedupe_key": execution.dedupe_key,
        "started_at": execution.started_at,
        "finished_at": execution.finished_at,
        "duration_ms": execution.duration_ms,
        "result": json_copy(execution.result),
        "error": (
            None
            if error is None
            else {"type": error.type, "message": error.message, "traceback": error.traceback}
        ),
        "logs": [log_to_json(line) for line in execution.logs],
        "triggered_by": execution.triggered_by,
        "owner": execution.owner,
        "lease_expires_at": execution.lease_expires_at,
        "attempt": execution.attempt,
        "retry_of": execution.retry_of,
        "retry_delay_s": execution.retry_delay_s,
    }


def execution_from_row(row: Row[Any]) -> Execution:
    error = row.error
    return Execution(
        id=row.id,
        workflow_id=row.workflow_id,
        trigger_id=row.trigger_id,
        status=ExecutionStatus(row.status),
        received_at=row.received_at,
        event=row.event,
        deployment_id=row.deployment_id,
        dedupe_key=row.dedupe_key,
        started_at=row.started_at,
        finished_at=row.finished_at,
        duration_ms=row.duration_ms,
        result=row.result,
        error=None
        if error is None
        else ErrorInfo(error["type"], error["message"], error["traceback"]),
        logs=tuple(_log_from_json(doc) for doc in row.logs),
        triggered_by=row.triggered_by,
        owner=row.owner,
        lease_expires_at=row.lease_expires_at,
        attempt=row.attempt,
        retry_of=row.retry_of,
        retry_delay_s=row.retry_delay_s,
    )


def kv_from_row(row: Row[Any]) -> KvItem:
    return KvItem(row.namespace_id, row.key, row.value, row.updated_at)


def log_to_json(line: LogLine) -> dict[str, Any]:
    if line.at.tzinfo is None:
        raise InvalidInput("log timestamps must be timezone-aware")
    return {
        "at": line.at.isoformat(),
        "level": line.level,
        "message": line.message,
        "fields": json_copy(line.fields),
    }


def _log_from_json(doc: dict[str, Any]) -> LogLine:
    return LogLine(datetime.fromisoformat(doc["at"]), doc["level"], doc["message"], doc["fields"])
