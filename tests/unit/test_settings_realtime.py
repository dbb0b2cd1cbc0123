"""``FLOWW_REALTIME``: the embedded hub by default; ``centrifugo`` needs its API URL, API key
and websocket URL, and a missing one stops the start with a sentence naming it."""

from __future__ import annotations

from pathlib import Path

import pytest

from floww.domain.errors import InvalidInput
from floww.settings import Settings

CENTRIFUGO = {
    "FLOWW_REALTIME": "centrifugo",
    "FLOWW_CENTRIFUGO_API_URL": "http://centrifugo:8000",
    "FLOWW_CENTRIFUGO_API_KEY": "secret-key",
    "FLOWW_CENTRIFUGO_WS_URL": "wss://rt.example.com/connection/websocket",
}


def test_embedded_by_default(tmp_path: Path) -> None:
    assert Settings.load({"FLOWW_HOME": str(tmp_path)}).realtime == "embedded"


def test_centrifugo_with_everything_it_needs(tmp_path: Path) -> None:
    settings = Settings.load({"FLOWW_HOME": str(tmp_path), **CENTRIFUGO})
    assert settings.realtime == "centrifugo"
    assert settings.centrifugo_ws_url == CENTRIFUGO["FLOWW_CENTRIFUGO_WS_URL"]
    assert "secret-key" not in repr(settings)


@pytest.mark.parametrize(
    "missing",
    ["FLOWW_CENTRIFUGO_API_URL", "FLOWW_CENTRIFUGO_API_KEY", "FLOWW_CENTRIFUGO_WS_URL"],
)
def test_a_missing_centrifugo_setting_is_named(tmp_path: Path, missing: str) -> None:
    env = {"FLOWW_HOME": str(tmp_path), **CENTRIFUGO}
    del env[missing]
    with pytest.raises(InvalidInput, match=f"FLOWW_REALTIME=centrifugo needs {missing}"):
        Settings.load(env)


def test_all_missing_are_named_together(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput) as raised:
        Settings.load({"FLOWW_HOME": str(tmp_path), "FLOWW_REALTIME": "centrifugo"})
    for name in CENTRIFUGO:
        if name != "FLOWW_REALTIME":
            assert name in str(raised.value)


@pytest.mark.parametrize(
    ("name", "value", "says"),
    [
        ("FLOWW_REALTIME", "pusher", "FLOWW_REALTIME must be"),
        ("FLOWW_CENTRIFUGO_API_URL", "centrifugo:8000", "must start with http"),
        ("FLOWW_CENTRIFUGO_WS_URL", "https://rt.example.com", "must start with ws"),
        ("FLOWW_CENTRIFUGO_TIMEOUT_S", "0", "FLOWW_CENTRIFUGO_TIMEOUT_S must be more than 0"),
        ("FLOWW_CENTRIFUGO_TIMEOUT_S", "soon", "FLOWW_CENTRIFUGO_TIMEOUT_S="),
    ],
)
def test_bad_values_are_refused(tmp_path: Path, name: str, value: str, says: str) -> None:
    with pytest.raises(InvalidInput, match=says):
        Settings.load({"FLOWW_HOME": str(tmp_path), **CENTRIFUGO, name: value})
