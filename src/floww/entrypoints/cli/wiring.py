"""What the CLI's commands get from the composition root (``floww.bootstrap.client_adapters``):
factories of the client-side adapters, typed by the ports they serve. Commands never import an
adapter; tests hand in their own ``ClientAdapters`` (see ``CliEnv``)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

import attrs
import httpx

from floww.domain.oci import OciImage
from floww.ports.identity import DeviceAuthorization, TokenSet
from floww.ports.image_registry import ImageRegistry, RegistryCredentials
from floww.ports.platform import ServerApi
from floww.ports.support import Clock, ImageBuilder
from floww.ports.userspace import UserspaceRunner

__all__ = [
    "ClientAdapters",
    "DeviceLogin",
    "DockerBuilder",
    "JsonApi",
    "ServerProcess",
    "TokenSource",
]


class JsonApi(Protocol):
    """The server's JSON API, as ``get``/``post``/``put``/``delete`` of a path; domain errors
    for error answers."""

    def get(self, path: str, **kwargs: Any) -> Any: ...

    def post(self, path: str, body: Any = None, **kwargs: Any) -> Any: ...

    def put(self, path: str, body: Any = None, **kwargs: Any) -> Any: ...

    def delete(self, path: str, **kwargs: Any) -> Any: ...


class DeviceLogin(Protocol):
    """The client side of a device login (RFC 8628) and of the refresh-token grant."""

    def start(self) -> DeviceAuthorization: ...

    def poll(self, device: DeviceAuthorization) -> TokenSet: ...

    def refresh(self, refresh_token: str) -> TokenSet: ...


class DockerBuilder(ImageBuilder, Protocol):
    def daemon_reachable(self) -> bool: ...


class ServerProcess(Protocol):
    """A wired ``floww serve`` process (``floww.bootstrap.Server``)."""

    app: Any
    first_start: dict[str, str] | None

    @property
    def notices(self) -> Sequence[str]:
        """What the server says at start about how it runs."""
        ...

    def start_background(self) -> None: ...

    def freeze_heap(self) -> None:
        """What start-up built leaves the collector's walks (``gc.freeze``)."""
        ...

    def close(self) -> None: ...


TokenSource = Callable[[], str | None] | None


class PipBuilderFactory(Protocol):
    """The daemonless builder over a cache directory; ``base_source`` reads the target's base
    image (by reference) when the target names one."""

    def __call__(
        self, cache_dir: Path, *, base_source: Callable[[str], OciImage] | None = None
    ) -> ImageBuilder: ...


@attrs.frozen
class ClientAdapters:
    api: Callable[[str, httpx.Client, TokenSource], JsonApi]
    platform: Callable[[str, httpx.Client, TokenSource], ServerApi]
    device_login: Callable[
        [str, httpx.Client, dict[str, Any], Callable[[float], None]], DeviceLogin
    ]
    registry: Callable[
        [
            str,
            httpx.Client,
            Callable[[str], tuple[str, str]],
            Callable[[str, str], RegistryCredentials],
        ],
        ImageRegistry,
    ]
    pip_builder: PipBuilderFactory
    docker_builder: Callable[[Path, Sequence[str], Callable[[str], None]], DockerBuilder]
    runner: Callable[[], UserspaceRunner]
    clock: Callable[[], Clock]
    build_server: Callable[[Any], ServerProcess]
