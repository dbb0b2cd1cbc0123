"""Every API route's happy path, over the in-memory adapters."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from floww.domain.model import ExecutionStatus, ProviderRef, TriggerSource
from floww.sdk.kv import HttpKvBackend

if TYPE_CHECKING:
    from conftest import World


def test_config_is_public_and_names_the_endpoints(world: World) -> None:
    answer = world.client.get("/api/config")
    assert answer.status_code == 200
    config = answer.json()
    assert config["runtime_target"] == {
        "platform": world.target.platform,
        "python_version": world.target.python_version,
        "base_image": "",
        "handler": "",
    }
    assert config["auth"]["device_authorization_endpoint"].endswith("/api/auth/device")
    assert config["auth"]["token_endpoint"] == "http://floww.test/api/auth/token"
    assert config["realtime"] == {"url": "ws://testserver/realtime"}
    assert config["version"]


def test_whoami_namespaces_and_workflows(world: World) -> None:
    ada = world.tenant("ada@example.com", "acme")
    me = world.client.get("/api/whoami", headers=ada.headers).json()
    assert (me["id"], me["kind"], me["email"]) == (ada.user.id, "user", "ada@example.com")

    spaces = world.client.get("/api/namespaces", headers=ada.headers).json()["items"]
    assert [s["name"] for s in spaces] == ["acme"]
    one = world.client.get(f"/api/namespaces/{ada.namespace_id}", headers=ada.headers)
    assert one.json()["name"] == "acme"

    base = f"/api/namespaces/{ada.namespace_id}/workflows"
    made = world.client.post(base, json={"name": "second"}, headers=ada.headers)
    assert made.status_code == 201
    names = [w["name"] for w in world.client.get(base, headers=ada.headers).json()["items"]]
    assert sorted(names) == ["hello", "second"]
    found = world.client.get(base, params={"name": "second"}, headers=ada.headers).json()
    assert [w["id"] for w in found["items"]] == [made.json()["id"]]
    assert world.client.get(base, params={"name": "nope"}, headers=ada.headers).json() == {
        "items": []
    }
    got = world.client.get(f"/api/workflows/{made.json()['id']}", headers=ada.headers)
    assert got.json()["namespace_id"] == ada.namespace_id

    again = world.client.post(base, json={"name": "second"}, headers=ada.headers)
    assert again.status_code == 409 and again.json()["error"]["type"] == "Conflict"


def test_providers_put_list_configs_delete(world: World) -> None:
    ada = world.tenant("ada@example.com", "acme")
    types = world.client.get("/api/provider-types", headers=ada.headers).json()["items"]
    github = next(t for t in types if t["type"] == "github")
    assert any(f["secret"] for f in github["fields"])
    one = world.client.get("/api/provider-types/github", headers=ada.headers).json()
    assert one == github
    assert world.client.get("/api/provider-types/nope", headers=ada.headers).status_code == 404

    config = {f["name"]: f"value-of-{f['name']}" for f in github["fields"] if f["required"]}
    secret_field = next(f["name"] for f in github["fields"] if f["secret"])
    config[secret_field] = "s3cr3t-never-shown"
    path = f"/api/namespaces/{ada.namespace_id}/providers/github/default"
    put = world.client.put(path, json={"config": config}, headers=ada.headers)
    assert put.status_code == 200, put.text
    assert "s3cr3t-never-shown" not in put.text

    listed = world.client.get(f"/api/namespaces/{ada.namespace_id}/providers", headers=ada.headers)
    assert listed.status_code == 200
    assert "s3cr3t-never-shown" not in listed.text
    (item,) = listed.json()["items"]
    assert (item["type"], item["alias"], item["config"][secret_field]) == (
        "github",
        "default",
        "********",
    )

    configs = world.client.get(
        f"/api/namespaces/{ada.namespace_id}/provider-configs", headers=ada.headers
    ).json()
    assert configs["providers"]["github:default"][secret_field] == "s3cr3t-never-shown"

    assert world.client.delete(path, headers=ada.headers).status_code == 204
    assert world.repo.find_provider(ada.namespace_id, ProviderRef("github")) is None
    assert world.client.delete(path, headers=ada.headers).status_code == 404


def test_secret_providers_are_fully_redacted_in_lists(world: World) -> None:
    ada = world.tenant("ada@example.com", "acme")
    path = f"/api/namespaces/{ada.namespace_id}/providers/secret/stripe"
    put = world.client.put(path, json={"config": {"api_key": "sk_live_xyz"}}, headers=ada.headers)
    assert put.status_code == 200
    listed = world.client.get(f"/api/namespaces/{ada.namespace_id}/providers", headers=ada.headers)
    assert "sk_live_xyz" not in listed.text and "sk_live_xyz" not in put.text


def test_deploy_hello_then_call_its_webhook_and_read_the_execution(world: World) -> None:
    ada = world.tenant("ada@example.com", "acme")
    receipt = world.deploy_hello(ada)
    assert receipt["deployment"]["status"] == "active"
    assert "files" not in receipt["deployment"]["code"]
    assert (
        f"POST http://floww.test/webhook/{ada.workflow_id}/hello/{{name}}"
        in (receipt["webhook_urls"])
    )
    assert sorted(s["trigger_type"] for s in receipt["diff"]["added"]) == [
        "cron",
        "manual",
        "webhook",
    ]

    found = world.client.get(
        f"/api/namespaces/{ada.namespace_id}/runtimes/{receipt['runtime']['spec_hash']}",
        headers=ada.headers,
    )
    assert found.status_code == 200 and found.json()["status"] == "ready"
    missing = world.client.get(
        f"/api/namespaces/{ada.namespace_id}/runtimes/feedface", headers=ada.headers
    )
    assert missing.status_code == 404

    answer = world.client.post(f"/webhook/{ada.workflow_id}/hello/ada", json={"x": 1})
    assert answer.status_code == 200
    assert answer.json() == {"message": "hi ada"}
    assert answer.headers["content-type"].startswith("application/json")
    execution_id = answer.headers["x-floww-execution-id"]

    listed = world.client.get(f"/api/workflows/{ada.workflow_id}/executions", headers=ada.headers)
    assert listed.status_code == 200
    (entry,) = listed.json()["items"]
    assert entry["id"] == execution_id and entry["status"] == "completed"
    assert entry["trigger"] == "webhook POST /hello/{name}"
    assert "logs" not in entry and listed.json()["next_before"] is None

    one = world.client.get(f"/api/executions/{execution_id}", headers=ada.headers).json()
    assert one["result"] == {"message": "hi ada"}
    assert any("saying hi to ada" in line["message"] for line in one["logs"])
    assert one["event"]["path_params"] == {"name": "ada"}

    deployments = world.client.get(
        f"/api/workflows/{ada.workflow_id}/deployments", headers=ada.headers
    ).json()["items"]
    assert [d["id"] for d in deployments] == [receipt["deployment"]["id"]]

    plan = world.client.post(
        f"/api/workflows/{ada.workflow_id}/deployments/plan",
        json={"triggers": world.hello_specs()[:1]},
        headers=ada.headers,
    )
    assert plan.status_code == 200
    assert (len(plan.json()["kept"]), len(plan.json()["removed"])) == (1, 2)


def test_execution_paging_and_status_filter(world: World) -> None:
    ada = world.tenant("ada@example.com", "acme")
    world.deploy_hello(ada)
    for name in ("a", "b", "c"):
        assert world.client.post(f"/webhook/{ada.workflow_id}/hello/{name}").status_code == 200
    base = f"/api/workflows/{ada.workflow_id}/executions"
    page = world.client.get(base, params={"limit": 2}, headers=ada.headers).json()
    assert len(page["items"]) == 2 and page["next_before"]
    rest = world.client.get(
        base, params={"limit": 2, "before": page["next_before"]}, headers=ada.headers
    ).json()
    seen = [e["id"] for e in page["items"] + rest["items"]]
    assert len(set(seen)) == 3
    received = [datetime.fromisoformat(e["received_at"]) for e in page["items"] + rest["items"]]
    assert received == sorted(received, reverse=True)
    failed = world.client.get(base, params={"status": "failed"}, headers=ada.headers).json()
    assert failed["items"] == []
    bad = world.client.get(base, params={"status": "bogus"}, headers=ada.headers)
    assert bad.status_code == 400 and "bogus" in bad.json()["error"]["message"]
    assert world.client.get(base, params={"limit": 0}, headers=ada.headers).status_code == 400
    assert world.client.get(base, params={"before": "x"}, headers=ada.headers).status_code == 400


def test_executions_filtered_by_trigger_and_time_and_across_the_namespace(world: World) -> None:
    ada = world.tenant("ada@example.com", "acme")
    world.deploy_hello(ada)
    assert world.client.post(f"/webhook/{ada.workflow_id}/hello/a").status_code == 200
    manual = world.client.post(
        f"/api/workflows/{ada.workflow_id}/manual/greet",
        json={"input": {"name": "b"}},
        headers=ada.headers,
    ).json()
    assert "owner" not in manual and "lease_expires_at" not in manual
    base = f"/api/workflows/{ada.workflow_id}/executions"
    everything = world.client.get(base, headers=ada.headers).json()["items"]
    assert len(everything) == 2
    assert all("owner" not in e and "lease_expires_at" not in e for e in everything)

    only = world.client.get(
        base, params={"trigger_id": manual["trigger_id"]}, headers=ada.headers
    ).json()["items"]
    assert [e["id"] for e in only] == [manual["id"]]
    later = "2999-01-01T00:00:00+00:00"
    assert world.client.get(base, params={"since": later}, headers=ada.headers).json() == {
        "items": [],
        "next_before": None,
    }
    naive = world.client.get(base, params={"since": "2020-01-01T00:00:00"}, headers=ada.headers)
    assert naive.status_code == 400 and "since" in naive.json()["error"]["message"]

    grace = world.tenant("grace@example.com", "acme-2")
    world.deploy_hello(grace)
    assert world.client.post(f"/webhook/{grace.workflow_id}/hello/c").status_code == 200
    across = world.client.get(f"/api/namespaces/{ada.namespace_id}/executions", headers=ada.headers)
    assert across.status_code == 200
    entries = across.json()["items"]
    assert {e["id"] for e in entries} == {e["id"] for e in everything}
    assert {e["trigger"] for e in entries} == {"webhook POST /hello/{name}", "manual greet"}
    failed = world.client.get(
        f"/api/namespaces/{ada.namespace_id}/executions",
        params={"status": "failed"},
        headers=ada.headers,
    )
    assert failed.json()["items"] == []
    theirs = world.client.get(
        f"/api/namespaces/{grace.namespace_id}/executions", headers=ada.headers
    )
    assert theirs.status_code == 404


def test_manual_invoke(world: World) -> None:
    ada = world.tenant("ada@example.com", "acme")
    world.deploy_hello(ada)
    answer = world.client.post(
        f"/api/workflows/{ada.workflow_id}/manual/greet",
        json={"input": {"name": "grace"}},
        headers=ada.headers,
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["status"] == ExecutionStatus.COMPLETED.value
    assert answer.json()["result"] == {"greeting": "hello, grace"}
    unknown = world.client.post(
        f"/api/workflows/{ada.workflow_id}/manual/nope", json={}, headers=ada.headers
    )
    assert unknown.status_code == 404


def test_kv_matches_the_sdk_client(world: World) -> None:
    ada = world.tenant("ada@example.com", "acme")
    token = world.deps.tokens.issue_execution_token(
        namespace_id=ada.namespace_id,
        workflow_id=ada.workflow_id,
        execution_id="exe_test",
        ttl_seconds=60,
    )

    def transport(request: object, timeout: float) -> bytes:
        import urllib.error
        import urllib.request

        assert isinstance(request, urllib.request.Request)
        url = request.full_url.removeprefix("http://testserver")
        answer = world.client.request(
            request.get_method(), url, content=request.data, headers=dict(request.header_items())
        )
        if answer.status_code >= 400:
            raise urllib.error.HTTPError(
                request.full_url,
                answer.status_code,
                "error",
                None,
                None,  # type: ignore[arg-type]
            )
        return answer.content

    backend = HttpKvBackend("http://testserver", token, transport=transport)
    backend.set("counter/one", {"n": 1})
    backend.set("counter/two", 2)
    backend.set("other", False)
    assert backend.get("counter/one") == {"n": 1}
    assert backend.list("counter/") == {"counter/one": {"n": 1}, "counter/two": 2}
    backend.delete("counter/one")
    backend.delete("counter/one")  # absent: ignored by the client
    assert backend.list("") == {"counter/two": 2, "other": False}
    assert world.repo.kv_get(ada.namespace_id, "counter/two").value == 2

    # A user names the namespace.
    q = {"namespace": ada.namespace_id}
    got = world.client.get("/api/kv/other", params=q, headers=ada.headers)
    assert got.status_code == 200 and got.json()["value"] is False
    assert world.client.get("/api/kv/other", headers=ada.headers).status_code == 400


def test_dev_triggers_put_and_delete(world: World) -> None:
    ada = world.tenant("ada@example.com", "acme")
    path = f"/api/workflows/{ada.workflow_id}/dev-triggers"
    put = world.client.put(path, json={"triggers": world.hello_specs()}, headers=ada.headers)
    assert put.status_code == 200
    assert (
        f"POST http://floww.test/webhook/{ada.workflow_id}/hello/{{name}}"
        in (put.json()["webhook_urls"])
    )
    assert len(world.repo.list_triggers(ada.workflow_id, TriggerSource.DEV)) == 3
    assert world.client.delete(path, headers=ada.headers).status_code == 204
    assert world.repo.list_triggers(ada.workflow_id, TriggerSource.DEV) == []


def test_dev_sessions_over_http(world: World) -> None:
    ada = world.tenant("ada@example.com", "acme")
    path = f"/api/workflows/{ada.workflow_id}/dev-triggers"
    session = f"/api/workflows/{ada.workflow_id}/dev-sessions"
    specs = world.hello_specs()
    first = world.client.put(
        path, json={"triggers": specs, "session_id": "dev_one"}, headers=ada.headers
    )
    assert first.status_code == 200
    assert first.json()["session_id"] == "dev_one" and first.json()["lease_seconds"] > 0
    second = world.client.put(
        path, json={"triggers": specs[:1], "session_id": "dev_two"}, headers=ada.headers
    )
    assert second.status_code == 200
    assert len(world.repo.list_triggers(ada.workflow_id, TriggerSource.DEV)) == 1  # the newest's

    assert world.client.post(f"{session}/dev_one/lease", headers=ada.headers).status_code == 204
    missing = world.client.post(f"{session}/dev_nobody/lease", headers=ada.headers)
    assert missing.status_code == 404
    bad = world.client.put(path, json={"triggers": [], "session_id": "a b"}, headers=ada.headers)
    assert bad.status_code == 400 and "session id" in bad.json()["error"]["message"]

    assert world.client.delete(f"{session}/dev_two", headers=ada.headers).status_code == 204
    assert len(world.repo.list_triggers(ada.workflow_id, TriggerSource.DEV)) == 3  # dev_one's
    assert world.client.delete(f"{session}/dev_one", headers=ada.headers).status_code == 204
    assert world.repo.list_triggers(ada.workflow_id, TriggerSource.DEV) == []
