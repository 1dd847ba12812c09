"""The real thing: gunicorn serving `api.wsgi:app` in its own process; deploy, start, claim and complete
over HTTP with nothing but the standard library as the client."""
import json
import os
import sys
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest

from conftest import BPMN_DIR
from servers import free_port, running
from engine.identity import IdentityStore


def _call(base, method, path, token=None, body=None, content_type="application/json"):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    data = None
    if body is not None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        headers["Content-Type"] = content_type
    request = urllib.request.Request(base + path, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read() or b"null")


def _multipart(name, content):
    boundary = uuid.uuid4().hex
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"files\"; filename=\"{name}\"\r\n"
            "Content-Type: application/xml\r\n\r\n").encode() + content + f"\r\n--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


@pytest.fixture
def server(engine, tmp_path):
    port = free_port()
    env = {**os.environ, "DATABASE_URL": engine.db.url.render_as_string(hide_password=False),
           "FOLLOWUP_DATA_DIR": str(tmp_path)}
    env.pop("REDIS_URL", None)
    gunicorn = Path(sys.executable).with_name("gunicorn")
    with running([str(gunicorn), "-w", "2", "-b", f"127.0.0.1:{port}", "api.wsgi:app"], env, port) as found:
        yield found


def test_a_real_server_deploys_starts_and_completes_a_task(server, engine):
    base, process = server
    identity = IdentityStore(engine.db)
    identity.add_user("dora", "designer")
    identity.add_user("li", "agent", ["sales-east"])
    designer, agent = identity.issue_token("dora")[1], identity.issue_token("li")[1]

    assert _call(base, "GET", "/api/tasks")[0] == 401
    body, content_type = _multipart("first_contact.bpmn", (BPMN_DIR / "first_contact.bpmn").read_bytes())
    status, deployed = _call(base, "POST", "/api/deployments", designer, body, content_type)
    assert status == 201 and deployed["processes"][0]["key"] == "first_contact"

    status, instance = _call(base, "POST", "/api/instances", agent,
                             {"process_key": "first_contact", "business_key": "C-1", "variables": {"owner": "li"}})
    assert status == 201 and instance["status"] == "user_input"
    status, inbox = _call(base, "GET", "/api/tasks?scope=unassigned", agent)
    assert status == 200 and inbox["total"] == 1
    task_id = inbox["items"][0]["id"]
    assert _call(base, "POST", f"/api/tasks/{task_id}/claim", agent)[0] == 200
    status, bad = _call(base, "POST", f"/api/tasks/{task_id}/complete", agent, {"variables": {"outcome": "maybe"}})
    assert status == 422 and "outcome" in bad["errors"]
    status, done = _call(base, "POST", f"/api/tasks/{task_id}/complete", agent, {"variables": {"outcome": "reached"}})
    assert status == 200 and [t["element_id"] for t in done["next_tasks"]] == ["qualify"]
    status, finished = _call(base, "POST", f"/api/tasks/{done['next_tasks'][0]['id']}/complete", agent,
                             {"variables": {"budget": 10}})
    assert status == 200 and finished["instance_status"] == "complete"
    status, final = _call(base, "GET", f"/api/instances/{instance['id']}", agent)
    assert final["status"] == "complete" and final["variables"]["tier"] == "C"

    process.terminate()
    log = process.communicate(timeout=20)[0].decode(errors="replace")
    lines = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    assert any(line["user"] == "li" and line["route"] == "/api/tasks/<task_id>/complete" for line in lines)
