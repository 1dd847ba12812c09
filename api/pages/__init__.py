"""The web pages: the agent's inbox and task page, the supervisor's cockpit and instance pages, the
designer's definitions and deploy page, in zh-CN and English.

Server-rendered Jinja pages over the very functions the JSON API's routes run (`calls.py`), so a page
reaches, masks and refuses exactly what the API does. People sign in with a name and a password into a
session cookie (HttpOnly, SameSite=Lax); every POST carries a CSRF token (Flask-WTF). The JSON API keeps
its Bearer tokens and needs no CSRF token: it never reads the cookie.

    sign-in, sign-out, language  auth.py        messages the engine says, in the reader's language  messages.py
    inbox, task, check-in        agent.py       locale, time zone, dates and "time left"              i18n.py
    cockpit, instances, reports  supervisor.py  the API route functions the pages call                calls.py
    definitions, deploy          designer.py    templates/, static/ (vendor/: htmx, bpmn-js), translations/
    customer imports             imports.py
"""
import os
import secrets
from pathlib import Path

from flask import Flask
from flask_wtf.csrf import CSRFProtect

from engine.config import env_number

from api.pages import agent, auth, designer, i18n, imports, supervisor, templating
from api.pages.sessions import CookieSessions

HERE = Path(__file__).parent
csrf = CSRFProtect()
BLUEPRINTS = (auth.blp, agent.blp, supervisor.blp, designer.blp, imports.blp)

for _blueprint in BLUEPRINTS:  # once, at import: the blueprints are registered on every app made
    _blueprint.before_request(auth.load_user)
    _blueprint.before_request(auth.check_csrf)
    auth.html_errors(_blueprint)


def secret_key(data_dir) -> str:
    """FOLLOWUP_SECRET_KEY, else a random key kept in the data directory (made on first use), so that
    sessions survive a restart and every worker process of one server signs cookies alike. Several
    machines: give them one FOLLOWUP_SECRET_KEY."""
    configured = os.environ.get("FOLLOWUP_SECRET_KEY", "").strip()
    if configured:
        return configured
    path = Path(data_dir) / "secret_key"
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as out:
            out.write(secrets.token_hex(32))
    except FileExistsError:  # another worker made it first
        pass
    return path.read_text().strip()


def register(app: Flask) -> None:
    """Serve the pages from `app` (the API's app, on the same engine)."""
    engine = app.extensions["followup"].engine
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = secret_key(engine.settings.data_dir)
    app.config.update(
        SESSION_COOKIE_NAME="followup_session", SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=os.environ.get("FOLLOWUP_SECURE_COOKIES", "").lower() in ("1", "true", "yes"),
        PERMANENT_SESSION_LIFETIME=int(env_number(os.environ, "FOLLOWUP_SESSION_HOURS", float, 12.0) * 3600),
        WTF_CSRF_CHECK_DEFAULT=False,  # checked by the pages' blueprints only: the API has no cookie to forge
        WTF_CSRF_TIME_LIMIT=None,  # valid as long as the session
        WTF_CSRF_SSL_STRICT=False,  # the Origin/Referer check below works behind any proxy
    )
    app.session_interface = CookieSessions()
    csrf.init_app(app)
    i18n.init_app(app, HERE / "translations")
    templating.register(app)
    for blueprint in BLUEPRINTS:
        app.register_blueprint(blueprint)
    auth.html_not_found(app)
