"""Issue 12, deadlines: the embedded default keeps every deadline whichever command serves it; scripts,
timers and forms agree on one time zone; resuming a suspended instance moves its deadlines."""
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

from api_fixtures import *  # noqa: F401,F403
from test_demo import free_port

BOUNDARY_PT2S = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" targetNamespace="x">
  <bpmn:process id="quick_deadline" name="两秒期限 Two-second deadline" isExecutable="true">
    <bpmn:startEvent id="start" />
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="call" />
    <bpmn:userTask id="call" name="Call" />
    <bpmn:boundaryEvent id="late" attachedToRef="call">
      <bpmn:timerEventDefinition id="t1"><bpmn:timeDuration>PT2S</bpmn:timeDuration></bpmn:timerEventDefinition>
    </bpmn:boundaryEvent>
    <bpmn:sequenceFlow id="f2" sourceRef="late" targetRef="missed" />
    <bpmn:endEvent id="missed" />
    <bpmn:sequenceFlow id="f3" sourceRef="call" targetRef="done" />
    <bpmn:endEvent id="done" />
  </bpmn:process>
</bpmn:definitions>
"""


def _call(url, token, method="GET", body=None, files=None):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    data = None
    if files is not None:
        boundary = uuid.uuid4().hex
        parts = []
        for name, content in files:
            parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="{name}"\r\n'
                         f"Content-Type: application/octet-stream\r\n\r\n".encode() + content + b"\r\n")
        data = b"".join(parts) + f"--{boundary}--\r\n".encode()
        headers["Content-Type"] = f"multipart/form-data; boundary={boundary}"
    elif body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    request = urllib.request.Request(url, data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def _serve(tmp_path, *args, env_extra=None):
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "FOLLOWUP_TIMERS")}
    env["FOLLOWUP_DATA_DIR"] = str(tmp_path / "data")
    env.update(env_extra or {})
    followup = str(Path(sys.executable).with_name("followup"))
    token = subprocess.run([followup, "user", "add", "dora", "--role", "admin"], env=env, cwd=tmp_path,
                           capture_output=True, text=True, check=True).stdout.strip()
    port = free_port()
    process = subprocess.Popen([followup, "serve", "--port", str(port), *args], cwd=tmp_path, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            _call(base + "/api/health", None)
            break
        except OSError:
            time.sleep(0.1)
    return process, base, token


def _stop(process):
    process.send_signal(signal.SIGINT)
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()
    return process.stderr.read()


def test_followup_serve_on_the_embedded_default_fires_timers_and_says_so(tmp_path):
    process, base, token = _serve(tmp_path)
    try:
        status, health = _call(base + "/api/health", None)
        assert status == 200 and health["timers"] == {"ok": True, "detail": "run in this process"}
        assert _call(base + "/api/deployments", token, "POST",
                     files=[("quick.bpmn", BOUNDARY_PT2S.encode())])[0] == 201
        status, started = _call(base + "/api/instances", token, "POST",
                                {"process_key": "quick_deadline", "business_key": "C-1"})
        assert status == 201 and started["status"] == "user_input"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            instance = _call(f"{base}/api/instances/{started['id']}", token)[1]
            if instance["status"] == "complete":
                break
            time.sleep(0.3)
        assert instance["status"] == "complete" and "timer_fired" in json.dumps(
            _call(f"{base}/api/instances/{started['id']}/events", token)[1])
    finally:
        stderr = _stop(process)
    assert "Timers and messages: run in this process" in stderr


def test_timers_can_be_turned_off_explicitly_and_health_says_so(tmp_path):
    process, base, _ = _serve(tmp_path, "--no-timers")
    try:
        assert "turned off" in _call(base + "/api/health", None)[1]["timers"]["detail"]
    finally:
        stderr = _stop(process)
    assert "timers are OFF" in stderr


SCRIPT_DEADLINE = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d2" targetNamespace="x">
  <bpmn:process id="script_deadline" isExecutable="true">
    <bpmn:startEvent id="start" />
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="plan" />
    <bpmn:scriptTask id="plan"><bpmn:script>due = datetime.now() + timedelta(hours=1)
today_local = str(date.today())</bpmn:script></bpmn:scriptTask>
    <bpmn:sequenceFlow id="f2" sourceRef="plan" targetRef="wait" />
    <bpmn:intermediateCatchEvent id="wait">
      <bpmn:timerEventDefinition id="t"><bpmn:timeDate>due</bpmn:timeDate></bpmn:timerEventDefinition>
    </bpmn:intermediateCatchEvent>
    <bpmn:sequenceFlow id="f3" sourceRef="wait" targetRef="end" />
    <bpmn:endEvent id="end" />
  </bpmn:process>
</bpmn:definitions>
"""


def test_a_timer_set_from_a_scripts_now_fires_when_meant_on_a_utc_host(team, monkeypatch):
    import io
    from datetime import datetime, timedelta, timezone

    from engine import clock

    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    try:
        files = [(io.BytesIO(SCRIPT_DEADLINE.encode()), "script_deadline.bpmn")]
        assert team.designer.post("/api/deployments", data={"files": files},
                                  content_type="multipart/form-data").status_code == 201
        response = team.designer.post("/api/instances", json={"process_key": "script_deadline"})
        assert response.status_code == 201, response.get_json()
        instance = team.designer.get(f"/api/instances/{response.get_json()['id']}").get_json()
        due = datetime.fromisoformat(instance["timers"][0]["due_at"])
        assert abs(due - (clock.now() + timedelta(hours=1))) < timedelta(minutes=1), instance["timers"]
        shanghai = clock.now().astimezone(timezone(timedelta(hours=8))).date().isoformat()
        assert instance["variables"]["today_local"] == shanghai
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()


# ---- 3: resuming keeps the time a deadline had left; the engine, not the resumer, escalates ---------------

def test_a_resumed_instance_keeps_the_time_its_deadline_had_left(team, engine):
    from datetime import datetime, timedelta

    from engine import clock
    from engine.customers.vocab import seed_defaults
    from sop_support import customer, deploy_library, run_due

    seed_defaults(engine)
    deploy_library(engine)
    cid = customer(engine)
    iid = team.admin.post("/api/instances", json={"process_key": "complaint_escalation", "business_key": str(cid),
                                                  "variables": {"subject": "设备故障"}}).get_json()["id"]
    due = datetime.fromisoformat(team.admin.get(f"/api/instances/{iid}").get_json()["timers"][0]["due_at"])
    clock.advance(timedelta(minutes=10))
    assert team.boss.post(f"/api/instances/{iid}/suspend").status_code == 200
    clock.advance(timedelta(hours=1))
    run_due(engine)
    resumed = team.boss.post(f"/api/instances/{iid}/resume")
    assert resumed.status_code == 200
    moved = datetime.fromisoformat(resumed.get_json()["timers"][0]["due_at"])
    assert abs(moved - (due + timedelta(hours=1))) < timedelta(seconds=5)
    run_due(engine)
    actions = [e["action"] for e in team.admin.get(f"/api/instances/{iid}/events").get_json()["items"]]
    assert actions[-1] == "resumed" and "timer_fired" not in actions
    clock.advance(timedelta(minutes=21))
    run_due(engine)
    events = team.admin.get(f"/api/instances/{iid}/events").get_json()["items"]
    fired = [e for e in events if e["action"] == "timer_fired"]
    assert fired and fired[0]["actor"] == "timer"
