"""A small Superset REST client: JWT login, CSRF token, JSON calls that fail with a reason."""

from __future__ import annotations

from typing import Any

import requests

from granary.core.config import settings
from granary.core.errors import EngineError

PAGE_SIZE = 100


def rison(value: Any) -> str:
    """Encode the few shapes Superset's `q=` parameter needs (dicts, lists, str, int, bool)."""
    if isinstance(value, bool):
        return "!t" if value else "!f"
    if value is None:
        return "!n"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, str):
        return "'" + value.replace("!", "!!").replace("'", "!'") + "'"
    if isinstance(value, list | tuple):
        return "!(" + ",".join(rison(v) for v in value) + ")"
    if isinstance(value, dict):
        return "(" + ",".join(f"{k}:{rison(v)}" for k, v in value.items()) + ")"
    raise TypeError(f"cannot rison-encode {type(value).__name__}")


class SupersetClient:
    """One logged-in user's session (bearer token + CSRF token + session cookie)."""

    def __init__(self, username: str, password: str, base_url: str | None = None, timeout: float = 60):
        self.base_url = (base_url or settings().superset_url).rstrip("/")
        self.username = username
        self.timeout = timeout
        self.session = requests.Session()
        self._password = password
        self._login()

    def _login(self) -> None:
        username, password, timeout = self.username, self._password, self.timeout
        self.session.headers.pop("Authorization", None)
        try:
            login = self.session.post(
                f"{self.base_url}/api/v1/security/login",
                json={"username": username, "password": password, "provider": "db", "refresh": False},
                timeout=timeout,
            )
        except requests.RequestException as exc:
            raise EngineError(
                f"Superset at {self.base_url} is unreachable ({exc}); start it with `granary superset start`"
            ) from exc
        if login.status_code != 200:
            raise EngineError(
                f"Superset login as '{username}' failed: HTTP {login.status_code} {login.text[:200]}"
            )
        self.session.headers["Authorization"] = f"Bearer {login.json()['access_token']}"
        csrf = self.request("GET", "/api/v1/security/csrf_token/")
        self.session.headers["X-CSRFToken"] = csrf.json()["result"]
        self.session.headers["Referer"] = self.base_url

    def web_login(self) -> None:
        """Also log in as the web page does (a session cookie): Superset's page-side endpoints
        (SQL Lab's tabs, /tabstateview/) do not take the API's bearer token."""
        form = {
            "username": self.username,
            "password": self._password,
            "csrf_token": self.session.headers["X-CSRFToken"],
        }
        resp = self.request("POST", "/login/", data=form, allow_redirects=False)
        if resp.status_code != 302 or "/login" in resp.headers.get("Location", "/login"):
            raise EngineError(f"Superset web login as '{self.username}' failed: HTTP {resp.status_code}")

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        """Any call; the caller reads the status (tests assert on 403/404)."""
        kwargs.setdefault("timeout", self.timeout)
        try:
            resp = self.session.request(method, f"{self.base_url}{path}", **kwargs)
            # Access tokens live 15 min; a long provisioning run on a loaded machine outlives one.
            if resp.status_code == 401 and "expired" in resp.text:
                self._login()
                resp = self.session.request(method, f"{self.base_url}{path}", **kwargs)
            return resp
        except requests.RequestException as exc:
            raise EngineError(f"Superset {method} {path} failed: {exc}") from exc

    def call(self, method: str, path: str, ok: tuple[int, ...] = (200, 201), **kwargs: Any) -> dict:
        """A call that must succeed; returns its JSON body."""
        resp = self.request(method, path, **kwargs)
        if resp.status_code not in ok:
            raise EngineError(
                f"Superset {method} {path} as '{self.username}': HTTP {resp.status_code} {resp.text[:500]}"
            )
        return resp.json() if resp.content else {}

    def find(self, resource: str, **equals: Any) -> list[dict]:
        """All rows of a list endpoint (e.g. 'dashboard', 'security/roles') matching col == value."""
        filters = [{"col": k, "opr": "eq", "value": v} for k, v in equals.items()]
        return self.list_all(resource, filters=filters)

    def list_all(self, resource: str, filters: list[dict] | None = None) -> list[dict]:
        rows: list[dict] = []
        page = 0
        while True:
            q: dict[str, Any] = {"page": page, "page_size": PAGE_SIZE}
            if filters:
                q["filters"] = filters
            body = self.call("GET", f"/api/v1/{resource}/", params={"q": rison(q)})
            rows.extend(body["result"])
            if len(body["result"]) < PAGE_SIZE:
                return rows
            page += 1

    def one(self, resource: str, what: str, **equals: Any) -> dict:
        """The single `resource` matching `equals` (after an import, say); an error naming `what` if not."""
        rows = self.find(resource, **equals)
        if len(rows) != 1:
            raise EngineError(f"Superset: expected one {what}, found {len(rows)}")
        return rows[0]

    def ensure_role(self, name: str) -> int:
        """The id of role `name`, created if missing."""
        found = self.find("security/roles", name=name)
        if found:
            return found[0]["id"]
        return self.call("POST", "/api/v1/security/roles/", json={"name": name})["id"]

    def all_permissions(self) -> dict[tuple[str, str], int]:
        """(permission, resource) -> permission-resource id, for every permission Superset knows."""
        return {
            (pv["permission"]["name"], pv["view_menu"]["name"]): pv["id"]
            for pv in self.list_all("security/permissions-resources")
        }
