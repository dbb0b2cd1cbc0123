"""moto in-process (``ThreadedMotoServer`` on loopback) standing in for AWS IAM and Lambda's
control plane.

What moto shows: functions created from an image with their memory, timeout, ephemeral
storage, role and environment; a role Lambda cannot assume refused; state ``Active``; delete.
What it cannot show: it never runs an image (Lambda runs with ``use_docker: false``: an
invocation answers the next canned result queued with ``queue_results``, else echoes the
payload), it never leaves a function ``Pending`` or ``Failed``, and it does not check that the
image exists when a function is created.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import attrs
import boto3
import httpx
from moto.server import ThreadedMotoServer

__all__ = ["MotoAws", "moto_aws"]

REGION = "us-east-1"
_CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
_TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": "lambda.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }
    ],
}


@attrs.frozen
class MotoAws:
    url: str
    role_arn: str

    def client(self, service: str) -> Any:
        return boto3.client(service, endpoint_url=self.url, region_name=REGION, **_CREDENTIALS)

    def queue_results(self, *answers: Any) -> None:
        """The answers of the next invocations, in order (JSON-encoded as given)."""
        results = [json.dumps(answer) for answer in answers]
        response = httpx.post(
            f"{self.url}/moto-api/static/lambda-simple/response",
            json={"results": results, "region": REGION},
        )
        response.raise_for_status()

    def function_names(self) -> list[str]:
        functions = self.client("lambda").list_functions()["Functions"]
        return sorted(f["FunctionName"] for f in functions)


@contextmanager
def moto_aws() -> Iterator[MotoAws]:
    """A fresh moto server with Lambda in its no-docker mode and a role Lambda may assume."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        url = f"http://{host}:{port}"
        httpx.post(f"{url}/moto-api/reset").raise_for_status()
        httpx.post(f"{url}/moto-api/config", json={"lambda": {"use_docker": False}})
        iam = boto3.client("iam", endpoint_url=url, region_name=REGION, **_CREDENTIALS)
        role = iam.create_role(
            RoleName="floww-functions", AssumeRolePolicyDocument=json.dumps(_TRUST)
        )
        yield MotoAws(url, role["Role"]["Arn"])
    finally:
        server.stop()
