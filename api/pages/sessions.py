"""The pages' session cookie, without its cost on the JSON API.

Flask opens the session on every request. The API's callers (bearer tokens) send no cookie, and Flask's
own interface still builds a new signing serializer for each of them (itsdangerous checks it with a trial
dump), which was a tenth of the CPU of a small API call. Here a request without any cookie gets an empty
session at once, and the serializer is built once per key."""
from flask.sessions import SecureCookieSessionInterface


class CookieSessions(SecureCookieSessionInterface):
    def __init__(self):
        self._serializers = {}

    def get_signing_serializer(self, app):
        key = (app.secret_key, tuple(app.config.get("SECRET_KEY_FALLBACKS") or ()))
        serializer = self._serializers.get(key)
        if serializer is None:
            serializer = super().get_signing_serializer(app)
            if serializer is not None and len(self._serializers) < 8:
                self._serializers[key] = serializer
        return serializer

    def open_session(self, app, request):
        if app.secret_key and "HTTP_COOKIE" not in request.environ:
            return self.session_class()  # what the parent answers for a request without this cookie
        return super().open_session(app, request)
