"""Server settings: read once, from the environment and command-line flags, into a frozen
object that the composition root hands out. Nothing else reads the environment."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import attrs

from floww.domain.errors import InvalidInput

__all__ = ["PROFILES", "Settings", "default_home"]

PROFILES = ("embedded", "memory", "cloud")


def default_home(environ: Mapping[str, str]) -> Path:
    base = environ.get("XDG_DATA_HOME") or str(
        Path(environ.get("HOME", "~")).expanduser() / ".local" / "share"
    )
    return Path(base) / "floww"


def _bool(value: str) -> bool:
    if value.lower() in {"1", "true", "yes", "on"}:
        return True
    if value.lower() in {"0", "false", "no", "off", ""}:
        return False
    raise InvalidInput(f"expected a boolean (true/false), got {value!r}")


@attrs.frozen
class Settings:
    """``public_url`` is how clients and providers reach this server (webhook URLs, the API URL
    given to runtimes); it defaults to ``http://<host>:<port>``. ``profile`` chooses the
    adapters (``floww.bootstrap``): ``embedded`` (the default), ``memory`` or ``cloud``."""

    home: Path
    host: str = "127.0.0.1"
    port: int = 8000
    public_url: str = ""
    database_url: str = ""
    production: bool = False
    profile: str = "embedded"
    function_host: str = "local"
    workers_per_runtime: int = 4
    response_deadline_s: float = 30.0
    execution_timeout_s: float = 60.0
    max_body_bytes: int = 1_048_576
    # the deploy API's own limit: a workflow's code and trigger list (docs/performance.md)
    deploy_max_body_bytes: int = 67_108_864
    cron_interval_s: float = 1.0
    dev_lease_s: float = 30.0
    webhook_calls_per_workflow: int = 100
    # limits at the edge (docs/decisions.md, "Limits at the edge")
    max_header_bytes: int = 32_768
    max_headers: int = 100
    header_timeout_s: float = 10.0
    body_timeout_s: float = 30.0
    client_ip_header: str = ""
    device_starts_per_minute: int = 10
    execution_retention_days: float = 30.0
    execution_retention_count: int = 1000
    retention_interval_s: float = 300.0
    # Fair scheduling and leases (docs/decisions.md, "Executions have owners").
    concurrency_per_workflow: int = 4
    queue_per_workflow: int = 100
    lease_ttl_s: float = 30.0

    @property
    def base_url(self) -> str:
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")

    @property
    def db_url(self) -> str:
        return self.database_url or f"sqlite:///{self.home / 'floww.db'}"

    @classmethod
    def load(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Environment variables ``FLOWW_*`` first, then explicit ``overrides`` (flags) win.
        ``InvalidInput`` names the variable that does not parse."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {"home": Path(env.get("FLOWW_HOME") or default_home(env))}
        readers: dict[str, Callable[[str], Any]] = {
            "host": str,
            "port": int,
            "public_url": str,
            "database_url": str,
            "production": _bool,
            "profile": str,
            "function_host": str,
            "workers_per_runtime": int,
            "response_deadline_s": float,
            "execution_timeout_s": float,
            "max_body_bytes": int,
            "deploy_max_body_bytes": int,
            "cron_interval_s": float,
            "dev_lease_s": float,
            "webhook_calls_per_workflow": int,
            "max_header_bytes": int,
            "max_headers": int,
            "header_timeout_s": float,
            "body_timeout_s": float,
            "client_ip_header": str,
            "device_starts_per_minute": int,
            "execution_retention_days": float,
            "execution_retention_count": int,
            "retention_interval_s": float,
            "concurrency_per_workflow": int,
            "queue_per_workflow": int,
            "lease_ttl_s": float,
        }
        for name, read in readers.items():
            raw = env.get(f"FLOWW_{name.upper()}")
            if raw is None:
                continue
            try:
                values[name] = read(raw)
            except (ValueError, InvalidInput) as exc:
                raise InvalidInput(f"FLOWW_{name.upper()}={raw!r} is not valid: {exc}") from None
        values.update({k: v for k, v in overrides.items() if v is not None})
        values["home"] = Path(values["home"]).expanduser()
        if values.get("profile", "embedded") not in PROFILES:
            raise InvalidInput(f"FLOWW_PROFILE must be one of {', '.join(PROFILES)}")
        for name in (
            "max_header_bytes",
            "max_headers",
            "device_starts_per_minute",
            "webhook_calls_per_workflow",
            "deploy_max_body_bytes",
        ):
            if name in values and values[name] < 1:
                raise InvalidInput(f"FLOWW_{name.upper()} must be at least 1")
        for name in (
            "header_timeout_s",
            "body_timeout_s",
            "execution_retention_days",
            "retention_interval_s",
        ):
            if name in values and not values[name] > 0:
                raise InvalidInput(f"FLOWW_{name.upper()} must be a positive number")
        if values.get("execution_retention_days", 0) > 36_500:
            raise InvalidInput("FLOWW_EXECUTION_RETENTION_DAYS must be at most 36500")
        if values.get("execution_retention_count", 1) < 0:
            raise InvalidInput("FLOWW_EXECUTION_RETENTION_COUNT must not be negative")
        if values.get("function_host", "local") not in {"local", "memory"}:
            raise InvalidInput("FLOWW_FUNCTION_HOST must be 'local' or 'memory'")
        _check_scheduling(values)
        return cls(**values)


def _check_scheduling(values: Mapping[str, Any]) -> None:
    if values.get("concurrency_per_workflow", 1) < 1:
        raise InvalidInput("FLOWW_CONCURRENCY_PER_WORKFLOW must be at least 1")
    if values.get("queue_per_workflow", 0) < 0:
        raise InvalidInput("FLOWW_QUEUE_PER_WORKFLOW must not be negative")
    if values.get("lease_ttl_s", 1.0) <= 0:
        raise InvalidInput("FLOWW_LEASE_TTL_S must be more than 0")
