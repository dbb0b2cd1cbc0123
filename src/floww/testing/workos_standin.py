"""A WorkOS stand-in: a real HTTP server on loopback implementing, as WorkOS documents them,
the endpoints floww uses, so the real ``workos`` SDK and the real CLI talk to it.

Endpoints (JSON or form bodies, as WorkOS accepts both):

- ``POST /user_management/authorize/device`` (CLI Auth, RFC 8628) -> device and user codes;
- ``POST /user_management/authenticate`` with the device-code grant (``authorization_pending``,
  ``access_denied``, ``expired_token`` as OAuth errors), the authorization-code grant (needs
  ``client_secret``, the API key) and the refresh-token grant (a refresh token works once);
- ``GET /user_management/authorize`` (AuthKit): signs in ``browser_user`` at once and redirects
  to ``redirect_uri`` with a one-time ``code`` and the ``state``; with ``sign_in_page`` set it
  answers a sign-in page instead (an HTML form asking for the email), whose ``POST`` signs in
  that user (an unknown email gets the page again, 401) and redirects the same way;
- ``GET /sso/jwks/<client id>``: that client's RS256 public keys (``rotate`` adds a key and
  signs with it from then on);
- ``GET /user_management/users/<id>``, ``GET /user_management/organization_memberships``,
  ``GET /organizations/<id>`` (API key as bearer token);
- ``GET /user_management/sessions/logout``: ends the session, redirects to ``return_to``.

Access tokens carry ``iss`` (``<url>/user_management/<client id>``), ``sub``, ``sid``,
``org_id``, ``role``, ``jti``, ``iat``, ``exp`` and ``auth_time``, like WorkOS session tokens.

Not covered: AuthKit's real hosted pages (passwords, social and magic-link sign-in: the
optional sign-in page only asks for an email; device approvals are set by the test,
``approve``), SSO, MFA, organization selection, pagination past one page, rate limits, custom
auth domains, and WorkOS's exact error messages (only the error codes and statuses).
``fail_with`` makes every endpoint answer that status, ``stop`` makes it unreachable.
"""

from __future__ import annotations

import html
import json
import secrets
import threading
import time
import uuid
from collections import Counter
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import attrs
import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

__all__ = ["DEVICE_GRANT", "WorkOSStandIn"]

DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
_ALPHABET = "BCDFGHJKLMNPQRSTVWXZ"


def _now_iso() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def _ulid(prefix: str) -> str:
    return f"{prefix}_01{uuid.uuid4().hex[:24].upper()}"


@attrs.define
class _Key:
    kid: str
    private: rsa.RSAPrivateKey

    @classmethod
    def new(cls) -> _Key:
        return cls(f"key_{secrets.token_hex(8)}", rsa.generate_private_key(65537, 2048))

    def public_jwk(self) -> dict[str, Any]:
        jwk: dict[str, Any] = json.loads(RSAAlgorithm.to_jwk(self.private.public_key()))
        return {**jwk, "kid": self.kid, "alg": "RS256", "use": "sig"}


@attrs.define
class _Device:
    client_id: str
    user_code: str
    expires_at: float
    user_id: str | None = None
    denied: bool = False


@attrs.define
class _Session:
    id: str
    user_id: str
    client_id: str
    org_id: str | None
    ended: bool = False


