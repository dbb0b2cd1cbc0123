"""floww's Lambda entry booted the way Lambda boots it.

The runtime image is built daemonless (``PipImageBuilder``, real pip) for the Lambda target
over a small base image this module makes, standing in for the AWS Lambda Python base: one
layer with the runtime interface client (``awslambdaric`` and its dependencies under
``/var/runtime``, copied from this environment) and an entrypoint that starts it, as the AWS
base does. The image is unpacked into a directory; its layers are bound at their own paths
(``/opt/floww``, ``/var/runtime``) with bubblewrap and the entrypoint runs with the image
config's environment and command (the handler the builder named), with
``AWS_LAMBDA_RUNTIME_API`` pointing at a loopback stand-in of the Runtime API
(``tests.integration.lambda_runtime_api``).

The code bundle comes from a real floww server (memory profile, on loopback): the entry
fetches it by digest with the execution's token. What the stand-in base does not cover: the
AWS base's own Python 3.12 and OS (this machine's interpreter runs the pure-Python layer), and
Lambda's sandbox, limits and freeze/thaw between invocations.
"""

from __future__ import annotations

import gzip
import importlib.metadata
import io
import json
import os
import queue
import shutil
import subprocess
import sys
import tarfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import attrs
import pytest
import uvicorn

from floww.adapters.aws.lambda_host import HANDLER, LAMBDA_PLATFORM, LAMBDA_PYTHON
from floww.adapters.local.image_builder import SITE_DIR, PipImageBuilder
from floww.adapters.local.image_layers import unpack_layers
from floww.adapters.local.wheel import build_floww_wheel
from floww.adapters.memory import InMemoryIdentity
from floww.adapters.memory.platform import InProcessPlatform
from floww.bootstrap import http_services, memory_adapters, server_deps
from floww.domain.errors import Unavailable
from floww.domain.model import RuntimeTarget
from floww.domain.oci import OciImage, blob_digest, runtime_repository
from floww.domain.usecases.deps import ServerSettings
from floww.domain.usecases.workflows import create_namespace
from floww.entrypoints.http.app import create_app
from floww.sdk.bundle import bundle_from_directory
from floww.sdk.catalog import fields_for
from floww.sdk.wire import code_to_wire, definitions_request
from floww.settings import Settings
from tests.integration.lambda_runtime_api import RuntimeApi
from tests.integration.serving import free_port

pytestmark = pytest.mark.integration

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "hello"
BASE_REF = "floww-base/lambda-stand-in:test"
ENTRYPOINT = "/var/runtime/bootstrap"
# The interpreter itself, not this virtual environment: the image alone brings floww.
PYTHON = os.path.realpath(getattr(sys, "_base_executable", sys.executable))


def _tar(entries: dict[str, tuple[bytes, int]]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        dirs: set[str] = set()
        for name in sorted(entries):
            parts = name.split("/")
            for depth in range(1, len(parts)):
                folder = "/".join(parts[:depth])
                if folder not in dirs:
                    dirs.add(folder)
                    info = tarfile.TarInfo(folder)
                    info.type, info.mode = tarfile.DIRTYPE, 0o755
                    archive.addfile(info)
            data, mode = entries[name]
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), mode
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def stand_in_base() -> OciImage:
    """The runtime interface client under /var/runtime and a bootstrap that starts it with
    the image's command, as the AWS base image's entrypoint does."""
    entries: dict[str, tuple[bytes, int]] = {}
    for name in ("awslambdaric", "simplejson", "snapshot-restore-py"):
        for file in importlib.metadata.distribution(name).files or ():
            parts = Path(file).parts
            if ".." in parts or "__pycache__" in parts or parts[0].endswith(".dist-info"):
                continue
            data = Path(str(file.locate())).read_bytes()
            entries[f"var/runtime/{Path(file).as_posix()}"] = (data, 0o644)
    bootstrap = f'#!/bin/sh\nexec "{PYTHON}" -m awslambdaric "$@"\n'
    entries[ENTRYPOINT.lstrip("/")] = (bootstrap.encode(), 0o755)
    layer = _tar(entries)
    config = {
        "architecture": "amd64",
        "os": "linux",
        "config": {
            "Env": [
                "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                "LAMBDA_TASK_ROOT=/var/task",
                "LAMBDA_RUNTIME_DIR=/var/runtime",
                "PYTHONPATH=/var/runtime",
            ],
            "Entrypoint": [ENTRYPOINT],
            "Cmd": ["app.handler"],
        },
        "rootfs": {"type": "layers", "diff_ids": [blob_digest(layer)]},
    }
    return OciImage(config=json.dumps(config).encode(), layers=(gzip.compress(layer, mtime=0),))


