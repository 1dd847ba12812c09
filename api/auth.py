"""Bearer-token authentication for every call except the public ones (health, the OpenAPI document and
its docs page).

A short-lived in-process cache (FOLLOWUP_TOKEN_CACHE_SECONDS, default 2, 0 turns it off) saves the token
lookup on the agent's hot loop; a revocation made through this process drops its entry at once, one made
elsewhere takes effect within that many seconds.
"""
import threading
import time

from flask import current_app, g, request

from engine.identity import hash_token

from api.errors import BadInput, Unauthorized
from api.services import services

PUBLIC_ENDPOINTS = {"system.health", "system.docs", "api-docs.openapi_json", "static"}


class TokenCache:
    def __init__(self, ttl: float):
        self.ttl = ttl
        self._entries = {}
        self._lock = threading.Lock()

    def get(self, key):
        if self.ttl <= 0:
            return None
        with self._lock:
            entry = self._entries.get(key)
        if entry is None or entry[0] < time.monotonic():
            return None
        return entry[1]

    def put(self, key, user):
        if self.ttl <= 0:
            return
        with self._lock:
            if len(self._entries) > 10_000:
                self._entries.clear()
            self._entries[key] = (time.monotonic() + self.ttl, user)

    def clear(self):
        with self._lock:
            self._entries.clear()


def refuse_nul():
    """before_request: NUL characters in the path or query cannot be stored or looked up; say so (400)."""
    environ = request.environ  # the raw query: parsing it into arguments here would cost every request
    query = environ.get("QUERY_STRING", "")
    if "\x00" in environ.get("PATH_INFO", "") or "%00" in query or "\x00" in query:
        raise BadInput("the path and the query must not contain NUL characters")


def refuse_unlabelled_body():
    """before_request: a body sent without `Content-Type: application/json` (curl -d sends
    application/x-www-form-urlencoded) would be read as no body at all; answer 415 instead. Uploads
    (multipart/form-data) go to the routes that take files. The pages' forms (outside /api/) post forms."""
    if request.method not in ("POST", "PUT", "PATCH") or not request.content_length \
            or not request.path.startswith("/api/"):
        return
    mimetype = request.mimetype or ""
    if mimetype == "application/json" or mimetype.endswith("+json") or mimetype == "multipart/form-data":
        return
    from werkzeug.exceptions import UnsupportedMediaType

    raise UnsupportedMediaType(f"send the body as JSON with 'Content-Type: application/json' "
                               f"(it came as '{mimetype or 'no content type'}')")


def bearer_token():
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def authenticate():
    """before_request: set g.user, or refuse with 401."""
    g.user = None
    endpoint, path = request.endpoint, request.path
    if endpoint in PUBLIC_ENDPOINTS or not (path.startswith("/api") or path.startswith("/metrics")):
        return
    if endpoint == "system.metrics" and current_app.config["FOLLOWUP_METRICS_PUBLIC"]:
        return
    token = bearer_token()
    if token is None:
        raise Unauthorized("this call needs an 'Authorization: Bearer <token>' header")
    g.user = user_of_token(token)


def user_of_token(token):
    """The active user a bearer token stands for (through the token cache); Unauthorized if none."""
    cache: TokenCache = current_app.extensions["followup_tokens"]
    key = hash_token(token)
    user = cache.get(key)
    if user is None:
        user = services().identity.authenticate(token)
        if user is None:
            raise Unauthorized("the token is not valid (unknown, revoked, or its user is deactivated)")
        cache.put(key, user)
    return user