class WorkOSStandIn:
    """See the module docstring. ``clients`` are the client ids it knows (each with its own
    key set); ``api_key`` is the secret the SDK sends."""

    def __init__(
        self,
        *,
        clients: tuple[str, ...] = ("client_floww",),
        api_key: str = "sk_test_standin",
        access_ttl: int = 300,
        device_expires_in: int = 300,
        device_interval: int = 1,
    ) -> None:
        self.api_key = api_key
        self.access_ttl = access_ttl
        self.device_expires_in = device_expires_in
        self.device_interval = device_interval
        self.keys: dict[str, list[_Key]] = {client: [_Key.new()] for client in clients}
        self.users: dict[str, dict[str, Any]] = {}
        self.organizations: dict[str, dict[str, Any]] = {}
        self.memberships: list[dict[str, Any]] = []
        self.sessions: dict[str, _Session] = {}
        self.browser_user: str | None = None
        self.sign_in_page = False
        self.fail_with: int | None = None
        self.jwks_fetches: Counter[str] = Counter()
        self.requests: list[str] = []
        self._devices: dict[str, _Device] = {}
        self._codes: dict[str, str] = {}  # authorization code -> session id
        self._refresh: dict[str, str] = {}  # refresh token -> session id
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._forger: _Key | None = None

    # lifecycle ---------------------------------------------------------------------------

    @property
    def url(self) -> str:
        assert self._server is not None, "start the stand-in first"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> WorkOSStandIn:
        standin = self

        class Handler(_Handler):
            owner = standin

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def __enter__(self) -> WorkOSStandIn:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # directory ---------------------------------------------------------------------------

    def add_user(self, email: str) -> str:
        user_id = _ulid("user")
        now = _now_iso()
        self.users[user_id] = {
            "object": "user",
            "id": user_id,
            "email": email,
            "email_verified": True,
            "first_name": email.split("@")[0],
            "last_name": None,
            "profile_picture_url": None,
            "external_id": None,
            "last_sign_in_at": None,
            "created_at": now,
            "updated_at": now,
            "metadata": {},
        }
        return user_id

    def add_organization(self, name: str) -> str:
        org_id = _ulid("org")
        now = _now_iso()
        self.organizations[org_id] = {
            "object": "organization",
            "id": org_id,
            "name": name,
            "domains": [],
            "metadata": {},
            "external_id": None,
            "created_at": now,
            "updated_at": now,
        }
        return org_id

    def add_membership(self, user_id: str, org_id: str, role: str = "member") -> None:
        now = _now_iso()
        self.memberships.append(
            {
                "object": "organization_membership",
                "id": _ulid("om"),
                "user_id": user_id,
                "organization_id": org_id,
                "organization_name": self.organizations[org_id]["name"],
                "status": "active",
                "directory_managed": False,
                "role": {"slug": role},
                "roles": [{"slug": role}],
                "user": self.users[user_id],
                "created_at": now,
                "updated_at": now,
                "custom_attributes": {},
            }
        )

    # device approvals, keys and tokens ---------------------------------------------------

    def approve(self, user_code: str, user_id: str) -> None:
        """What the person does on WorkOS's verification page."""
        code = user_code.replace("-", "").upper()
        with self._lock:
            device = next(d for d in self._devices.values() if d.user_code == code)
            device.user_id = user_id

    def deny(self, user_code: str) -> None:
        code = user_code.replace("-", "").upper()
        with self._lock:
            next(d for d in self._devices.values() if d.user_code == code).denied = True

    def rotate(self, client_id: str = "client_floww") -> str:
        """A new signing key for ``client_id`` (the old one stays published); its kid."""
        key = _Key.new()
        with self._lock:
            self.keys[client_id].append(key)
        return key.kid

    def access_token(
        self,
        user_id: str,
        *,
        client_id: str = "client_floww",
        expires_in: int | None = None,
        signed_by: str | None = None,
        session_id: str | None = None,
        extra: dict[str, Any] | None = None,
    ) -> str:
        """An access token as WorkOS issues it, signed by ``client_id``'s newest key, or by
        ``signed_by`` (a client id whose newest key signs, e.g. another client's, or
        ``"forger"`` for a key nobody publishes)."""
        if signed_by == "forger":  # one unpublished key, a made-up kid each time
            if self._forger is None:
                self._forger = _Key.new()
            key = _Key(f"key_{secrets.token_hex(8)}", self._forger.private)
        else:
            key = self.keys[signed_by or client_id][-1]
        now = int(time.time())
        org = next(
            (m["organization_id"] for m in self.memberships if m["user_id"] == user_id), None
        )
        role = next((m["role"]["slug"] for m in self.memberships if m["user_id"] == user_id), None)
        claims = {
            "iss": f"{self.url}/user_management/{client_id}",
            "sub": user_id,
            "sid": session_id or _ulid("session"),
            "org_id": org,
            "role": role,
            "jti": secrets.token_hex(12),
            "iat": now,
            "auth_time": now,
            "exp": now + (self.access_ttl if expires_in is None else expires_in),
            **(extra or {}),
        }
        return jwt.encode(claims, key.private, algorithm="RS256", headers={"kid": key.kid})

    def _grant(self, session: _Session) -> dict[str, Any]:
        refresh = secrets.token_urlsafe(32)
        self._refresh[refresh] = session.id
        return {
            "user": self.users[session.user_id],
            "organization_id": session.org_id,
            "access_token": self.access_token(
                session.user_id, client_id=session.client_id, session_id=session.id
            ),
            "refresh_token": refresh,
            "authentication_method": "Password",
        }

    def _new_session(self, user_id: str, client_id: str) -> _Session:
        org = next(
            (m["organization_id"] for m in self.memberships if m["user_id"] == user_id), None
        )
        session = _Session(_ulid("session"), user_id, client_id, org)
        self.sessions[session.id] = session
        return session

    # endpoint logic (called by the handler) ----------------------------------------------

    def device_authorize(self, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        client_id = form.get("client_id", "")
        if client_id not in self.keys:
            return 400, {"error": "invalid_client", "error_description": "Unknown client."}
        code = "".join(secrets.choice(_ALPHABET) for _ in range(8))
        device_code = secrets.token_urlsafe(32)
        with self._lock:
            self._devices[device_code] = _Device(
                client_id, code, time.time() + self.device_expires_in
            )
        shown = f"{code[:4]}-{code[4:]}"
        verify = f"{self.url}/device"
        return 200, {
            "device_code": device_code,
            "user_code": shown,
            "verification_uri": verify,
            "verification_uri_complete": f"{verify}?{urlencode({'user_code': shown})}",
            "expires_in": self.device_expires_in,
            "interval": self.device_interval,
        }

    def authenticate(self, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        client_id = form.get("client_id", "")
        if client_id not in self.keys:
            return 400, {"error": "invalid_client", "error_description": "Unknown client."}
        grant = form.get("grant_type")
        with self._lock:
            if grant == DEVICE_GRANT:
                device = self._devices.get(form.get("device_code", ""))
                if device is None or device.client_id != client_id:
                    return 400, {"error": "invalid_grant", "error_description": "Unknown code."}
                if time.time() > device.expires_at:
                    return 400, {"error": "expired_token", "error_description": "Expired."}
                if device.denied:
                    return 400, {"error": "access_denied", "error_description": "Denied."}
                if device.user_id is None:
                    return 400, {"error": "authorization_pending", "error_description": "Wait."}
                del self._devices[form["device_code"]]
                return 200, self._grant(self._new_session(device.user_id, client_id))
            if grant == "authorization_code":
                if form.get("client_secret") != self.api_key:
                    return 401, {"error": "invalid_client", "error_description": "Bad secret."}
                session_id = self._codes.pop(form.get("code", ""), None)
                if session_id is None:
                    return 400, {"error": "invalid_grant", "error_description": "Bad code."}
                return 200, self._grant(self.sessions[session_id])
            if grant == "refresh_token":
                session_id = self._refresh.pop(form.get("refresh_token", ""), None)
                session = self.sessions.get(session_id or "")
                if session is None or session.ended or session.client_id != client_id:
                    return 400, {"error": "invalid_grant", "error_description": "Refused."}
                return 200, self._grant(session)
        return 400, {"error": "unsupported_grant_type", "error_description": str(grant)}

    def authorize_redirect(self, query: dict[str, str]) -> tuple[int, dict[str, Any] | str]:
        if query.get("client_id") not in self.keys or not query.get("redirect_uri"):
            return 400, {"error": "invalid_request", "error_description": "Bad client."}
        if self.browser_user is None:
            return 400, {"error": "access_denied", "error_description": "Nobody signs in."}
        with self._lock:
            session = self._new_session(self.browser_user, query["client_id"])
            code = secrets.token_urlsafe(24)
            self._codes[code] = session.id
        params = {"code": code, **({"state": query["state"]} if "state" in query else {})}
        return 302, f"{query['redirect_uri']}?{urlencode(params)}"

    def authorize_page(self, query: dict[str, str], note: str = "") -> tuple[int, str]:
        """The sign-in page (``sign_in_page``): a form that posts the query back with an email."""
        hidden = "".join(
            f"<input type=hidden name='{html.escape(k)}' value='{html.escape(v)}'>"
            for k, v in query.items()
            if k != "email"
        )
        alert = f"<p role=alert>{html.escape(note)}</p>" if note else ""
        return 401 if note else 200, (
            "<!doctype html><html lang=en><head><meta charset=utf-8>"
            '<link rel=icon href="data:,"><title>Sign in · AuthKit stand-in</title></head>'
            "<body><h1>Sign in</h1>"
            f"{alert}<form method=post action=/user_management/authorize>{hidden}"
            "<label>Email <input name=email type=email required></label>"
            "<button>Continue</button></form></body></html>"
        )

    def authorize_submit(self, form: dict[str, str]) -> tuple[int, dict[str, Any] | str]:
        email = form.get("email", "")
        user = next((u for u, d in self.users.items() if d["email"] == email), None)
        if user is None:
            return self.authorize_page(form, f"No account for {email}.")
        if form.get("client_id") not in self.keys or not form.get("redirect_uri"):
            return 400, {"error": "invalid_request", "error_description": "Bad client."}
        with self._lock:
            session = self._new_session(user, form["client_id"])
            code = secrets.token_urlsafe(24)
            self._codes[code] = session.id
        params = {"code": code, **({"state": form["state"]} if "state" in form else {})}
        return 303, f"{form['redirect_uri']}?{urlencode(params)}"

    def logout(self, query: dict[str, str]) -> tuple[int, dict[str, Any] | str]:
        session = self.sessions.get(query.get("session_id", ""))
        if session is None:
            return 422, {"message": "Unknown session.", "code": "invalid_session"}
        session.ended = True
        return 302, query.get("return_to") or f"{self.url}/"

    def read(self, path: str, query: dict[str, str]) -> tuple[int, dict[str, Any]]:
        parts = path.strip("/").split("/")
        if parts[:2] == ["user_management", "users"] and len(parts) == 3:
            user = self.users.get(parts[2])
            return (200, user) if user else (404, {"message": "Not found", "code": "not_found"})
        if parts == ["user_management", "organization_memberships"]:
            found = [
                m
                for m in self.memberships
                if m["user_id"] == query.get("user_id", m["user_id"])
                and m["organization_id"] == query.get("organization_id", m["organization_id"])
            ]
            return 200, {
                "object": "list",
                "data": found,
                "list_metadata": {"before": None, "after": None},
            }
        if parts[0] == "organizations" and len(parts) == 2:
            org = self.organizations.get(parts[1])
            return (200, org) if org else (404, {"message": "Not found", "code": "not_found"})
        return 404, {"message": "Not found", "code": "not_found"}


class _Handler(BaseHTTPRequestHandler):
    owner: WorkOSStandIn

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _send(self, status: int, body: dict[str, Any] | str) -> None:
        if status in (301, 302, 303) and isinstance(body, str):
            self.send_response(status)
            self.send_header("Location", body)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        page = isinstance(body, str)  # the sign-in page
        data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/html; charset=utf-8" if page else "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _failing(self) -> bool:
        owner = self.owner
        owner.requests.append(f"{self.command} {urlsplit(self.path).path}")
        if owner.fail_with is not None:
            self._send(owner.fail_with, {"message": "Service unavailable", "code": "unavailable"})
            return True
        return False

    def _api_key_ok(self) -> bool:
        if self.headers.get("Authorization") == f"Bearer {self.owner.api_key}":
            return True
        self._send(401, {"message": "Unauthorized", "code": "unauthorized"})
        return False

    def do_GET(self) -> None:
        if self._failing():
            return
        parts = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        path = parts.path
        owner = self.owner
        if path.startswith("/sso/jwks/"):
            client_id = path.rsplit("/", 1)[-1]
            if client_id not in owner.keys:
                self._send(404, {"message": "Not found", "code": "not_found"})
                return
            owner.jwks_fetches[client_id] += 1
            self._send(200, {"keys": [k.public_jwk() for k in owner.keys[client_id]]})
        elif path == "/user_management/authorize" and owner.sign_in_page:
            self._send(*owner.authorize_page(query))
        elif path == "/user_management/authorize":
            self._send(*owner.authorize_redirect(query))
        elif path == "/user_management/sessions/logout":
            self._send(*owner.logout(query))
        elif self._api_key_ok():
            self._send(*owner.read(path, query))

    def do_POST(self) -> None:
        if self._failing():
            return
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length).decode() if length else ""
        if "json" in (self.headers.get("Content-Type") or ""):
            form = {str(k): str(v) for k, v in (json.loads(raw or "{}") or {}).items()}
        else:
            form = {k: v[0] for k, v in parse_qs(raw).items()}
        path = urlsplit(self.path).path
        if path == "/user_management/authorize/device":
            self._send(*self.owner.device_authorize(form))
        elif path == "/user_management/authenticate":
            self._send(*self.owner.authenticate(form))
        elif path == "/user_management/authorize" and self.owner.sign_in_page:
            self._send(*self.owner.authorize_submit(form))
        else:
            self._send(404, {"message": "Not found", "code": "not_found"})
