"""The CLI's files under ``$XDG_CONFIG_HOME/floww`` (default ``~/.config/floww``):

- ``credentials.json`` (mode 0600): per server URL, the access token, refresh token and expiry.
- ``config.json``: the current server, and per server the selected namespace. It is kept
  apart from the credentials so that refreshing or forgetting tokens never loses a selection.

Both are replaced atomically; a file that cannot be read as JSON counts as empty.
"""

from __future__ import annotations

import json
import os
import tempfile
import urllib.parse
from pathlib import Path
from typing import Any

import attrs

from floww.domain.errors import InvalidInput

__all__ = ["ClientStore", "StoredCredentials", "default_config_dir"]


def default_config_dir(environ: dict[str, str]) -> Path:
    base = environ.get("XDG_CONFIG_HOME") or str(
        Path(environ.get("HOME", "~")).expanduser() / ".config"
    )
    return Path(base).expanduser() / "floww"


@attrs.frozen
class StoredCredentials:
    access_token: str = attrs.field(repr=False)
    refresh_token: str | None = attrs.field(default=None, repr=False)
    expires_at: float | None = None  # seconds since the epoch

    def expired(self, now: float, margin: float = 30.0) -> bool:
        return self.expires_at is not None and now + margin >= self.expires_at


def _read(path: Path) -> dict[str, Any]:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return doc if isinstance(doc, dict) else {}


def _write(path: Path, doc: dict[str, Any], mode: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(doc, out, indent=2, sort_keys=True)
            out.write("\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def normalize_server(url: str) -> str:
    return url.strip().rstrip("/")


def server_url(given: str) -> str:
    """A server URL as commands use it: ``http://`` added to a bare ``host:port``, no trailing
    slash. ``InvalidInput`` saying what a server URL looks like for anything else (another
    scheme, no host, a path such as ``/api``)."""
    url = normalize_server(given)
    if "://" not in url and url:
        url = f"http://{url}"
    parts = urllib.parse.urlsplit(url)
    try:
        port_ok = parts.port is None or parts.port > 0
    except ValueError:
        port_ok = False
    host_ok = bool(parts.hostname) and not any(c.isspace() for c in parts.netloc)
    if parts.scheme not in ("http", "https") or not host_ok or not port_ok or parts.path:
        raise InvalidInput(
            f"{given!r} is not a floww server URL: give http(s)://HOST[:PORT], without a path "
            "(for example http://127.0.0.1:8000)",
            field="server",
        )
    return url


class ClientStore:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.credentials_path = directory / "credentials.json"
        self.config_path = directory / "config.json"

    # credentials ------------------------------------------------------------------------------

    def credentials(self, server: str) -> StoredCredentials | None:
        entry = _read(self.credentials_path).get("servers", {}).get(normalize_server(server))
        if not isinstance(entry, dict) or not isinstance(entry.get("access_token"), str):
            return None
        expires = entry.get("expires_at")
        return StoredCredentials(
            access_token=entry["access_token"],
            refresh_token=entry.get("refresh_token") or None,
            expires_at=float(expires) if isinstance(expires, int | float) else None,
        )

    def save_credentials(self, server: str, credentials: StoredCredentials) -> None:
        doc = _read(self.credentials_path)
        servers = doc.setdefault("servers", {})
        servers[normalize_server(server)] = {
            "access_token": credentials.access_token,
            "refresh_token": credentials.refresh_token,
            "expires_at": credentials.expires_at,
        }
        _write(self.credentials_path, doc, 0o600)

    def forget_credentials(self, server: str) -> bool:
        """Remove the server's tokens; whether there were any."""
        doc = _read(self.credentials_path)
        removed = doc.get("servers", {}).pop(normalize_server(server), None) is not None
        _write(self.credentials_path, doc, 0o600)
        return removed

    # settings ---------------------------------------------------------------------------------

    def settings(self) -> dict[str, Any]:
        return _read(self.config_path)

    def current_server(self) -> str | None:
        server = self.settings().get("server")
        return server if isinstance(server, str) and server else None

    def set_current_server(self, server: str) -> None:
        doc = self.settings()
        doc["server"] = normalize_server(server)
        _write(self.config_path, doc, 0o600)

    def namespace(self, server: str) -> str | None:
        entry = self.settings().get("servers", {}).get(normalize_server(server), {})
        name = entry.get("namespace") if isinstance(entry, dict) else None
        return name if isinstance(name, str) and name else None

    def set_namespace(self, server: str, name: str | None) -> None:
        doc = self.settings()
        entry = doc.setdefault("servers", {}).setdefault(normalize_server(server), {})
        if name:
            entry["namespace"] = name
        else:
            entry.pop("namespace", None)
        _write(self.config_path, doc, 0o600)
