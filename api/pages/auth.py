"""Signing in and out, the language switch, and what every page blueprint does before its view: load
the signed-in user, check the CSRF token of a POST, and answer errors as pages."""
import functools
from urllib.parse import urlsplit

from flask import (Blueprint, current_app, flash, g, redirect, render_template, request, session, url_for)
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError, generate_csrf, validate_csrf
from werkzeug.exceptions import HTTPException

from engine import access
from engine.errors import Conflict, FollowupError, Forbidden, InvalidInput, NotFound
from api.errors import handle_http_exception
from api.pages import messages
from api.pages.i18n import LANG_COOKIE, LANGUAGES
from api.services import services

blp = Blueprint("pages", __name__, template_folder="templates", static_folder="static",
                static_url_path="/assets")

PUBLIC = {"pages.sign_in", "pages.language", "pages.static"}
HOME = {"agent": "agent.inbox", "supervisor": "supervisor.cockpit", "designer": "designer.definitions",
        "admin": "supervisor.cockpit"}


def load_user():
    """before_request: g.user from the session (the same User object the API's tokens give), or a
    redirect to the sign-in page."""
    g.user = None
    if request.endpoint == "pages.static":
        return None
    name, stamp = session.get("user"), session.get("stamp")
    if name:
        g.user = services().identity.signed_in(name, stamp)
        if g.user is None:
            session.clear()
    if g.user is None and request.endpoint not in PUBLIC:
        if request.method != "GET":
            return render_template("error.html", title=_("Signed out"),
                                   message=_("Your session has ended. Sign in again.")), 401
        return redirect(url_for("pages.sign_in", next=request.full_path.rstrip("?")))
    return None


def check_csrf():
    """before_request: every POST of a page carries the session's CSRF token (form field `csrf_token`, or
    the X-CSRFToken header htmx sends)."""
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return
    token = request.form.get("csrf_token") or request.headers.get("X-CSRFToken")
    try:
        validate_csrf(token)
    except Exception as err:  # ValidationError: missing, expired, or not this session's
        raise CSRFError(str(err)) from None


def requires(action):
    """The view needs the right `action` (engine.access.RIGHTS), else a 403 page."""
    def decorator(view):
        @functools.wraps(view)
        def wrapped(*args, **kwargs):
            access.require(g.user, action)
            return view(*args, **kwargs)
        return wrapped
    return decorator


def local_target(target, default="/"):
    """`target` when it is a path on this site (never another host: no open redirect)."""
    if not target or not isinstance(target, str):
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    return target


@blp.route("/")
def home():
    return redirect(url_for(HOME.get(g.user.role, "agent.inbox")))


@blp.route("/signin", methods=["GET", "POST"])
def sign_in():
    target = local_target(request.values.get("next"))
    if request.method == "GET":
        if g.user is not None:
            return redirect(target if target != "/" else url_for("pages.home"))
        return render_template("signin.html", next=target, username="")
    username = (request.form.get("username") or "").strip()
    found = services().identity.sign_in(username, request.form.get("password") or "")
    if found is None:
        return render_template("signin.html", next=target, username=username,
                               error=_("The user name or the password is not right.")), 401
    user, stamp = found
    session.clear()  # a fresh session (and CSRF token) for the signed-in user
    session.permanent = True
    session["user"], session["stamp"] = user.name, stamp
    return redirect(target if target != "/" else url_for(HOME.get(user.role, "agent.inbox")))


@blp.route("/signout", methods=["POST"])
def sign_out():
    session.clear()
    flash(_("You are signed out."), "ok")
    return redirect(url_for("pages.sign_in"))


@blp.route("/language", methods=["POST"])
def language():
    chosen = request.form.get("lang")
    response = redirect(local_target(request.form.get("next")))
    if chosen in LANGUAGES:
        response.set_cookie(LANG_COOKIE, chosen, max_age=365 * 24 * 3600, httponly=True, samesite="Lax",
                            secure=current_app.config["SESSION_COOKIE_SECURE"])
    return response


# ---- errors as pages ----------------------------------------------------------------------------
_STATUS = [(NotFound, 404), (Forbidden, 403), (Conflict, 409), (InvalidInput, 422)]


def error_page(status, message, detail=None):
    titles = {400: _("Something is wrong with the request"), 401: _("Sign in"), 403: _("Not allowed"),
              404: _("Not found"), 409: _("Someone was quicker"), 413: _("The file is too large"),
              422: _("Some values do not fit"), 500: _("Something went wrong")}
    return render_template("error.html", title=titles.get(status, titles[400]), message=message,
                           detail=detail), status


def _followup_error(err: FollowupError):
    status = next((code for kind, code in _STATUS if isinstance(err, kind)), 400)
    return error_page(status, *messages.translate(err.message))


def _csrf_error(err):
    return error_page(400, _("The form has expired or did not come from this site. Load the page again and retry."))


def _http_error(err: HTTPException):
    if isinstance(err, CSRFError):
        return _csrf_error(err)
    messages_by_code = {404: _("There is no such page."), 405: _("There is no such page."),
                        413: _("The file is too large.")}
    return error_page(err.code or 500, messages_by_code.get(err.code, _("The request could not be read.")))


def _unexpected(err: Exception):
    if isinstance(err, HTTPException):
        return _http_error(err)
    current_app.logger.exception("unhandled error in a page")
    return error_page(500, _("Something went wrong on the server; it was logged."))


def html_errors(blueprint):
    blueprint.register_error_handler(FollowupError, _followup_error)
    blueprint.register_error_handler(HTTPException, _http_error)
    blueprint.register_error_handler(Exception, _unexpected)


def html_not_found(app):
    """A 404 outside the API (a mistyped page address) is a page too; the API's stay JSON."""
    def not_found(err):
        if request.path.startswith("/api") or request.path.startswith("/metrics"):
            return handle_http_exception(err)
        g.user = None
        return error_page(404, _("There is no such page."))
    app.register_error_handler(404, not_found)


def csrf_token():
    return generate_csrf()
