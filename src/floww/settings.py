"""Server settings: read once, from the environment and command-line flags, into a frozen
object that the composition root hands out. Nothing else reads the environment."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import attrs

from floww.domain.errors import InvalidInput
from floww.domain.oci import BASE_REPOSITORY_PREFIX, is_base_repository

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
    database_url: str = attrs.field(default="", repr=False)  # may hold a password
    # execution writes wait for PostgreSQL's WAL flush (docs/performance.md, "Durability")
    pg_synchronous_commit: bool = True
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
    # register provider webhooks (GitHub repository hooks) at deploy (docs/providers.md)
    register_provider_hooks: bool = True
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
    # Live events: the embedded hub, or Centrifugo (docs/cloud-realtime.md).
    realtime: str = "embedded"
    centrifugo_api_url: str = ""
    centrifugo_api_key: str = attrs.field(default="", repr=False)
    centrifugo_ws_url: str = ""
    centrifugo_timeout_s: float = 2.0
    # The image registry (docs/cloud-registry.md): the local OCI store, or a proxy to upstream.
    registry: str = "local"
    registry_upstream_url: str = ""
    registry_upstream_auth: str = "basic"
    registry_upstream_username: str = ""
    registry_upstream_password: str = attrs.field(default="", repr=False)
    registry_shared_repositories: str = ""
    ecr_region: str = ""
    ecr_repository_prefix: str = "floww"
    ecr_scan_on_push: bool = False
    ecr_endpoint_url: str = ""
    # AWS Lambda as the function host (FLOWW_FUNCTION_HOST=lambda; docs/cloud-functions.md).
    lambda_region: str = ""
    lambda_role_arn: str = ""
    lambda_image_prefix: str = ""
    lambda_memory_mb: int = 512
    lambda_timeout_s: int = 60
    lambda_ephemeral_storage_mb: int = 512
    lambda_function_prefix: str = "floww"
    lambda_endpoint_url: str = ""
    lambda_base_image: str = ""
    # Local workers' sandbox and its limits, per worker (docs/sandbox.md).
    sandbox: str = "auto"
    allow_unsandboxed: bool = False
    sandbox_memory_mb: int = 1024
    sandbox_cpu_s: int = 3600
    sandbox_processes: int = 256
    sandbox_open_files: int = 256
    sandbox_tmp_mb: int = 64
    # Hosts and networks the workers' egress proxy lets through besides public addresses.
    sandbox_egress_allow: str = ""
    # /metrics (docs/operations.md): off, open, or token (FLOWW_METRICS_TOKEN as a bearer token)
    metrics: str = "off"
    metrics_token: str = attrs.field(default="", repr=False)
    # Identity provider (docs/cloud-identity.md): "local" accounts, or "workos".
    identity: str = "local"
    workos_client_id: str = ""
    workos_api_key: str = attrs.field(default="", repr=False)
    workos_base_url: str = "https://api.workos.com"
    workos_redirect_uri: str = ""
    workos_cookie_password: str = attrs.field(default="", repr=False)

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
            # empty is the default (on): an unset variable never turns durability off
            "pg_synchronous_commit": lambda text: _bool(text) if text.strip() else True,
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
            "register_provider_hooks": _bool,
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
            "realtime": str,
            "centrifugo_api_url": str,
            "centrifugo_api_key": str,
            "centrifugo_ws_url": str,
            "centrifugo_timeout_s": float,
            **_REGISTRY_READERS,
            **_LAMBDA_SETTINGS,
            "sandbox": str,
            "allow_unsandboxed": _bool,
            "sandbox_memory_mb": int,
            "sandbox_cpu_s": int,
            "sandbox_processes": int,
            "sandbox_open_files": int,
            "sandbox_tmp_mb": int,
            "sandbox_egress_allow": str,
            "metrics": str,
            "metrics_token": str,
            "identity": str,
            "workos_client_id": str,
            "workos_api_key": str,
            "workos_base_url": str,
            "workos_redirect_uri": str,
            "workos_cookie_password": str,
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
        if values.get("profile") == "cloud":
            _cloud_choices(values)
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
        if values.get("function_host", "local") not in {"local", "memory", "lambda"}:
            raise InvalidInput("FLOWW_FUNCTION_HOST must be 'local', 'memory' or 'lambda'")
        _check_scheduling(values)
        _check_realtime(values)
        _check_registry(values)
        if values.get("function_host") == "lambda":
            _check_lambda(values)
        _check_sandbox(values)
        _check_metrics(values)
        _check_identity(values)
        return cls(**values)


# What FLOWW_PROFILE=cloud runs (docs/cloud.md): each component's setting and its cloud choice.
CLOUD_COMPONENTS = {
    "identity": "workos",
    "realtime": "centrifugo",
    "registry": "proxy",
    "function_host": "lambda",
}


def _cloud_choices(values: dict[str, Any]) -> None:
    """The cloud profile: WorkOS, Centrifugo, the registry proxy (to ECR) and Lambda over
    PostgreSQL.
    A component left unset takes its cloud choice; one set to anything else contradicts the
    profile and is refused in a sentence, as is a database that is not PostgreSQL."""
    for name, choice in CLOUD_COMPONENTS.items():
        given = values.setdefault(name, choice)
        if given != choice:
            raise InvalidInput(
                f"FLOWW_PROFILE=cloud runs FLOWW_{name.upper()}={choice}, not {given!r}: unset "
                f"FLOWW_{name.upper()}, or choose components one by one with "
                "FLOWW_PROFILE=embedded",
                field="profile",
            )
    if not str(values.get("public_url") or "").startswith(("http://", "https://")):
        # Webhook URLs, the device page and the API URL Lambda functions call back all name it.
        raise InvalidInput(
            "FLOWW_PROFILE=cloud needs FLOWW_PUBLIC_URL=https://...: the address people, "
            "providers and Lambda functions reach the replicas at (the load balancer's)",
            field="profile",
        )
    if not str(values.get("lambda_base_image") or "").strip():
        # Without it, images hold floww's layer alone: Lambda cannot run them.
        raise InvalidInput(
            "FLOWW_PROFILE=cloud needs FLOWW_LAMBDA_BASE_IMAGE=floww-base/<name>@sha256:<digest>,"
            " the Lambda Python base the runtime images are built on: copy it into ECR and name "
            'it (see docs/cloud-functions.md, "The base image")',
            field="profile",
        )
    # The proxy's upstream is ECR unless set otherwise (any Registry v2 server with Basic
    # credentials stays possible with FLOWW_REGISTRY_UPSTREAM_AUTH=basic).
    values.setdefault("registry_upstream_auth", "ecr")
    if not str(values.get("database_url", "")).startswith("postgresql"):
        raise InvalidInput(
            "FLOWW_PROFILE=cloud needs FLOWW_DATABASE_URL=postgresql://...: the replicas of a "
            "cloud deployment share one PostgreSQL database",
            field="profile",
        )


def _check_scheduling(values: Mapping[str, Any]) -> None:
    if values.get("concurrency_per_workflow", 1) < 1:
        raise InvalidInput("FLOWW_CONCURRENCY_PER_WORKFLOW must be at least 1")
    if values.get("queue_per_workflow", 0) < 0:
        raise InvalidInput("FLOWW_QUEUE_PER_WORKFLOW must not be negative")
    if values.get("lease_ttl_s", 1.0) <= 0:
        raise InvalidInput("FLOWW_LEASE_TTL_S must be more than 0")


def _check_realtime(values: Mapping[str, Any]) -> None:
    realtime = values.get("realtime", "embedded")
    if realtime not in {"embedded", "centrifugo"}:
        raise InvalidInput("FLOWW_REALTIME must be 'embedded' or 'centrifugo'")
    if values.get("centrifugo_timeout_s", 1.0) <= 0:
        raise InvalidInput("FLOWW_CENTRIFUGO_TIMEOUT_S must be more than 0")
    if realtime != "centrifugo":
        return
    missing = [
        f"FLOWW_{name.upper()}"
        for name in ("centrifugo_api_url", "centrifugo_api_key", "centrifugo_ws_url")
        if not values.get(name)
    ]
    if missing:
        raise InvalidInput(
            f"FLOWW_REALTIME=centrifugo needs {' and '.join(missing)}: set "
            f"{'them' if len(missing) > 1 else 'it'} to your Centrifugo's server API URL, API key "
            "and client websocket URL (see docs/cloud-realtime.md)"
        )
    for name, schemes in (
        ("centrifugo_api_url", ("http://", "https://")),
        ("centrifugo_ws_url", ("ws://", "wss://")),
    ):
        if not str(values[name]).startswith(schemes):
            raise InvalidInput(
                f"FLOWW_{name.upper()} must start with {' or '.join(schemes)}", field=name
            )


_REGISTRY_READERS: dict[str, Callable[[str], Any]] = {
    "registry": str,
    "registry_upstream_url": str,
    "registry_upstream_auth": str,
    "registry_upstream_username": str,
    "registry_upstream_password": str,
    "registry_shared_repositories": str,
    "ecr_region": str,
    "ecr_repository_prefix": str,
    "ecr_scan_on_push": _bool,
    "ecr_endpoint_url": str,
}


def _check_registry(values: Mapping[str, Any]) -> None:
    """``FLOWW_REGISTRY=proxy`` needs an upstream: a v2 server's URL (Basic credentials
    optional, both or neither) or ECR's region; the error names what is missing."""
    registry = values.get("registry", "local")
    if registry not in {"local", "proxy"}:
        raise InvalidInput("FLOWW_REGISTRY must be 'local' or 'proxy'", field="registry")
    if registry != "proxy":
        return
    auth = values.get("registry_upstream_auth", "basic")
    if auth not in {"basic", "ecr"}:
        raise InvalidInput(
            "FLOWW_REGISTRY_UPSTREAM_AUTH must be 'basic' or 'ecr'", field="registry"
        )
    missing = []
    if auth == "basic":
        if not values.get("registry_upstream_url"):
            missing.append(
                "FLOWW_REGISTRY_UPSTREAM_URL (the upstream registry, e.g. https://host:5000)"
            )
        if bool(values.get("registry_upstream_username")) != bool(
            values.get("registry_upstream_password")
        ):
            missing.append(
                "both FLOWW_REGISTRY_UPSTREAM_USERNAME and FLOWW_REGISTRY_UPSTREAM_PASSWORD"
            )
    elif not values.get("ecr_region"):
        missing.append("FLOWW_ECR_REGION (the AWS region of the ECR registry, e.g. eu-west-1)")
    if missing:
        raise InvalidInput(
            f"FLOWW_REGISTRY=proxy with FLOWW_REGISTRY_UPSTREAM_AUTH={auth} needs "
            + " and ".join(missing)
            + "; set them and start again",
            field="registry",
        )
    url = str(values.get("registry_upstream_url", ""))
    if url and not url.startswith(("http://", "https://")):
        raise InvalidInput(
            f"FLOWW_REGISTRY_UPSTREAM_URL must start with http:// or https://, not {url!r}",
            field="registry",
        )
    prefix = str(values.get("ecr_repository_prefix", "floww"))
    if not re.fullmatch(r"[a-z0-9]+(?:[._-][a-z0-9]+)*(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*", prefix):
        raise InvalidInput(
            f"FLOWW_ECR_REPOSITORY_PREFIX must be a lowercase repository path, not {prefix!r}",
            field="registry",
        )
    # Base repositories are readable by every namespace: no tenant's images may live there,
    # and only bases may be shared as mount sources.
    if is_base_repository(prefix + "/x") or prefix == BASE_REPOSITORY_PREFIX.rstrip("/"):
        raise InvalidInput(
            f"FLOWW_ECR_REPOSITORY_PREFIX must not be under {BASE_REPOSITORY_PREFIX}, which every "
            "namespace may read",
            field="registry",
        )
    shared = [r.strip() for r in str(values.get("registry_shared_repositories", "")).split(",")]
    for repository in filter(None, shared):
        if not is_base_repository(repository):
            raise InvalidInput(
                f"FLOWW_REGISTRY_SHARED_REPOSITORIES may name base repositories only "
                f"({BASE_REPOSITORY_PREFIX}...), not {repository!r}",
                field="registry",
            )