@attrs.frozen
class Platform:
    api_url: str
    workflow_id: str
    token: str
    code: Any
    fetches: list[str]


@pytest.fixture(scope="module")
def platform() -> Iterator[Platform]:
    """A real floww server (memory profile) on loopback holding a deployment of
    examples/hello; ``fetches`` lists the code fetches it answered."""
    port = free_port()
    settings = Settings(home=Path("/nonexistent"), port=port, profile="memory")
    adapters = memory_adapters()
    fetches: list[str] = []
    with ThreadPoolExecutor(4) as executor:
        deps = server_deps(adapters, ServerSettings(base_url=settings.base_url), executor)
        identity = deps.identity
        assert isinstance(identity, InMemoryIdentity)
        user = identity.create_user("ada@example.com")
        namespace = create_namespace(deps, user, "lambda")
        api = InProcessPlatform(
            deps, user, target=RuntimeTarget("linux/amd64", "3.12"), provider_fields=fields_for
        )
        workflow = api.create_workflow(namespace.id, "hello")
        runtime = api.create_runtime(
            namespace.id, "spec", f"{runtime_repository(namespace.id)}:spec"
        )
        code = bundle_from_directory(EXAMPLE, "main.py")
        found = deps.host.get_definitions(runtime, code, {})
        api.create_deployment(
            workflow.id,
            runtime_id=runtime.id,
            code=code,
            triggers=found.triggers,
            provider_mapping={},
        )
        token = deps.tokens.issue_execution_token(
            namespace_id=namespace.id,
            workflow_id=workflow.id,
            execution_id="exe_lambda",
            ttl_seconds=600,
        )
        app = create_app(http_services(settings, adapters, deps))

        async def counting(scope: Any, receive: Any, send: Any) -> None:
            if scope["type"] == "http" and "/code/" in scope["path"]:
                fetches.append(scope["path"])
            await app(scope, receive, send)

        server = uvicorn.Server(
            uvicorn.Config(counting, host="127.0.0.1", port=port, log_level="warning")
        )
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        deadline = time.monotonic() + 15
        while not server.started:
            assert time.monotonic() < deadline and thread.is_alive(), "uvicorn did not start"
            time.sleep(0.02)
        try:
            yield Platform(settings.base_url, workflow.id, token, code, fetches)
        finally:
            server.should_exit = True
            thread.join(timeout=10)


@pytest.fixture(scope="module")
def image_root(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    """The daemonless image for the Lambda target, unpacked; and its config."""
    base = stand_in_base()
    work = tmp_path_factory.mktemp("lambda-image")
    builder = PipImageBuilder(
        work / "cache", base_source=lambda ref: base, floww_wheel=build_floww_wheel()
    )
    target = RuntimeTarget(LAMBDA_PLATFORM, LAMBDA_PYTHON, base_image=BASE_REF, handler=HANDLER)
    requirements = (EXAMPLE / "requirements.txt").read_text().splitlines()
    try:
        built = builder.build(target, requirements)
    except Unavailable as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"the package index must be reachable in CI: {exc}")
        pytest.skip(f"the package index is not reachable: {exc}")
    assert built.image.layers[0] == base.layers[0] and len(built.image.layers) == 2
    root = work / "root"
    unpack_layers(built.image.layers, root)
    return root, json.loads(built.image.config)["config"]


@attrs.define
class Container:
    api: RuntimeApi
    process: subprocess.Popen[bytes]
    log: Path

    def invoke(self, payload: Any) -> Any:
        if self.process.poll() is not None:
            pytest.fail(f"the runtime exited:\n{self.log.read_text(errors='replace')}")
        try:
            answer = self.api.invoke(payload, timeout=30)
        except queue.Empty:
            pytest.fail(f"no answer in 30 s:\n{self.log.read_text(errors='replace')}")
        assert answer.kind == "response", answer
        return answer.body


