"""login, logout, whoami, namespaces, config: against the real app through a transport."""

from __future__ import annotations

import json
import stat
from datetime import timedelta

import pytest

from floww.domain.errors import Unauthenticated
from floww.entrypoints.cli.errors import FlowwClickError
from floww.entrypoints.cli.store import ClientStore, StoredCredentials
from tests.unit.entrypoints.cli.conftest import SERVER, World


def test_login_prints_the_code_opens_the_browser_and_stores_tokens_0600(world: World) -> None:
    result = world.run("login", "--server", SERVER)
    assert result.exit_code == 0, result.output
    (opened,) = world.browser_opened
    user_code = opened.rsplit("user_code=", 1)[1]
    assert user_code in result.output
    assert f"{SERVER}/device" in result.output
    assert "Logged in to http://floww.test as ada@example.com" in result.output
    path = world.config_dir / "credentials.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    stored = json.loads(path.read_text())["servers"][SERVER]
    assert world.auth.verify(stored["access_token"]) == world.user
    # the only namespace is selected, and the server becomes the current one
    assert ClientStore(world.config_dir).namespace(SERVER) == "default"
    assert world.run("config", "get", "server").output.strip() == SERVER


def test_login_with_no_browser_still_prints_the_code_and_waits(world: World) -> None:
    world.approve_on_browser = False
    polls: list[float] = []

    def sleep(seconds: float) -> None:
        polls.append(seconds)
        world.clock.advance(seconds)
        if len(polls) == 3:  # the person approves while the CLI polls
            (device,) = world.auth.device_flow.pending()
            world.auth.approve_device(device.user_code, world.user)

    env = world.env()
    env.sleep = sleep
    from click.testing import CliRunner

    from floww.entrypoints.cli.main import cli

    result = CliRunner().invoke(cli, ["login", "--server", SERVER, "--no-browser"], obj=env)
    assert result.exit_code == 0, result.output
    assert world.browser_opened == []
    assert "enter the code" in result.output
    assert polls == [5, 5, 5]  # the server's interval, honoured


def test_denied_login_exits_non_zero_with_a_message(world: World) -> None:
    world.approve_on_browser = False

    def deny(url: str) -> bool:
        world.auth.deny_device(url.rsplit("user_code=", 1)[1])
        return True

    env = world.env()
    env.open_browser = deny
    from click.testing import CliRunner

    from floww.entrypoints.cli.main import cli

    result = CliRunner().invoke(cli, ["login", "--server", SERVER], obj=env)
    assert result.exit_code == 77
    assert "denied" in result.output


def test_commands_without_login_say_to_run_floww_login(world: World) -> None:
    result = world.run("whoami")
    assert result.exit_code == 77
    assert "run `floww login`" in result.output
    with pytest.raises(FlowwClickError) as raised:
        world.run_raw("workflows", "list")
    assert isinstance(raised.value.__cause__, Unauthenticated)
    assert raised.value.exit_code == 77


def test_whoami_and_logout_really_forgets(world: World) -> None:
    world.login()
    shown = world.run("whoami", "--json")
    assert shown.exit_code == 0, shown.output
    assert json.loads(shown.output)["email"] == "ada@example.com"
    out = world.run("logout")
    assert out.exit_code == 0 and "deleted" in out.output
    assert SERVER not in json.loads((world.config_dir / "credentials.json").read_text())["servers"]
    assert world.run("whoami").exit_code == 77


def test_floww_token_wins_over_stored_credentials(world: World) -> None:
    world.login()
    other = world.auth.create_user("bob@example.com")
    world.env_vars["FLOWW_TOKEN"] = world.auth.issue_token(other)
    shown = world.run("whoami", "--json")
    assert json.loads(shown.output)["email"] == "bob@example.com"


def test_floww_server_overrides_the_current_server(world: World) -> None:
    world.env_vars["FLOWW_SERVER"] = "http://elsewhere.test"
    assert world.run("config", "get", "server").output.strip() == "http://elsewhere.test"


def test_expired_token_is_refreshed_and_the_namespace_selection_survives(world: World) -> None:
    store = ClientStore(world.config_dir)
    tokens = world.refresher.issue(world.user, ttl=60)
    store.save_credentials(
        SERVER,
        StoredCredentials(
            tokens.access_token,
            tokens.refresh_token,
            world.clock.now().timestamp() + 60,
        ),
    )
    store.set_current_server(SERVER)
    world.run("namespace", "select", "default")
    world.clock.advance(timedelta(minutes=5).total_seconds())  # the access token expired
    shown = world.run("whoami", "--json")
    assert shown.exit_code == 0, shown.output
    after = store.credentials(SERVER)
    assert after is not None and after.access_token != tokens.access_token
    assert after.refresh_token != tokens.refresh_token
    assert store.namespace(SERVER) == "default"
    assert json.loads(shown.output)["namespace"] == "default"


def test_a_refused_refresh_says_to_log_in_again(world: World) -> None:
    store = ClientStore(world.config_dir)
    store.save_credentials(SERVER, StoredCredentials("stale", "rt_unknown", 0.0))
    store.set_current_server(SERVER)
    result = world.run("whoami")
    assert result.exit_code == 77
    assert "floww login" in result.output


def test_namespace_show_select_and_set(world: World) -> None:
    world.login()
    world.client.post(
        "/api/namespaces",
        json={"name": "ops"},
        headers={"Authorization": f"Bearer {world.auth.issue_token(world.user)}"},
    )
    shown = world.run("namespace", "show", "--json")
    doc = json.loads(shown.output)
    assert doc["current"] == "default"
    assert sorted(n["name"] for n in doc["namespaces"]) == ["default", "ops"]
    assert world.run("namespace", "select", "ops").exit_code == 0
    assert world.run("config", "get", "namespace").output.strip() == "ops"
    assert world.run("namespace", "set", "default").exit_code == 0
    assert world.run("config", "get", "namespace").output.strip() == "default"
    missing = world.run("namespace", "select", "nope")
    assert missing.exit_code == 66
    assert "namespace nope not found" in missing.output


def test_config_set_list_and_unknown_key(world: World) -> None:
    assert world.run("config", "set", "server", "http://a.test/").exit_code == 0
    listed = json.loads(world.run("config", "list", "--json").output)
    assert listed == {"server": "http://a.test", "namespace": None}
    bad = world.run("config", "get", "colour")
    assert bad.exit_code == 2
    assert "unknown key" in bad.output


def test_unreachable_server_says_what_to_check(world: World) -> None:
    import httpx

    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    env = world.env()
    env.transport = httpx.MockTransport(refuse)
    from click.testing import CliRunner

    from floww.entrypoints.cli.main import cli

    result = CliRunner().invoke(cli, ["login", "--server", "http://127.0.0.1:9"], obj=env)
    assert result.exit_code == 69
    assert "cannot reach http://127.0.0.1:9; is `floww serve` running?" in result.output


def test_every_command_has_help_with_an_example(world: World) -> None:
    from floww.entrypoints.cli.main import cli

    def walk(group: object, path: list[str]) -> list[list[str]]:
        import click

        found = []
        assert isinstance(group, click.Group)
        for name, command in group.commands.items():
            if name in ("serve", "dev"):
                continue
            if isinstance(command, click.Group):
                found += walk(command, [*path, name])
            else:
                found.append([*path, name])
        return found

    for command in walk(cli, []):
        shown = world.run(*command, "--help")
        assert shown.exit_code == 0, command
        assert "Example" in shown.output, command