_LAMBDA_SETTINGS: dict[str, Callable[[str], Any]] = {
    "lambda_region": str,
    "lambda_role_arn": str,
    "lambda_image_prefix": str,
    "lambda_memory_mb": int,
    "lambda_timeout_s": int,
    "lambda_ephemeral_storage_mb": int,
    "lambda_function_prefix": str,
    "lambda_endpoint_url": str,
    "lambda_base_image": str,
}
# Lambda's own limits: memory and ephemeral storage in MB, timeout in seconds.
_LAMBDA_RANGES = {
    "lambda_memory_mb": (128, 10_240),
    "lambda_timeout_s": (1, 900),
    "lambda_ephemeral_storage_mb": (512, 10_240),
}


def _check_lambda(values: Mapping[str, Any]) -> None:
    """The settings Lambda cannot run without, named in one sentence; Lambda's own limits."""
    missing = [
        f"FLOWW_{name.upper()}"
        for name in ("lambda_region", "lambda_role_arn", "lambda_image_prefix")
        if not str(values.get(name) or "").strip()
    ]
    if missing:
        raise InvalidInput(
            f"FLOWW_FUNCTION_HOST=lambda needs {', '.join(missing)}: set "
            f"{'it' if len(missing) == 1 else 'them'} (see docs/cloud-functions.md) or use "
            "FLOWW_FUNCTION_HOST=local"
        )
    for name, (low, high) in _LAMBDA_RANGES.items():
        if name in values and not low <= values[name] <= high:
            raise InvalidInput(f"FLOWW_{name.upper()} must be between {low} and {high}")
    base = str(values.get("lambda_base_image") or "")
    if base and not (base.startswith("floww-base/") and ("@sha256:" in base or ":" in base)):
        raise InvalidInput(
            "FLOWW_LAMBDA_BASE_IMAGE must name an image of the server's registry under "
            "floww-base/, by digest (floww-base/<name>@sha256:<digest>) or tag"
        )
    if not str(values["lambda_role_arn"]).startswith("arn:"):
        raise InvalidInput(
            "FLOWW_LAMBDA_ROLE_ARN must be an IAM role ARN (arn:aws:iam::<account>:role/<name>)"
        )


