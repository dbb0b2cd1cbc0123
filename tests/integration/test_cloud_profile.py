"""``FLOWW_PROFILE=cloud`` end to end: two ``floww serve`` replicas on one fresh PostgreSQL
database with every cloud component on its stand-in, driven through the real CLI.

Stand-ins, all on loopback: the WorkOS stand-in (``floww.testing.workos_standin``; the real
``workos`` SDK in the server talks to it), the embedded hub playing Centrifugo
(``tests.centrifugo_standin``), one moto server playing ECR's, IAM's and Lambda's APIs, and
Debian's ``docker-registry`` playing ECR's image endpoint (Basic auth with moto's fixed ECR
token, so the proxy only gets through with what ``GetAuthorizationToken`` returned).

Shown: ``floww login`` through WorkOS CLI Auth (the device code approved at the stand-in) and
the organization's namespace provisioned; ``floww deploy`` of ``examples/hello`` building the
runtime image daemonless over the base image the server declares (its layer mounted upstream,
never sent by the client) and pushing it through the registry proxy into the namespace's ECR
repository (created in moto by the proxy; a non-default ``FLOWW_ECR_REPOSITORY_PREFIX``), the
Lambda function created with that image's URI (ECR's repository name) and the configured role,
the deployment active; the deployed webhook answering through Lambda when sent to the other
replica; another organization's user, signed in at the other replica, seeing neither Acme's
namespace, workflows nor images; a code-only redeploy building, uploading and creating
nothing; ``floww dev`` connected to one replica (through Centrifugo) answering a dev webhook
sent to the other; the first replica killed, the second still answering, and a third started
afresh (nothing cached) finding the function; no secret of the cloud services in the
replicas' logs. And ``floww serve`` with the profile and a missing setting stopping with a
sentence naming it, without a traceback.

Not shown (the stand-ins cannot): hello's five-minute cron (removed from the deployed copy: a
tick would take a queued answer); moto never runs the image nor pulls it from the image URI
(its Lambda answers are canned: computed by floww's real Lambda entry in the test process for
the same code and queued before each invocation; running the image is
``test_lambda_entry.py``); moto's ECR API does not see images pushed to the data plane (the
proxy's pushes land in ``docker-registry``), so ``DescribeImages`` on it says nothing about
them; IAM policies are not checked; ECR's blob redirects to S3; WorkOS's hosted pages and rate
limits; Centrifugo's own JWTs, connection expiry and clustering.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import attrs
import httpx
import pytest

from floww.adapters.http_client.registry_v2 import RegistryV2Client
from floww.testing.workos_standin import WorkOSStandIn
from tests.centrifugo_standin import running_standin
from tests.integration.moto_ecr import ACCOUNT, ECR_PASSWORD
from tests.integration.moto_lambda import REGION, MotoAws, moto_aws
from tests.integration.postgres import fresh_database
from tests.integration.registry_upstream import Upstream, upstream_registry
from tests.integration.serving import FLOWW, RunningServer, free_port, running_server
from tests.integration.test_lambda_deploy import (
    BASE_REPOSITORY,
    EXAMPLE,
    base_image,
    definitions_answer,
    hello_answer,
)
from tests.integration.test_replicas import TIMEOUT, _project, _start_dev, _workflow_id

pytestmark = pytest.mark.integration

CLIENT = "client_floww"
CENTRIFUGO_KEY = "cloud-profile-centrifugo-key"
ECR_PREFIX = "acme/floww"  # not the default: ECR names differ from the server's image names
IMAGE_HOST = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com"
AWS_ENV = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}


@attrs.frozen
class Cloud:
    a: RunningServer
    b: RunningServer
    workos: WorkOSStandIn
    aws: MotoAws
    ecr_images: Upstream
    centrifugo_port: int
    env: dict[str, str]  # b's settings, to start one more replica like it


def _cloud_env(
    url: str, port: int, *, workos: str, aws: MotoAws, images: str, base: str
) -> dict[str, str]:
    """A replica's settings: the profile, PostgreSQL at ``url``, Centrifugo on ``port``, the
    WorkOS API at ``workos``, moto at ``aws.url``, ECR's image endpoint at ``images``."""
    centrifugo = f"127.0.0.1:{port}"
    return {
        **AWS_ENV,
        "FLOWW_PROFILE": "cloud",
        "FLOWW_DATABASE_URL": url,
        "FLOWW_WORKOS_CLIENT_ID": CLIENT,
        "FLOWW_WORKOS_API_KEY": "sk_test_standin",
        "FLOWW_WORKOS_BASE_URL": workos,
        "FLOWW_WORKOS_COOKIE_PASSWORD": "c" * 32,
        "FLOWW_CENTRIFUGO_API_URL": f"http://{centrifugo}",
        "FLOWW_CENTRIFUGO_API_KEY": CENTRIFUGO_KEY,
        "FLOWW_CENTRIFUGO_WS_URL": f"ws://{centrifugo}/connection/websocket",
        "FLOWW_REGISTRY_UPSTREAM_URL": images,
        "FLOWW_ECR_REGION": REGION,
        "FLOWW_ECR_REPOSITORY_PREFIX": ECR_PREFIX,
        "FLOWW_ECR_ENDPOINT_URL": aws.url,
        "FLOWW_LAMBDA_REGION": REGION,
        "FLOWW_LAMBDA_ENDPOINT_URL": aws.url,
        "FLOWW_LAMBDA_ROLE_ARN": aws.role_arn,
        "FLOWW_LAMBDA_IMAGE_PREFIX": IMAGE_HOST,
        "FLOWW_LAMBDA_BASE_IMAGE": base,
    }


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cloud]:
    home = tmp_path_factory.mktemp("cloud-home")  # shared: the platform's keys (docs/cloud.md)
    centrifugo_port = free_port()
    with (
        WorkOSStandIn(clients=(CLIENT,)) as workos,
        moto_aws() as aws,
        upstream_registry("AWS", ECR_PASSWORD) as images,
        fresh_database() as url,
        ExitStack() as stack,
    ):
        # The operator put the Lambda base image in ECR beforehand.
        with httpx.Client(timeout=30) as http:
            operator = RegistryV2Client(images.url, http=http, credentials=lambda r: images.auth)
            digest = operator.push(BASE_REPOSITORY, "3.12", base_image())
        servers = []
        for name in ("cloud-a", "cloud-b"):
            port = free_port()
            env = _cloud_env(
                url.render_as_string(hide_password=False),
                centrifugo_port,
                workos=workos.url,
                aws=aws,
                images=images.url,
                base=f"{BASE_REPOSITORY}@{digest}",
            )
            env |= _addressed(port)
            servers.append(stack.enter_context(running_server(home, env=env, name=name, port=port)))
        yield Cloud(servers[0], servers[1], workos, aws, images, centrifugo_port, env)


