"""Shared pieces of the route modules: a Blueprint that documents error responses in one line, and the
page envelope."""
from http import HTTPStatus

import json

import flask_smorest
from marshmallow import RAISE, missing
from webargs.flaskparser import FlaskParser, is_json_request

from engine import fastjson


class JsonParser(FlaskParser):
    """Request bodies read by orjson (`engine.fastjson`), and refused when they are not RFC 8259 JSON
    (NaN, Infinity), with webargs' usual 400."""

    def _raw_load_json(self, req):
        if not is_json_request(req):
            return missing
        data = req.get_data(cache=True)
        try:
            return fastjson.loads(data, strict=True)
        except json.JSONDecodeError:
            raise
        except ValueError as err:  # NaN or Infinity
            raise json.JSONDecodeError(str(err), data.decode("utf-8", "replace"), 0) from None


class Blueprint(flask_smorest.Blueprint):
    ARGUMENTS_PARSER = JsonParser()

    def arguments(self, schema, *, location="json", **kwargs):
        """Unknown query parameters are refused (422) like unknown body fields: a misspelt filter must not
        quietly list everything."""
        if location == "query":
            kwargs.setdefault("unknown", RAISE)
        if isinstance(schema, type):  # webargs would build a new instance of a class on every request
            schema = schema()
        return super().arguments(schema, location=location, **kwargs)

    def errors(self, *codes):
        """Document the error statuses an endpoint answers with (all share the error schema)."""
        def decorator(func):
            for code in codes:
                func = self.alt_response(code, response=HTTPStatus(code).name)(func)
            return func
        return decorator


def paged(items, total, page, page_size):
    return {"items": items, "total": total, "page": page, "page_size": page_size}
