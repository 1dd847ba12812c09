"""Shared pieces of the route modules: a Blueprint that documents error responses in one line, and the
page envelope."""
from http import HTTPStatus

import flask_smorest


class Blueprint(flask_smorest.Blueprint):
    def errors(self, *codes):
        """Document the error statuses an endpoint answers with (all share the error schema)."""
        def decorator(func):
            for code in codes:
                func = self.alt_response(code, response=HTTPStatus(code).name)(func)
            return func
        return decorator


def paged(items, total, page, page_size):
    return {"items": items, "total": total, "page": page, "page_size": page_size}
