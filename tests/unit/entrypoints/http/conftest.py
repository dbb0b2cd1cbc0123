"""An HTTP app over the in-memory adapters, with two tenants and helpers to deploy
examples/hello through the API."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import attrs
import pytest
from starlette.testclient import TestClient
from tests.support import EXAMPLES, TEST_SETTINGS, memory_deps

from floww.adapters.inprocess import InProcessRunner, SystemClock
from floww.adapters.memory import (
    FakeImageBuilder,
    InMemoryIdentity,
    InMemoryImageRegistry,
    InMemoryRealtime,
    InMemorySecretBox,
    InMemoryWorkflowRepo,
)
from floww.domain.errors import Unauthenticated
from floww.domain.model import Principal, RuntimeTarget
from floww.domain.usecases.deploy import runtime_repository
from floww.domain.usecases.deps import ServerDeps
from floww.entrypoints.http.app import HttpServices, create_app
from floww.sdk import wire
from floww.sdk.bundle import bundle_from_directory
from floww.sdk.catalog import fields_for, provider_types

EXAMPLE = EXAMPLES / "hello"
TARGET = RuntimeTarget("linux/amd64", "3.12")
PASSWORD = "correct horse battery staple"
MAX_BODY = 64 * 1024


@attrs.define
class Tenant:
    user: Principal
    token: str
    namespace_id: str
    workflow_id: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@attrs.define
class World:
    deps: ServerDeps
    auth: InMemoryIdentity
    repo: InMemoryWorkflowRepo
    realtime: InMemoryRealtime
    registry: InMemoryImageRegistry
    client: TestClient

    def tenant(self, email: str, namespace: str, workflow: str = "hello") -> Tenant:
        user = self.auth.create_user(email)
        token = self.auth.issue_token(user)
        headers = {"Authorization": f"Bearer {token}"}
        ns = self.client.post("/api/namespaces", json={"name": namespace}, headers=headers)
        assert ns.status_code == 201, ns.text
        wf = self.client.post(
            f"/api/namespaces/{ns.json()['id']}/workflows", json={"name": workflow}, headers=headers
        )
        assert wf.status_code == 201, wf.text
        return Tenant(user, token, ns.json()["id"], wf.json()["id"])

    target: RuntimeTarget = TARGET

    @staticmethod
    def hello_specs() -> list[dict[str, Any]]:
        return hello_specs()

    def deploy_hello(self, tenant: Tenant) -> dict[str, Any]:
        """Push a runtime image, create the runtime and deploy examples/hello, all via HTTP."""
        builder = FakeImageBuilder()
        image = builder.build(TARGET, [])
        repository = runtime_repository(tenant.namespace_id)
        self.registry.push(repository, image.tag, image.image)
        runtime = self.client.post(
            f"/api/namespaces/{tenant.namespace_id}/runtimes",
            json={"spec_hash": image.tag, "image_ref": f"{repository}:{image.tag}"},
            headers=tenant.headers,
        )
        assert runtime.status_code == 201, runtime.text
        code = hello_code()
        definitions = InProcessRunner().load(code, {})
        deployed = self.client.post(
            f"/api/workflows/{tenant.workflow_id}/deployments",
            json={
                "runtime_id": runtime.json()["id"],
                "code": wire.code_to_wire(code),
                "triggers": [wire.spec_to_wire(s) for s in definitions.triggers],
            },
            headers=tenant.headers,
        )
        assert deployed.status_code == 201, deployed.text
        body: dict[str, Any] = deployed.json()
        body["runtime"] = runtime.json()
        return body

    def deploy_source(self, source: str) -> Tenant:
        """A tenant (ada@example.com in acme) whose workflow runs ``source`` as its
        ``main.py``, deployed through the API on the runtime of ``deploy_hello``."""
        tenant = self.tenant("ada@example.com", "acme")
        receipt = self.deploy_hello(tenant)
        answer = self.client.post(
            f"/api/workflows/{tenant.workflow_id}/deployments",
            json={
                "runtime_id": receipt["runtime"]["id"],
                "code": {"entrypoint": "main.py", "files": {"main.py": source}},
            },
            headers=tenant.headers,
        )
        assert answer.status_code == 201, answer.text
        return tenant


def hello_code() -> Any:
    return bundle_from_directory(EXAMPLE, "main.py")


def hello_specs() -> list[dict[str, Any]]:
    return [wire.spec_to_wire(s) for s in InProcessRunner().load(hello_code(), {}).triggers]


@pytest.fixture
def world() -> Iterator[World]:
    yield from make_world()


def make_world(**replace: Any) -> Iterator[World]:
    """The world; ``replace`` swaps further adapters (as ``memory_deps`` takes them)."""
    clock = SystemClock()
    auth = InMemoryIdentity(clock, verification_uri="http://testserver/device")
    repo = InMemoryWorkflowRepo(InMemorySecretBox())
    realtime = InMemoryRealtime()
    passwords: dict[str, str] = {}

    def password_login(email: str, password: str) -> Principal:
        if passwords.get(email) != password:
            raise Unauthenticated("wrong email or password")
        return auth.create_user(email)

    passwords["ada@example.com"] = PASSWORD
    settings = attrs.evolve(TEST_SETTINGS, execution_timeout_s=5, max_body_bytes=MAX_BODY)
    with memory_deps(
        clock=clock,
        identity=auth,
        api_keys=None,
        repo=repo,
        realtime=realtime,
        settings=settings,
        **replace,
    ) as deps:
        services = HttpServices(
            deps=deps,
            provider_types=lambda: {name: fields_for(name) for name in provider_types()},
            fields_for=fields_for,
            runtime_target=TARGET,
            public_config={"realtime": {"url": "ws://testserver/realtime"}},
            password_login=password_login,
        )
        app = create_app(services)
        client = TestClient(app, raise_server_exceptions=False)
        yield World(deps, auth, repo, realtime, InMemoryImageRegistry(), client)
