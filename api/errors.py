"""Every error leaves as JSON `{"status", "title", "detail", "errors"?, "request_id"}`: engine errors,
HTTP errors (404, 405, 413, webargs' 422), and anything unexpected (500, logged with its traceback,
never sent to the client)."""
import logging
from http import HTTPStatus

from flask import g, jsonify
from werkzeug.exceptions import HTTPException

from engine.errors import (Conflict, DeploymentError, Forbidden, FollowupError, InvalidInput, NotFound, ScriptRefused,
                           TooLarge)

log = logging.getLogger("followup.api")

STATUS_OF = [(NotFound, 404), (Conflict, 409), (Forbidden, 403), (TooLarge, 413), (InvalidInput, 422),
             (DeploymentError, 400),
             (ScriptRefused, 400)]


class Unauthorized(FollowupError):
    pass


class BadInput(FollowupError):
    """A request that cannot be read at all (400)."""


def error_response(status, detail, errors=None, headers=None, **extra):
    body = {"status": status, "title": HTTPStatus(status).phrase, "detail": detail}
    if errors:
        body["errors"] = errors
    body.update({k: v for k, v in extra.items()})
    request_id = getattr(g, "request_id", None)
    if request_id:
        body["request_id"] = request_id
    response = jsonify(body)
    response.status_code = status
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def _flatten(messages):
    """webargs nests validation messages by location ({"json": {...}}); a client wants the fields."""
    if isinstance(messages, dict) and set(messages) <= {"json", "query", "files", "form", "headers", "path",
                                                         "view_args", "querystring"}:
        flat = {}
        for part in messages.values():
            if isinstance(part, dict):
                flat.update(part)
            else:
                flat.setdefault("_schema", []).extend(part if isinstance(part, list) else [part])
        return flat
    return messages


def handle_followup_error(err: FollowupError):
    if isinstance(err, Unauthorized):
        return error_response(401, err.message, headers={"WWW-Authenticate": 'Bearer realm="followup"'})
    status = next((code for kind, code in STATUS_OF if isinstance(err, kind)), 400)  # BadInput: 400
    if isinstance(err, DeploymentError):
        return error_response(status, err.message, file=err.file, line=err.line, element=err.element)
    if isinstance(err, InvalidInput):
        return error_response(status, err.message, errors=err.errors)
    return error_response(status, err.message)


def handle_http_exception(err: HTTPException):
    data = getattr(err, "data", None) or {}
    errors = data.get("errors") or _flatten(data.get("messages"))
    if err.code == 422:
        detail = "the request does not fit: " + "; ".join(
            f"{name} {' '.join(map(str, reasons)) if isinstance(reasons, list) else reasons}"
            for name, reasons in (errors or {}).items())
    else:
        detail = data.get("message") or err.description or HTTPStatus(err.code).phrase
    headers = {}
    if err.code == 405 and hasattr(err, "valid_methods") and err.valid_methods:
        headers["Allow"] = ", ".join(err.valid_methods)
    return error_response(err.code, detail, errors=errors or None, headers=headers)


def handle_unexpected(err: Exception):
    if isinstance(err, HTTPException):
        return handle_http_exception(err)
    log.exception("unhandled error in request %s", getattr(g, "request_id", "-"))
    return error_response(500, "an unexpected error occurred; it was logged with the request id")


def register(app):
    app.register_error_handler(FollowupError, handle_followup_error)
    app.register_error_handler(HTTPException, handle_http_exception)
    app.register_error_handler(Exception, handle_unexpected)