@pytest.fixture
def container(
    image_root: tuple[Path, dict[str, Any]], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Container]:
    """A fresh container, warm for the test's invocations: the image's entrypoint and
    command, its environment, the image's directories bound at their own paths."""
    if shutil.which("bwrap") is None:
        pytest.fail("bubblewrap (bwrap) is needed to run the image at its own paths")
    root, config = image_root
    env = dict(item.split("=", 1) for item in config["Env"])
    api = RuntimeApi().start()
    env |= {
        "AWS_LAMBDA_RUNTIME_API": api.address,
        "AWS_LAMBDA_FUNCTION_NAME": "floww-test",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512",
        "AWS_REGION": "us-east-1",
        "HOME": "/tmp",
    }
    command = [*config["Entrypoint"], *config["Cmd"]]
    bound = [
        *("--bind", "/", "/"),
        *("--tmpfs", "/opt", "--ro-bind", str(root / "opt" / "floww"), "/opt/floww"),
        *("--tmpfs", "/var", "--ro-bind", str(root / "var" / "runtime"), "/var/runtime"),
        *("--tmpfs", "/tmp", "--dev", "/dev", "--proc", "/proc", "--die-with-parent"),
        "--clearenv",
        *[arg for name, value in env.items() for arg in ("--setenv", name, value)],
    ]
    log = tmp_path_factory.mktemp("container") / "runtime.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            ["bwrap", *bound, "--", *command], stdout=out, stderr=subprocess.STDOUT
        )
    try:
        yield Container(api, process, log)
    finally:
        process.kill()
        process.wait(timeout=10)
        api.stop()


def _invoke_request(platform: Platform, path: str, params: dict[str, str]) -> dict[str, Any]:
    return {
        "type": "invoke_trigger",
        "code": code_to_wire(platform.code, include_files=False),
        "trigger": {
            "provider": {"type": "builtin", "alias": "default"},
            "trigger_type": "webhook",
            "input": {"path": "/hello/{name}", "methods": ["POST"]},
        },
        "event": {
            "method": "POST",
            "path": path,
            "headers": {"content-type": "application/json"},
            "query": {},
            "body": {},
            "raw_body_b64": "e30=",
            "path_params": params,
        },
        "providers": {},
        "execution": {
            "id": "exe_lambda",
            "token": platform.token,
            "api_url": platform.api_url,
            "deadline_ms": 10_000,
            "workflow_id": platform.workflow_id,
        },
    }


def test_the_image_config_names_the_entry_over_the_base(
    image_root: tuple[Path, dict[str, Any]],
) -> None:
    root, config = image_root
    assert config["Entrypoint"] == [ENTRYPOINT]
    assert config["Cmd"] == [HANDLER]
    assert f"PYTHONPATH={SITE_DIR}:/var/runtime" in config["Env"]
    assert (root / SITE_DIR.strip("/") / "floww" / "sdk" / "lambda_entry.py").is_file()


def test_get_definitions_lists_the_triggers(container: Container, platform: Platform) -> None:
    answer = container.invoke(definitions_request(platform.code, {}))
    assert answer["ok"], answer
    assert {(t["trigger_type"], t["input"].get("path")) for t in answer["triggers"]} >= {
        ("webhook", "/hello/{name}"),
        ("cron", None),
        ("manual", None),
    }


def test_invoke_fetches_the_code_once_and_answers_with_the_result(
    container: Container, platform: Platform
) -> None:
    platform.fetches.clear()
    first = container.invoke(_invoke_request(platform, "/hello/ada", {"name": "ada"}))
    assert first["ok"], first
    assert first["result"] == {"message": "hi ada"}
    assert [line["message"] for line in first["logs"]] == ["saying hi to ada"]

    second = container.invoke(_invoke_request(platform, "/hello/bob", {"name": "bob"}))
    assert second["result"] == {"message": "hi bob"}
    # The warm container kept the code: one fetch, by digest, for both invocations.
    assert platform.fetches == [
        f"/api/workflows/{platform.workflow_id}/code/{platform.code.digest}"
    ]


def test_a_raising_handler_answers_the_error_contract(
    container: Container, platform: Platform
) -> None:
    answer = container.invoke(_invoke_request(platform, "/hello/", {}))
    assert answer["ok"] is False
    assert answer["error"]["type"] == "KeyError"
    assert "name" in answer["error"]["message"]
    assert "main.py" in answer["error"]["traceback"]


def test_code_the_platform_does_not_hold_is_a_clear_error(
    container: Container, platform: Platform
) -> None:
    request = _invoke_request(platform, "/hello/ada", {"name": "ada"})
    request["code"] = {"digest": "sha256:" + "0" * 64, "entrypoint": "main.py"}
    answer = container.invoke(request)
    assert answer["ok"] is False
    assert answer["error"]["type"] == "CodeUnavailable"
