"""Schemathesis over the OpenAPI document: for a bounded number of generated requests per operation (valid
ones and invalid ones), no 500, and every answer matches its documented status, content type and schema.

FOLLOWUP_FUZZ_EXAMPLES sets the examples per process operation and mode (default 15), FOLLOWUP_FUZZ_HUB_EXAMPLES
those per customer hub operation (default 8); about 35 s in all. The operations are driven
from a plain test (not schemathesis' pytest plugin, whose lazy fixtures do not work with pytest 9).
"""
import os

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (content_type_conformance, negative_data_rejection,
                                               response_schema_conformance, status_code_conformance)

from api_fixtures import *  # noqa: F401,F403
from conftest import bpmn_file
from engine.customers import create_customer, define_template
from engine.customers.records import create_record
from engine.customers.vocab import seed_defaults

EXAMPLES = int(os.environ.get("FOLLOWUP_FUZZ_EXAMPLES", "15"))
HUB_EXAMPLES = int(os.environ.get("FOLLOWUP_FUZZ_HUB_EXAMPLES", "8"))
POSITIVE_CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
                   response_schema_conformance]
NEGATIVE_CHECKS = POSITIVE_CHECKS + [negative_data_rejection]
PROCESS_PREFIXES = ("/api/deployments", "/api/definitions", "/api/instances", "/api/messages", "/api/tasks", "/api/me",
            "/api/users", "/api/health", "/api/docs", "/metrics")
HUB_PREFIXES = ("/api/customers", "/api/contacts", "/api/leads", "/api/opportunities", "/api/contracts", "/api/payments",
            "/api/tickets", "/api/vocabularies", "/api/customer-settings", "/api/pool", "/api/checkins",
            "/api/imports")


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_no_server_errors_and_answers_match_the_schema(app, team, engine, identity, mode):
    engine.deploy([bpmn_file("first_contact.bpmn")])
    engine.start("first_contact", "C-1", {"owner": "ada"}, actor="ada")
    seed_defaults(engine)
    customer, _ = create_customer(engine, {"name": "甲公司", "phone": "13812345678"}, actor="ada")
    contract = create_record(engine, "contract", {"customer_id": customer["id"], "title": "服务合同"}, actor="ada")
    create_record(engine, "lead", {"name": "王五", "company": "乙公司"}, actor="ada")
    define_template(engine, "visit", "拜访", [{"name": "note", "label": "备注", "type": "text"}], actor="ada")
    assert contract["id"] == 1
    schema = schemathesis.openapi.from_wsgi("/api/openapi.json", app)
    checks = POSITIVE_CHECKS if mode == GenerationMode.POSITIVE else NEGATIVE_CHECKS
    operations = [op for op in (result.ok() for result in schema.get_all_operations())
                  if op.path.startswith(PROCESS_PREFIXES + HUB_PREFIXES)]
    assert len(operations) >= 70

    for operation in operations:
        examples = HUB_EXAMPLES if operation.path.startswith(HUB_PREFIXES) else EXAMPLES

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(max_examples=examples, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        def run(case):
            token = identity.issue_token("ada")[1]  # fresh: DELETE /api/me/token revokes the one in use
            case.call_and_validate(headers={"Authorization": f"Bearer {token}"}, checks=checks)

        try:
            run()
        except Unsatisfiable:
            assert mode == GenerationMode.NEGATIVE  # nothing to get wrong, e.g. GET /api/health


HOSTILE_BODIES = {
    "deep": b'{"variables": {"x": ' + b"[" * 100_000 + b"]" * 100_000 + b"}}",
    "huge": b'{"name": "' + b"x" * (2 * 1024 * 1024) + b'"}',
    "surrogate": b'{"name": "\\ud800", "variables": {"x": "\\udfff"}}',
    "nul": b'{"name": "a\\u0000b", "variables": {"x\\u0000": 1}}',
    "broken utf-8": b'{"name": "\xed\xa0\x80\xff"}',
}


def test_hostile_bodies_get_a_4xx_on_every_json_operation(app, team, engine):
    """Deep, huge and invalid-Unicode bodies, sent to every operation of the OpenAPI document that takes
    JSON (so a new route is covered the day it is added): never a 500, always a 4xx."""
    document = team.admin.get("/api/openapi.json").get_json()
    operations = [(path, method) for path, item in document["paths"].items() for method, op in item.items()
                  if isinstance(op, dict) and "application/json" in (op.get("requestBody") or {}).get("content", {})]
    assert len(operations) >= 20
    for path, method in operations:
        url = path
        for name in [p.strip("{}") for p in path.split("/") if p.startswith("{")]:
            url = url.replace("{" + name + "}", "1")
        for kind, body in HOSTILE_BODIES.items():
            response = team.admin.client.open(url, method=method.upper(), data=body, content_type="application/json",
                                              headers={"Authorization": f"Bearer {team.admin.token}"})
            assert 400 <= response.status_code < 500, (method, path, kind, response.status_code, response.get_data()[:300])