def _check_sandbox(values: Mapping[str, Any]) -> None:
    if values.get("sandbox", "auto") not in {"auto", "bwrap", "off"}:
        raise InvalidInput("FLOWW_SANDBOX must be auto, bwrap or off")
    for name in (
        "sandbox_memory_mb",
        "sandbox_cpu_s",
        "sandbox_processes",
        "sandbox_open_files",
        "sandbox_tmp_mb",
    ):
        if values.get(name, 1) < 1:
            raise InvalidInput(f"FLOWW_{name.upper()} must be at least 1")


def _check_metrics(values: Mapping[str, Any]) -> None:
    mode = values.get("metrics", "off")
    if mode not in {"off", "open", "token"}:
        raise InvalidInput("FLOWW_METRICS must be 'off', 'open' or 'token'")
    if mode == "token" and not values.get("metrics_token"):
        raise InvalidInput(
            "FLOWW_METRICS=token needs FLOWW_METRICS_TOKEN: set it to a long random string "
            "that the scraper sends as a bearer token"
        )


_WORKOS_REQUIRED = {
    "workos_client_id": "the WorkOS client id",
    "workos_api_key": "the WorkOS API key",
    "workos_redirect_uri": "the AuthKit redirect URI, <public url>/auth/callback",
    "workos_cookie_password": "a secret of 32+ characters that signs session cookies",
}


def _check_identity(values: Mapping[str, Any]) -> None:
    identity = values.get("identity", "local")
    if identity not in {"local", "workos"}:
        raise InvalidInput("FLOWW_IDENTITY must be 'local' or 'workos'")
    if identity != "workos":
        return
    missing = [
        f"FLOWW_{name.upper()} ({what})"
        for name, what in _WORKOS_REQUIRED.items()
        if not values.get(name)
    ]
    if missing:
        raise InvalidInput(f"FLOWW_IDENTITY=workos needs {'; '.join(missing)}")
    if len(values["workos_cookie_password"]) < 32:
        raise InvalidInput("FLOWW_WORKOS_COOKIE_PASSWORD must be at least 32 characters long")
    if not str(values.get("workos_base_url", "https://")).startswith(("https://", "http://")):
        raise InvalidInput("FLOWW_WORKOS_BASE_URL must be an http(s) URL")
