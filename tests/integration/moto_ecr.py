"""ECR's control plane on loopback: moto's ``ThreadedMotoServer`` in this process, and ECR
clients and registries pointed at it.

What moto does not show: it serves no Registry v2 data plane (images pushed with ``docker`` or
``skopeo`` go elsewhere; tests put Debian's ``docker-registry`` there), it does not implement
``GetDownloadUrlForLayer`` (so ``pull`` cannot be shown), its authorization token has a fixed
password (``<account>-auth-token``) and expiry (2015-01-01), and it checks no IAM policy.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import Any

import httpx
from moto.server import ThreadedMotoServer

from floww.adapters.aws.ecr import EcrImageRegistry, ecr_client
from floww.ports.support import Clock

__all__ = ["ACCOUNT", "AWS_ENV", "ECR_PASSWORD", "REGION", "ecr_registry", "moto_server"]

ACCOUNT = "123456789012"
REGION = "eu-west-1"
ECR_PASSWORD = f"{ACCOUNT}-auth-token"  # moto's fixed GetAuthorizationToken password (user AWS)
AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": REGION,
}


@contextlib.contextmanager
def moto_server() -> Iterator[str]:
    """moto on an ephemeral 127.0.0.1 port, with test credentials in the environment; its
    endpoint URL."""
    saved = {name: os.environ.get(name) for name in AWS_ENV}
    os.environ.update(AWS_ENV)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        yield f"http://{host}:{port}"
    finally:
        server.stop()
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def ecr_registry(
    endpoint: str, clock: Clock, http: httpx.Client, **options: Any
) -> EcrImageRegistry:
    return EcrImageRegistry(
        ecr_client(REGION, endpoint_url=endpoint),
        clock=clock,
        registry_host="127.0.0.1:8000",
        issue_push_token=lambda ns, repo, ttl: os.urandom(16).hex(),
        http=http,
        **options,
    )
