"""Shared pieces of the route modules: a Blueprint that documents error responses in one line, and the
page envelope."""
from http import HTTPStatus

import flask_smorest
from marshmallow import RAISE


class Blueprint(flask_smorest.Blueprint):
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
