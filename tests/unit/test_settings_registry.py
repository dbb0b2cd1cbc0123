"""The registry settings (``FLOWW_REGISTRY`` and its upstream): read from the environment,
refused with a sentence that names what to set."""

from __future__ import annotations

from pathlib import Path

import pytest

from floww.domain.errors import InvalidInput
from floww.settings import Settings


def test_the_local_registry_is_the_default_and_the_proxy_is_read_from_the_environment(
    tmp_path: Path,
) -> None:
    assert Settings.load({"FLOWW_HOME": str(tmp_path)}).registry == "local"
    settings = Settings.load(
        {
            "FLOWW_HOME": str(tmp_path),
            "FLOWW_REGISTRY": "proxy",
            "FLOWW_REGISTRY_UPSTREAM_AUTH": "ecr",
            "FLOWW_ECR_REGION": "eu-west-1",
            "FLOWW_ECR_REPOSITORY_PREFIX": "acme/floww",
            "FLOWW_ECR_SCAN_ON_PUSH": "true",
            "FLOWW_REGISTRY_SHARED_REPOSITORIES": "floww-base/python",
        }
    )
    assert (settings.registry, settings.registry_upstream_auth) == ("proxy", "ecr")
    assert (settings.ecr_region, settings.ecr_repository_prefix) == ("eu-west-1", "acme/floww")
    assert settings.ecr_scan_on_push is True
    assert settings.registry_shared_repositories == "floww-base/python"


def test_the_upstream_password_never_shows_in_the_settings_repr(tmp_path: Path) -> None:
    settings = Settings.load(
        {
            "FLOWW_HOME": str(tmp_path),
            "FLOWW_REGISTRY": "proxy",
            "FLOWW_REGISTRY_UPSTREAM_URL": "https://registry.example:5000",
            "FLOWW_REGISTRY_UPSTREAM_USERNAME": "floww",
            "FLOWW_REGISTRY_UPSTREAM_PASSWORD": "hunter2-upstream",
        }
    )
    assert settings.registry_upstream_password == "hunter2-upstream"
    assert "hunter2-upstream" not in repr(settings)


@pytest.mark.parametrize(
    ("environ", "named"),
    [
        ({"FLOWW_REGISTRY": "s3"}, "FLOWW_REGISTRY must be 'local' or 'proxy'"),
        ({"FLOWW_REGISTRY": "proxy"}, "needs FLOWW_REGISTRY_UPSTREAM_URL"),
        (
            {"FLOWW_REGISTRY": "proxy", "FLOWW_REGISTRY_UPSTREAM_AUTH": "token"},
            "FLOWW_REGISTRY_UPSTREAM_AUTH must be 'basic' or 'ecr'",
        ),
        (
            {"FLOWW_REGISTRY": "proxy", "FLOWW_REGISTRY_UPSTREAM_AUTH": "ecr"},
            "needs FLOWW_ECR_REGION",
        ),
        (
            {
                "FLOWW_REGISTRY": "proxy",
                "FLOWW_REGISTRY_UPSTREAM_URL": "https://r.example",
                "FLOWW_REGISTRY_UPSTREAM_USERNAME": "floww",
            },
            "both FLOWW_REGISTRY_UPSTREAM_USERNAME and FLOWW_REGISTRY_UPSTREAM_PASSWORD",
        ),
        (
            {"FLOWW_REGISTRY": "proxy", "FLOWW_REGISTRY_UPSTREAM_URL": "r.example:5000"},
            "must start with http:// or https://",
        ),
        (
            {
                "FLOWW_REGISTRY": "proxy",
                "FLOWW_REGISTRY_UPSTREAM_AUTH": "ecr",
                "FLOWW_ECR_REGION": "eu-west-1",
                "FLOWW_ECR_REPOSITORY_PREFIX": "Acme Floww",
            },
            "FLOWW_ECR_REPOSITORY_PREFIX must be a lowercase repository path",
        ),
        ({"FLOWW_ECR_SCAN_ON_PUSH": "maybe"}, "FLOWW_ECR_SCAN_ON_PUSH"),
    ],
)
def test_missing_or_bad_registry_settings_are_named(
    tmp_path: Path, environ: dict[str, str], named: str
) -> None:
    with pytest.raises(InvalidInput) as info:
        Settings.load({"FLOWW_HOME": str(tmp_path), **environ})
    assert named in info.value.message


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("FLOWW_ECR_REPOSITORY_PREFIX", "floww-base"),
        ("FLOWW_ECR_REPOSITORY_PREFIX", "floww-base/tenants"),
        ("FLOWW_REGISTRY_SHARED_REPOSITORIES", "floww-base/python, floww/ns_victim"),
    ],
)
def test_settings_that_would_open_a_namespace_to_every_other_are_refused(
    name: str, value: str, tmp_path: Path
) -> None:
    """Base repositories are readable by every namespace: tenants' images may not live under
    them, and only bases may be shared as mount sources."""
    env = {
        "FLOWW_HOME": str(tmp_path),
        "FLOWW_REGISTRY": "proxy",
        "FLOWW_REGISTRY_UPSTREAM_AUTH": "ecr",
        "FLOWW_ECR_REGION": "eu-west-1",
        name: value,
    }
    with pytest.raises(InvalidInput, match=name):
        Settings.load(env)
