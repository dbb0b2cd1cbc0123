"""A deploy end to end with AWS Lambda as the function host: a real ``floww serve``
(``FLOWW_FUNCTION_HOST=lambda``) whose Lambda client talks to moto on loopback, and the real
CLI, as subprocesses.

Shown: the runtime image is built daemonless for the Lambda target over the base image the
server declares (its layers mounted from the base repository on the server, never read or
sent by the client) and pushed to the server's registry only when missing; the runtime
becomes an image function (memory, timeout, storage, role, image URI from the settings); the
deployment is active and its webhook answers through Lambda; a code-only redeploy builds,
uploads and creates nothing.

What the stand-ins do not show: moto never runs the image (its answers are canned: computed
by floww's real Lambda entry in the test process for the same code, and queued before each
invocation), nor does it pull the image from the registry named in the image URI (the image
lives in the server's embedded registry, standing in for ECR through the registry proxy).
Running the image itself is ``test_lambda_entry.py``.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import shutil
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from floww.adapters.local.image_registry import LocalImageRegistry
from floww.domain.oci import OciImage, blob_digest
from floww.sdk.bundle import bundle_from_directory
from floww.sdk.lambda_entry import handler
from floww.sdk.wire import code_to_wire, definitions_request
from tests.integration.moto_lambda import MotoAws, moto_aws
from tests.integration.serving import RunningServer, running_server
from tests.integration.test_cli_e2e import _deploy_json, _registry_files, cli_env, floww, logged_in

pytestmark = pytest.mark.integration

__all__ = ["cli_env", "logged_in"]  # the CLI's fixtures, reused

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "hello"
IMAGE_PREFIX = "123456789012.dkr.ecr.us-east-1.amazonaws.com"


@pytest.fixture(scope="module")
def aws() -> Iterator[MotoAws]:
    with moto_aws() as running:
        yield running


BASE_REPOSITORY = "floww-base/lambda-python"
BASE_CONTENT = os.urandom(2 * 1024 * 1024)  # stands in for the AWS base's layers


def base_image() -> OciImage:
    layer = io.BytesIO()
    with tarfile.open(fileobj=layer, mode="w") as archive:
        info = tarfile.TarInfo("var/runtime/base.bin")
        info.size = len(BASE_CONTENT)
        archive.addfile(info, io.BytesIO(BASE_CONTENT))
    raw = layer.getvalue()
    config = {
        "architecture": "amd64",
        "os": "linux",
        "config": {"Env": ["PATH=/usr/bin:/bin", "PYTHONPATH=/var/runtime"]},
        "rootfs": {"type": "layers", "diff_ids": [blob_digest(raw)]},
    }
    return OciImage(config=json.dumps(config).encode(), layers=(gzip.compress(raw, mtime=0),))


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, aws: MotoAws) -> Iterator[RunningServer]:
    """The server declares a base image that the operator put in its registry beforehand."""
    home = tmp_path_factory.mktemp("floww-home")
    operator = LocalImageRegistry(home / "registry", registry_host="127.0.0.1")
    digest = operator.push(BASE_REPOSITORY, "3.12", base_image())
    env = {
        "FLOWW_LAMBDA_BASE_IMAGE": f"{BASE_REPOSITORY}@{digest}",
        "FLOWW_FUNCTION_HOST": "lambda",
        "FLOWW_LAMBDA_REGION": "us-east-1",
        "FLOWW_LAMBDA_ROLE_ARN": aws.role_arn,
        "FLOWW_LAMBDA_IMAGE_PREFIX": IMAGE_PREFIX,
        "FLOWW_LAMBDA_MEMORY_MB": "1024",
        "FLOWW_LAMBDA_TIMEOUT_S": "120",
        "FLOWW_LAMBDA_EPHEMERAL_STORAGE_MB": "1024",
        "FLOWW_LAMBDA_ENDPOINT_URL": aws.url,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
    }
    with running_server(home, env=env) as running:
        yield running


def definitions_answer(project: Path) -> Any:
    return handler(definitions_request(bundle_from_directory(project, "main.py"), {}))


def hello_answer(project: Path, name: str) -> Any:
    code = bundle_from_directory(project, "main.py")
    return handler(
        {
            "type": "invoke_trigger",
            "code": code_to_wire(code),
            "trigger": {
                "provider": {"type": "builtin", "alias": "default"},
                "trigger_type": "webhook",
                "input": {"path": "/hello/{name}", "methods": ["POST"]},
            },
            "event": {
                "method": "POST",
                "path": f"/hello/{name}",
                "headers": {},
                "query": {},
                "body": {},
                "raw_body_b64": "e30=",
                "path_params": {"name": name},
            },
            "providers": {},
            "execution": {
                "id": "exe",
                "token": "t",
                "api_url": "http://127.0.0.1:9",
                "deadline_ms": 10_000,
            },
        }
    )


def test_deploy_creates_the_function_and_a_code_only_redeploy_no_image(
    server: RunningServer, aws: MotoAws, logged_in: dict[str, str], tmp_path: Path
) -> None:
    env = logged_in
    project = tmp_path / "hello"
    made = floww(env, "init", str(project), "--name", "hello", "--yes")
    assert made.returncode == 0, made.stdout + made.stderr
    # Without hello's five-minute cron: a tick inside the test would take a queued answer.
    source = (EXAMPLE / "main.py").read_text()
    cron = source[source.index('@builtin.cron("*/5 * * * *")') : source.index("@builtin.manual")]
    (project / "main.py").write_text(source.replace(cron, ""))
    shutil.copy(EXAMPLE / "requirements.txt", project / "requirements.txt")

    aws.queue_results(definitions_answer(project))
    first = _deploy_json(env, project)
    assert (first["built"], first["uploaded"], first["runtime_created"]) == (True, True, True)

    # The image is the base's layer (mounted from the base repository on the server) plus
    # the dependency layer; the base never passed through the client.
    base_layer = base_image().layers[0]
    repository, _, tag = first["image_ref"].partition(":")
    stored = LocalImageRegistry(server.home / "registry", registry_host="127.0.0.1")
    image = stored.pull(repository, tag)
    assert image.layers[0] == base_layer and len(image.layers) == 2
    assert json.loads(image.config)["config"]["Cmd"] == ["floww.sdk.lambda_entry.handler"]
    client_cache = Path(env["XDG_CACHE_HOME"])
    assert not [
        p for p in client_cache.rglob("*") if p.is_file() and blob_digest(base_layer)[7:] in p.name
    ]
    assert not any(
        BASE_CONTENT[:4096] in p.read_bytes() for p in client_cache.rglob("*") if p.is_file()
    )

    (name,) = [n for n in aws.function_names() if n.startswith("floww-")]
    function = aws.client("lambda").get_function(FunctionName=name)
    assert function["Code"]["ImageUri"] == f"{IMAGE_PREFIX}/{first['image_ref']}"
    config = function["Configuration"]
    assert (config["PackageType"], config["State"]) == ("Image", "Active")
    assert (config["MemorySize"], config["Timeout"]) == (1024, 120)
    assert config["EphemeralStorage"] == {"Size": 1024}
    assert config["Role"] == aws.role_arn

    aws.queue_results(hello_answer(project, "ada"))
    hook = next(u for u in first["webhook_urls"] if "/hello/" in u).split(" ", 1)[1]
    answer = httpx.post(hook.replace("{name}", "ada"), json={}, timeout=60)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"message": "hi ada"}

    # A code-only change: same dependencies, so no build, no upload, no new function.
    main = project / "main.py"
    main.write_text(main.read_text().replace('@builtin.manual("greet")', '@builtin.manual("hi")'))
    registry_before = _registry_files(server)
    aws.queue_results(definitions_answer(project))
    second = _deploy_json(env, project)
    assert (second["built"], second["uploaded"], second["runtime_created"]) == (False,) * 3
    assert second["image_ref"] == first["image_ref"]
    assert _registry_files(server) == registry_before
    assert [n for n in aws.function_names() if n.startswith("floww-")] == [name]


def test_missing_lambda_settings_stop_the_start_with_a_sentence(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLOWW_")}
    env |= {"FLOWW_FUNCTION_HOST": "lambda", "FLOWW_LAMBDA_REGION": "eu-west-1"}
    done = floww(env, "serve", "--home", str(tmp_path / "home"), "--port", "0")
    assert done.returncode != 0
    output = done.stdout + done.stderr
    assert "FLOWW_LAMBDA_ROLE_ARN" in output and "FLOWW_LAMBDA_IMAGE_PREFIX" in output
    assert "Traceback" not in output
