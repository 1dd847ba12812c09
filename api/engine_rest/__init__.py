"""The Camunda 7 REST subset under `/engine-rest`, so existing Camunda clients and workers run against
Followup: external tasks, process definitions, user tasks, messages, process instances, deployments.

Same authentication as /api (a Bearer token, or HTTP Basic with the user name and the token) and the same
access rules (engine/access.py, through the Engine's `*_as` / `*_for` methods). Answers use Camunda's
shapes: typed variables, its date format, `key:version:id` definition ids, 204 where Camunda answers 204,
and errors as `{"type", "message"}`. See the README's "Coming from Camunda 7" for what is left out.
"""
from api.engine_rest.routes import blp

__all__ = ["blp"]
