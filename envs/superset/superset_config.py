"""Superset configuration for Granary; loaded by Superset itself (SUPERSET_CONFIG_PATH).

This file runs inside the Superset virtualenv, which does not have the granary package:
`granary.superset.service` computes everything per installation (secret key, metadata
database) and hands it over in GRANARY_SUPERSET_* environment variables.
"""

import os

from superset.security import SupersetSecurityManager

SECRET_KEY = os.environ["GRANARY_SUPERSET_SECRET_KEY"]
SQLALCHEMY_DATABASE_URI = os.environ["GRANARY_SUPERSET_METADATA_URI"]

# --- security ------------------------------------------------------------------------
FEATURE_FLAGS = {
    # A dashboard is visible only to the roles listed on it: one bank's role per dashboard.
    "DASHBOARD_RBAC": True,
    # Row-level security rules also apply in SQL Lab (isolation itself is the Postgres role).
    "RLS_IN_SQLLAB": True,
    # Jinja in SQL would let an analyst reach request/user context; not needed here.
    "ENABLE_TEMPLATE_PROCESSING": False,
}
# /api/v1/security/roles and /users: provisioning creates roles and users through them.
FAB_ADD_SECURITY_API = True
# CSRF stays on: API clients fetch /api/v1/security/csrf_token/ with their session.
WTF_CSRF_ENABLED = True
PREVENT_UNSAFE_DB_CONNECTIONS = True
# Nobody anonymous: the Public role gets nothing.
PUBLIC_ROLE_LIKE = None


class GranarySecurityManager(SupersetSecurityManager):
    """Superset's own, except that a refusal does not name what it refused.

    Superset's 403 for a dataset the user may not read (chart data, explore, samples) carries the
    dataset's name, `t_<bank>.<table>`: bank A asking for a dataset id of bank B would learn B's
    schema. The id the user sent is all the answer repeats.
    """

    def get_datasource_access_error_object(self, datasource):  # type: ignore[no-untyped-def]
        error = super().get_datasource_access_error_object(datasource)
        error.extra = {k: v for k, v in (error.extra or {}).items() if k != "datasource_name"}
        return error


CUSTOM_SECURITY_MANAGER = GranarySecurityManager


def _charts_only_on_readable_datasets():  # type: ignore[no-untyped-def]
    """Saving a chart (POST, PUT /api/v1/chart/) on a dataset the user may not read is refused.

    Superset's chart commands check only that the dataset exists, then copy its name,
    `t_<bank>.<table>`, into the chart: bank A could save a chart on bank B's dataset id and
    read B's schema off it. Data access itself was never possible (chart data checks access).
    """
    from flask import g, jsonify, request
    from flask_jwt_extended import verify_jwt_in_request
    from flask_login import current_user
    from superset import security_manager
    from superset.daos.datasource import DatasourceDAO

    if request.method not in ("POST", "PUT") or not request.path.startswith("/api/v1/chart"):
        return None
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or body.get("datasource_id") is None:
        return None
    if not current_user.is_authenticated:
        # An API client's bearer token: FAB resolves it only inside the view, after this hook.
        try:
            verify_jwt_in_request(optional=True)
        except Exception:  # noqa: BLE001 - a bad token: the view answers 401 itself
            return None
    if getattr(g, "user", None) is None or g.user.is_anonymous:
        return None  # the view refuses the anonymous itself
    kind = body.get("datasource_type") or "table"
    try:
        datasource = DatasourceDAO.get_datasource(kind, body["datasource_id"])
    except Exception:  # noqa: BLE001 - unknown type or id: the same answer as no access
        datasource = None
    if datasource is None or not security_manager.can_access_datasource(datasource):
        return jsonify({"message": "Forbidden: no access to this dataset"}), 403
    return None


def FLASK_APP_MUTATOR(app):  # type: ignore[no-untyped-def]  # noqa: N802 - Superset's name
    app.before_request(_charts_only_on_readable_datasets)


# --- language: bank users read Chinese ------------------------------------------------
BABEL_DEFAULT_LOCALE = "zh"
LANGUAGES = {
    "zh": {"flag": "cn", "name": "简体中文"},
    "en": {"flag": "us", "name": "English"},
}

# --- caches: on local disk, shared by every web worker ----------------------------------
# `granary superset refresh` warms chart data through one worker; an in-process cache would
# leave the other workers cold. A day's data changes once, at publish, and refresh re-runs
# every chart then: a day-long timeout keeps the warm cache until the next publish.
_CACHE_DIR = os.environ["GRANARY_SUPERSET_CACHE_DIR"]
CACHE_CONFIG = {
    "CACHE_TYPE": "FileSystemCache",
    "CACHE_DIR": f"{_CACHE_DIR}/meta",
    "CACHE_DEFAULT_TIMEOUT": 300,
    "CACHE_KEY_PREFIX": "granary_superset_",
}
DATA_CACHE_CONFIG = {
    "CACHE_TYPE": "FileSystemCache",
    "CACHE_DIR": f"{_CACHE_DIR}/data",
    "CACHE_DEFAULT_TIMEOUT": 86400,
    "CACHE_KEY_PREFIX": "granary_data_",
}

# --- web: everything served from this host, nothing from a CDN --------------------------
TALISMAN_ENABLED = True
TALISMAN_CONFIG = {
    "content_security_policy": {
        "base-uri": ["'self'"],
        "default-src": ["'self'"],
        "img-src": ["'self'", "blob:", "data:"],
        "worker-src": ["'self'", "blob:"],
        "connect-src": ["'self'"],
        "object-src": "'none'",
        "style-src": ["'self'", "'unsafe-inline'"],
        "font-src": ["'self'", "data:"],
        "script-src": ["'self'", "'strict-dynamic'"],
    },
    "content_security_policy_nonce_in": ["script-src"],
    "force_https": False,
    "session_cookie_secure": False,
}
THEME_FONT_URL_ALLOWED_DOMAINS: list[str] = []
APP_NAME = "Granary 普惠金融数据平台"
SUPERSET_WEBSERVER_TIMEOUT = 120
SQLLAB_TIMEOUT = 60
ROW_LIMIT = 50000