def _addressed(port: int) -> dict[str, str]:
    """A replica's public address: its own (no load balancer in front of the test's)."""
    url = f"http://127.0.0.1:{port}"
    return {"FLOWW_PUBLIC_URL": url, "FLOWW_WORKOS_REDIRECT_URI": f"{url}/auth/callback"}


def _cli_env(base: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FLOWW_", "AWS_"))}
    return env | {"XDG_CONFIG_HOME": str(base / "config"), "XDG_CACHE_HOME": str(base / "cache")}


def _floww(env: dict[str, str], *args: str, cwd: Path | None = None) -> tuple[int, str, str]:
    done = subprocess.run(
        [*FLOWW, *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=120
    )
    return done.returncode, done.stdout, done.stderr


def _login(server: RunningServer, env: dict[str, str], workos: WorkOSStandIn, user: str) -> str:
    """``floww login --no-browser``, the code approved at WorkOS as the person would."""
    process = subprocess.Popen(
        [*FLOWW, "login", "--server", server.url, "--no-browser"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert process.stdout is not None
        seen = []
        for line in process.stdout:
            seen.append(line)
            found = re.search(r"enter the code:\s+([A-Z]{4}-[A-Z]{4})", line)
            if found:
                workos.approve(found.group(1), user)
                break
        rest, _ = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
    output = "".join(seen) + rest
    assert process.returncode == 0, output
    return output


def test_login_deploy_webhook_and_dev_across_two_cloud_replicas(
    cloud: Cloud, tmp_path: Path
) -> None:
    workos, aws = cloud.workos, cloud.aws
    ada = workos.add_user("ada@acme.test")
    workos.add_membership(ada, workos.add_organization("Acme"), "admin")
    env = _cli_env(tmp_path / "client")

    output = _login(cloud.a, env, workos, ada)
    assert "ada@acme.test" in output and "Namespace: acme" in output, output

    # floww deploy of examples/hello, without its five-minute cron (a tick inside the test
    # would take a queued Lambda answer).
    project = tmp_path / "hello"
    shutil.copytree(EXAMPLE, project, ignore=shutil.ignore_patterns("tests"))
    source = (project / "main.py").read_text()
    cron = source[source.index('@builtin.cron("*/5 * * * *")') : source.index("@builtin.manual")]
    (project / "main.py").write_text(source.replace(cron, ""))
    aws.queue_results(definitions_answer(project))
    code, out, err = _floww(env, "deploy", "--yes", "--json", cwd=project)
    assert code == 0, out + err
    deployed = json.loads(out)
    assert (deployed["built"], deployed["uploaded"], deployed["runtime_created"]) == (True,) * 3

    # The image went through the proxy into the namespace's ECR repository (created in moto)
    # over the base's layer, mounted upstream.
    name, _, tag = deployed["image_ref"].partition(":")  # floww/<namespace id>:<tag>
    repository = f"{ECR_PREFIX}/{name.removeprefix('floww/')}"
    assert tag in cloud.ecr_images.tags(repository).json()["tags"]
    ecr = aws.client("ecr")
    assert [r["repositoryName"] for r in ecr.describe_repositories()["repositories"]] == [
        repository
    ]
    with httpx.Client(timeout=30) as http:
        images = RegistryV2Client(
            cloud.ecr_images.url, http=http, credentials=lambda r: cloud.ecr_images.auth
        )
        image = images.pull(repository, tag)
    assert image.layers[0] == base_image().layers[0] and len(image.layers) == 2
    for replica in (cloud.a, cloud.b):
        assert not [p for p in (replica.home / "registry").rglob("*") if p.is_file()]

    # The Lambda function runs that image, with the configured role; the deployment is active.
    (function_name,) = aws.function_names()
    function = aws.client("lambda").get_function(FunctionName=function_name)
    assert function["Code"]["ImageUri"] == f"{IMAGE_HOST}/{repository}:{tag}"
    assert (function["Configuration"]["State"], function["Configuration"]["Role"]) == (
        "Active",
        aws.role_arn,
    )
    code, out, err = _floww(env, "deployments", "list", "--json", cwd=project)
    assert code == 0, out + err
    (listed,) = json.loads(out)
    assert (listed["status"], listed["image_ref"]) == ("active", deployed["image_ref"])

    # The deployed webhook answers through Lambda at either replica (b: the CLI never spoke
    # to it).
    hook = next(u for u in deployed["webhook_urls"] if "/hello/" in u).split(" ", 1)[1]
    assert hook.startswith(cloud.a.url), hook
    for replica in (cloud.b, cloud.a):
        aws.queue_results(hello_answer(project, "ada"))
        at = hook.replace(cloud.a.url, replica.url).replace("{name}", "ada")
        answer = httpx.post(at, json={}, timeout=60)
        assert (answer.status_code, answer.json()) == (200, {"message": "hi ada"}), answer.text
    hook = hook.replace(cloud.a.url, cloud.b.url).replace("{name}", "ada")

    # Another organization's user, signed in at the other replica, sees nothing of Acme's.
    eve = workos.add_user("eve@other.test")
    workos.add_membership(eve, workos.add_organization("Other"), "admin")
    eve_env = _cli_env(tmp_path / "eve")
    _login(cloud.b, eve_env, workos, eve)
    code, out, err = _floww(eve_env, "namespace", "show", "--json")
    assert code == 0, out + err
    assert [n["name"] for n in json.loads(out)["namespaces"]] == ["other"]
    code, out, err = _floww(eve_env, "workflows", "list", "--json")
    assert (code, json.loads(out)) == (0, []), out + err
    code, out, err = _floww(eve_env, "workflows", "list", "--namespace", "acme", "--json")
    assert code != 0 and "namespace acme not found" in err and "Traceback" not in err, out + err
    for user, expected in ((eve, {401, 403}), (ada, {200})):
        listed = httpx.get(
            f"{cloud.b.url}/v2/{name}/tags/list",
            headers={"Authorization": f"Bearer {workos.access_token(user)}"},
            timeout=30,
        )
        assert listed.status_code in expected, listed.text
    assert listed.json() == {"name": name, "tags": [tag]}  # the server's name, not ECR's

    # A code-only change: same dependencies, so no build, no upload, no new function.
    main = project / "main.py"
    main.write_text(main.read_text().replace('@builtin.manual("greet")', '@builtin.manual("hi")'))
    aws.queue_results(definitions_answer(project))
    code, out, err = _floww(env, "deploy", "--yes", "--json", cwd=project)
    assert code == 0, out + err
    again = json.loads(out)
    assert (again["built"], again["uploaded"], again["runtime_created"]) == (False,) * 3
    assert again["image_ref"] == deployed["image_ref"]
    assert aws.function_names() == [function_name]

    # floww dev on replica a through Centrifugo answers a dev webhook sent to replica b.
    dev_project = _project(tmp_path / "dev", "cloud-dev", "hey")
    toml = dev_project / "floww.toml"
    toml.write_text(toml.read_text().replace('namespace = "default"', 'namespace = "acme"'))
    with running_standin(cloud.a.url, api_key=CENTRIFUGO_KEY, port=cloud.centrifugo_port):
        dev = _start_dev(dev_project, Path(env["XDG_CONFIG_HOME"]), "dev")
        try:
            dev_hook = f"{cloud.b.url}/webhook/{_workflow_id(dev_project)}/hello/ada"
            answer = httpx.post(dev_hook, json={}, timeout=TIMEOUT)
            assert (answer.status_code, answer.json()) == (200, {"message": "hey ada"})
        finally:
            assert dev.stop() == 0, dev.output()
    # The CLI's connection went through Centrifugo, which asked replica a's proxy endpoints.
    assert '"POST /centrifugo/connect HTTP/1.1" 200' in cloud.a.output()
    assert '"POST /centrifugo/subscribe HTTP/1.1" 200' in cloud.a.output()

    # Replica a killed: b alone still runs the deployment through Lambda.
    cloud.a.process.kill()
    cloud.a.process.wait(timeout=10)
    aws.queue_results(hello_answer(project, "bob"))
    answer = httpx.post(hook.replace("/ada", "/bob"), json={}, timeout=60)
    assert (answer.status_code, answer.json()) == (200, {"message": "hi bob"}), answer.text

    # A replica started afresh (nothing cached) finds the deployment's function and runs it.
    port = free_port()
    env_c = cloud.env | _addressed(port)
    with running_server(cloud.b.home, env=env_c, name="cloud-c", port=port) as fresh:
        aws.queue_results(hello_answer(project, "cy"))
        answer = httpx.post(
            hook.replace(cloud.b.url, fresh.url).replace("/ada", "/cy"), json={}, timeout=60
        )
        assert (answer.status_code, answer.json()) == (200, {"message": "hi cy"}), answer.text
    assert aws.function_names() == [function_name]

    # No secret of the cloud services in either replica's log.
    ecr_header = base64.b64encode(f"AWS:{ECR_PASSWORD}".encode()).decode()
    for replica in (cloud.a, cloud.b):
        log = replica.output()
        for secret in (ECR_PASSWORD, ecr_header, "sk_test_standin", CENTRIFUGO_KEY):
            assert secret not in log


@pytest.mark.parametrize(
    "missing",
    [
        "FLOWW_WORKOS_CLIENT_ID",
        "FLOWW_CENTRIFUGO_API_KEY",
        "FLOWW_ECR_REGION",
        "FLOWW_LAMBDA_ROLE_ARN",
        "FLOWW_LAMBDA_BASE_IMAGE",
        "FLOWW_PUBLIC_URL",
    ],
)
def test_the_cloud_profile_names_a_missing_setting_and_does_not_start(
    missing: str, tmp_path: Path
) -> None:
    """Every other setting given (the values need not answer: the server stops before it
    reaches any of them)."""
    nowhere = "http://127.0.0.1:9"
    env = _cli_env(tmp_path / "client") | _cloud_env(
        "postgresql+psycopg://floww@127.0.0.1:9/floww",
        9,
        workos=nowhere,
        aws=MotoAws(nowhere, f"arn:aws:iam::{ACCOUNT}:role/floww-functions"),
        images=nowhere,
        base=f"{BASE_REPOSITORY}:3.12",
    )
    env |= _addressed(9)
    del env[missing]
    code, out, err = _floww(env, "serve", "--home", str(tmp_path / "home"), "--port", "0")
    assert code != 0
    assert missing in out + err, out + err
    assert "Traceback" not in out + err, out + err
