"""Health, metrics, the OpenAPI document and docs page, JSON errors for everything, the request log."""
import dataclasses
import io
import json
import logging

import sqlalchemy as sa

from api import create_app
from api_fixtures import *  # noqa: F401,F403
from api_fixtures import start
from engine.runtime import Engine
from engine.storage.database import create_db_engine


def test_health_needs_no_token_and_reports_database_and_redis(client, engine, redis_url):
    response = client.get("/api/health")
    assert response.status_code == 200
    assert response.get_json()["status"] == "ok" and response.get_json()["database"]["ok"] is True
    with_redis = Engine(dataclasses.replace(engine.settings, redis_url=redis_url), db=engine.db)
    assert create_app(with_redis).test_client().get("/api/health").get_json()["redis"] == {
        "ok": True, "detail": "reachable"}


def test_health_is_503_when_the_database_or_redis_is_down(engine):
    down_redis = Engine(dataclasses.replace(engine.settings, redis_url="redis://127.0.0.1:1/0"), db=engine.db)
    response = create_app(down_redis).test_client().get("/api/health")
    assert response.status_code == 503 and response.get_json()["redis"]["ok"] is False
    dead_db = create_db_engine("postgresql://postgres@127.0.0.1:1/none", poolclass=sa.pool.NullPool,
                               connect_args={"connect_timeout": 1})
    response = create_app(Engine(engine.settings, db=dead_db)).test_client().get("/api/health")
    assert response.status_code == 503
    assert response.get_json()["database"] == {"ok": False, "detail": "not reachable: OperationalError"}


def test_metrics_report_instances_tasks_timers_and_latency(team, client):
    team.designer.deploy("first_contact.bpmn")
    start(team.boss, "first_contact", "C-1", owner="li")
    start(team.boss, "first_contact", "C-2", owner="li")
    assert team.li.get("/metrics").status_code == 403
    assert client.get("/metrics").status_code == 401
    response = team.boss.get("/metrics")
    assert response.status_code == 200 and response.mimetype == "text/plain"
    lines = response.get_data(as_text=True).splitlines()
    assert 'followup_instances{status="user_input"} 2' in lines
    assert "followup_tasks_ready 2" in lines and "followup_tasks_overdue 0" in lines
    assert "followup_timers_pending 2" in lines
    assert any(line.startswith('followup_http_request_duration_seconds_count{method="POST",route="/api/instances",'
                               'status="201"') and line.endswith(" 2") for line in lines)


def test_openapi_document_describes_every_endpoint_with_schemas(client):
    spec = client.get("/api/openapi.json").get_json()
    assert spec["openapi"].startswith("3.")
    paths = spec["paths"]
    for path in ("/api/deployments", "/api/deployments/validate", "/api/definitions", "/api/definitions/{key}",
                 "/api/definitions/{key}/xml", "/api/instances", "/api/instances/{instance_id}",
                 "/api/instances/{instance_id}/events", "/api/instances/{instance_id}/cancel",
                 "/api/instances/{instance_id}/suspend", "/api/instances/{instance_id}/resume",
                 "/api/instances/{instance_id}/retry", "/api/messages", "/api/tasks", "/api/tasks/{task_id}",
                 "/api/tasks/{task_id}/claim", "/api/tasks/{task_id}/unclaim", "/api/tasks/{task_id}/assign",
                 "/api/tasks/{task_id}/complete", "/api/health", "/metrics"):
        assert path in paths, path
    assert spec["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    assert paths["/api/health"]["get"]["security"] == []
    error = spec["components"]["schemas"]["Error"]
    assert set(error["required"]) == {"status", "title", "detail"}
    task = spec["components"]["schemas"]["Task"]["properties"]
    assert {"id", "name", "element_id", "instance_id", "process_key", "business_key", "lane", "candidate_groups",
            "assignee", "due_at", "created_at", "form"} <= set(task)


def test_docs_page_works_offline(client):
    response = client.get("/api/docs")
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and response.mimetype == "text/html"
    assert "/api/tasks/{task_id}/complete" in page and 'id="schema-Task"' in page
    assert "<script" not in page and "http://" not in page and "https://" not in page


def test_every_error_is_json_with_status_title_detail(team, engine, monkeypatch, client):
    not_found = team.li.get("/api/nowhere")
    assert not_found.status_code == 404 and not_found.get_json()["title"] == "Not Found"
    not_allowed = team.li.delete("/api/tasks")
    assert not_allowed.status_code == 405 and not_allowed.is_json and "GET" in not_allowed.headers["Allow"]
    assert client.get("/api/favicon.ico").is_json  # outside /api a mistyped address answers a page (api/pages)

    def explode(*args, **kwargs):
        raise RuntimeError("secret internals")
    monkeypatch.setattr(engine, "list_definitions", explode)
    crashed = team.li.get("/api/definitions")
    assert crashed.status_code == 500 and crashed.is_json
    body = crashed.get_json()
    assert set(body) == {"status", "title", "detail", "request_id"}
    assert "secret" not in crashed.get_data(as_text=True) and "Traceback" not in crashed.get_data(as_text=True)


def test_an_upload_over_the_limit_is_413(team, app):
    app.config["MAX_CONTENT_LENGTH"] = 1000
    response = team.designer.post("/api/deployments", data={"files": [(io.BytesIO(b"x" * 5000), "big.bpmn")]},
                                  content_type="multipart/form-data")
    assert response.status_code == 413 and response.get_json()["status"] == 413


class _Lines(logging.Handler):
    def __init__(self):
        super().__init__()
        self.lines = []

    def emit(self, record):
        self.lines.append(record.getMessage())


def test_each_request_logs_one_json_line_with_request_id_and_user(team):
    handler = _Lines()
    logger = logging.getLogger("followup.access")
    logger.addHandler(handler)
    try:
        response = team.li.get("/api/tasks", headers={"X-Request-ID": "abc-123"})
        team.li.get("/api/tasks/none")
    finally:
        logger.removeHandler(handler)
    assert response.headers["X-Request-ID"] == "abc-123"
    first, second = (json.loads(line) for line in handler.lines)
    assert first["request_id"] == "abc-123" and first["user"] == "li" and first["status"] == 200
    assert first["path"] == "/api/tasks" and first["duration_ms"] >= 0
    assert second["status"] == 404 and len(second["request_id"]) == 32


def test_nul_characters_and_unknown_filters_are_refused_not_500(team):
    assert team.li.get("/api/tasks", query_string={"business_key": "a\x00b"}).status_code == 400
    assert team.li.get("/api/tasks/a%00b").status_code == 400
    misspelt = team.li.get("/api/tasks", query_string={"proces_key": "x"})
    assert misspelt.status_code == 422 and "proces_key" in misspelt.get_json()["errors"]
    body = team.boss.post("/api/messages", json={"name": "replied", "business_key": "C\x001"})
    assert body.status_code == 422 and "business_key" in body.get_json()["errors"]
    assert team.admin.delete("/api/users/li/tokens/99999999999").status_code == 404
