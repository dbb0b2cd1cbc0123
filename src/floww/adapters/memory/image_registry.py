"""An in-memory OCI registry: content-addressed blobs and manifests, tags per repository."""

from __future__ import annotations

import json
import secrets
import threading

import attrs

from floww.domain.errors import NotFound, PermissionDenied
from floww.domain.oci import OciImage, blob_digest, check_repository, check_tag, valid_digest
from floww.ports.image_registry import ImageRegistry, RegistryCredentials

__all__ = ["InMemoryImageRegistry", "IssuedCredentials"]

CREDENTIALS_TTL_SECONDS = 900


@attrs.frozen
class IssuedCredentials:
    namespace_id: str
    repository: str
    credentials: RegistryCredentials


@attrs.define
class _Repository:
    owner: str | None = None
    tags: dict[str, str] = attrs.Factory(dict)
    manifests: set[str] = attrs.Factory(set)


class InMemoryImageRegistry(ImageRegistry):
    """``pushes`` counts manifests newly stored in a repository: pushing identical content
    again does not upload anything and does not count. A repository belongs to the first
    namespace that is given push credentials for it; another namespace gets
    ``PermissionDenied``. ``issued`` lists every set of credentials handed out."""

    def __init__(self, registry_host: str = "memory") -> None:
        self.registry_host = registry_host
        self._lock = threading.Lock()
        self._blobs: dict[str, bytes] = {}
        self._manifests: dict[str, bytes] = {}
        self._repositories: dict[str, _Repository] = {}
        self.pushes = 0
        self.issued: list[IssuedCredentials] = []

    def exists(self, repository: str, tag: str) -> bool:
        with self._lock:
            repo = self._repositories.get(repository)
            return repo is not None and tag in repo.tags

    def resolve(self, repository: str, tag: str) -> str:
        with self._lock:
            return self._resolve(repository, tag)

    def push(self, repository: str, tag: str, image: OciImage) -> str:
        check_repository(repository)
        check_tag(tag)
        manifest = image.manifest()
        digest = blob_digest(manifest)
        with self._lock:
            for blob in (image.config, *image.layers):
                self._blobs.setdefault(blob_digest(blob), blob)
            self._manifests.setdefault(digest, manifest)
            repo = self._repositories.setdefault(repository, _Repository())
            if digest not in repo.manifests:
                repo.manifests.add(digest)
                self.pushes += 1
            repo.tags[tag] = digest
        return digest

    def pull(self, repository: str, reference: str) -> OciImage:
        with self._lock:
            if reference.startswith("sha256:"):
                repo = self._repository(repository)
                if not valid_digest(reference) or reference not in repo.manifests:
                    raise NotFound("manifest", f"{repository}@{reference}")
                digest = reference
            else:
                digest = self._resolve(repository, reference)
            doc = json.loads(self._manifests[digest])
            config = self._blobs[doc["config"]["digest"]]
            layers = tuple(self._blobs[layer["digest"]] for layer in doc["layers"])
        return OciImage(config=config, layers=layers)

    def push_credentials(self, namespace_id: str, repository: str) -> RegistryCredentials:
        check_repository(repository)
        with self._lock:
            repo = self._repositories.setdefault(repository, _Repository())
            if repo.owner is None:
                repo.owner = namespace_id
            elif repo.owner != namespace_id:
                raise PermissionDenied(
                    f"namespace {namespace_id} may not push to {repository}",
                    namespace_id=namespace_id,
                    repository=repository,
                )
            credentials = RegistryCredentials(
                registry=self.registry_host,
                username=f"ns-{namespace_id}",
                password=secrets.token_urlsafe(32),
                expires_in=CREDENTIALS_TTL_SECONDS,
            )
            self.issued.append(IssuedCredentials(namespace_id, repository, credentials))
        return credentials

    def scope_of(self, password: str) -> tuple[str, str] | None:
        """``(namespace_id, repository)`` the password was issued for, if any."""
        with self._lock:
            for issued in self.issued:
                if secrets.compare_digest(issued.credentials.password, password):
                    return issued.namespace_id, issued.repository
        return None

    def tags(self, repository: str) -> dict[str, str]:
        with self._lock:
            return dict(self._repository(repository).tags)

    def _repository(self, repository: str) -> _Repository:
        repo = self._repositories.get(repository)
        if repo is None or not repo.manifests:
            raise NotFound("repository", repository)
        return repo

    def _resolve(self, repository: str, tag: str) -> str:
        repo = self._repository(repository)
        if tag not in repo.tags:
            raise NotFound("tag", f"{repository}:{tag}")
        return repo.tags[tag]
