"""Flask's JSON through orjson: the inbox answers twenty tasks with their forms on every poll, and the
standard library's encoder was a tenth of that request's CPU.

Output is what Flask's own provider gives (keys in order, UTF-8 text, compact): values orjson cannot
write the same way (datetimes, which Flask writes as HTTP dates; integers beyond 64 bits; anything
unusual) go through Flask's provider instead.
"""
import orjson
from flask.json.provider import DefaultJSONProvider

from engine import fastjson

_OPTIONS = orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATETIME


class OrjsonProvider(DefaultJSONProvider):
    sort_keys = False
    ensure_ascii = False

    def dumps(self, obj, **kwargs):
        if not kwargs:
            try:
                return orjson.dumps(obj, default=self.default, option=_OPTIONS).decode()
            except (TypeError, orjson.JSONEncodeError):
                kwargs["separators"] = (",", ":")  # compact, as orjson's
        return super().dumps(obj, **kwargs)

    def loads(self, s, **kwargs):
        """Request bodies: RFC 8259 JSON (no NaN or Infinity, which the database could not store)."""
        if not kwargs:
            return fastjson.loads(s, strict=True)
        return super().loads(s, **kwargs)

    def response(self, *args, **kwargs):
        if self.compact is False or (self.compact is None and self._app.debug):
            return super().response(*args, **kwargs)  # indented for reading
        obj = self._prepare_response_obj(args, kwargs)
        return self._app.response_class(self.dumps(obj) + "\n", mimetype=self.mimetype)
