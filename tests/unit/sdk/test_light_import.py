"""The SDK runs inside users' runtimes: importing it must not drag in server libraries."""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = [
    "sqlalchemy",
    "boto3",
    "starlette",
    "click",
    "dependency_injector",
    "uvicorn",
    "httpx",
    "cattrs",
]


def test_importing_floww_and_the_runtime_stays_light() -> None:
    code = (
        "import json, sys\n"
        "import floww, floww.sdk.runtime, floww.sdk.collector, floww.sdk.catalog\n"
        f"heavy = {HEAVY!r}\n"
        "print(json.dumps(sorted(m for m in heavy if m in sys.modules)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == []


def test_floww_exports_exactly_the_userspace_api() -> None:
    import floww

    assert sorted(floww.__all__) == [
        "Builtin",
        "Context",
        "CronEvent",
        "Discord",
        "GitHub",
        "GitLab",
        "Jira",
        "Linear",
        "ManualEvent",
        "Provider",
        "ProviderEvent",
        "Response",
        "Retry",
        "Secret",
        "Slack",
        "StandardWebhooks",
        "Stripe",
        "Todoist",
        "WebhookEvent",
    ]
    assert all(hasattr(floww, name) for name in floww.__all__)
