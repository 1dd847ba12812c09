"""Issue 11: while a runaway case runs on a real server, `/api/health` keeps answering (within a second: a
liveness check with a generous bound, not a speed target), and the runaway start ends in an incident."""
import os
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from engine.identity import IdentityStore
from hostile_support import loop_process, multi_instance_process, script_process
from servers import free_port, running
from test_api_server import _call, _multipart


@pytest.fixture
def one_worker_server(engine, tmp_path):
    """gunicorn with ONE worker process (four threads): nothing but the guards keeps it answering."""
    port = free_port()
    env = {**os.environ, "DATABASE_URL": engine.db.url.render_as_string(hide_password=False),
           "FOLLOWUP_DATA_DIR": str(tmp_path), "FOLLOWUP_SCRIPT_SECONDS": "3", "FOLLOWUP_MAX_STEPS": "3000"}
    env.pop("REDIS_URL", None)
    gunicorn = Path(sys.executable).with_name("gunicorn")
    with running([str(gunicorn), "-w", "1", "--threads", "4", "-b", f"127.0.0.1:{port}", "api.wsgi:app"],
                 env, port) as (base, _process):
        yield base


def _health_seconds(base):
    started = time.monotonic()
    with urllib.request.urlopen(base + "/api/health", timeout=30) as response:
        assert response.status == 200
    return time.monotonic() - started


CASES = [
    ("endless", [script_process("endless", "while True:\n    x = 1")], {}),
    ("spin", [loop_process("spin")], {"n": 0}),
    ("huge_sum", [script_process("huge_sum", "total = sum(range(10**12))")], {}),
    ("huge_power", [script_process("huge_power", "big = 10**(10**8)")], {}),
    ("huge_text", [script_process("huge_text", "text = 'a' * 10**10")], {}),
    ("fan_out", [multi_instance_process("fan_out", "10**6")], {}),
]


@pytest.mark.parametrize("key, files, variables", CASES, ids=[c[0] for c in CASES])
def test_health_answers_while_a_runaway_start_runs(one_worker_server, engine, key, files, variables):
    base = one_worker_server
    identity = IdentityStore(engine.db)
    identity.add_user("dora", "designer")
    token = identity.issue_token("dora")[1]
    for name, content in files:
        body, content_type = _multipart(name, content)
        assert _call(base, "POST", "/api/deployments", token, body, content_type)[0] == 201
    answer = {}

    def run():
        answer["status"], answer["body"] = _call(base, "POST", "/api/instances", token,
                                                 {"process_key": key, "variables": variables})

    runner = threading.Thread(target=run)
    runner.start()
    slowest = 0.0
    while runner.is_alive():
        slowest = max(slowest, _health_seconds(base))
        time.sleep(0.2)
    runner.join()
    assert slowest < 1.0, f"/api/health took {slowest:.2f} s while '{key}' ran"
    assert answer["status"] == 201, answer
    assert answer["body"]["status"] == "error" and answer["body"]["incident"]["element_id"]


def test_followup_serve_survives_a_script_that_eats_memory(engine, tmp_path):
    """`followup serve` is one process: with FOLLOWUP_MEMORY_LIMIT_MB the allocation fails in the script
    (an incident), the server lives on."""
    port = free_port()
    env = {**os.environ, "DATABASE_URL": engine.db.url.render_as_string(hide_password=False),
           "FOLLOWUP_DATA_DIR": str(tmp_path), "FOLLOWUP_MEMORY_LIMIT_MB": "1500", "FOLLOWUP_SCRIPT_SECONDS": "20"}
    env.pop("REDIS_URL", None)
    followup = Path(sys.executable).with_name("followup")
    with running([str(followup), "serve", "--port", str(port)], env, port) as (base, process):
        identity = IdentityStore(engine.db)
        identity.add_user("dora", "designer")
        token = identity.issue_token("dora")[1]
        name, content = script_process("hungry", "x = []\nfor i in range(40):\n    x.append([0] * 10**7)")
        body, content_type = _multipart(name, content)
        assert _call(base, "POST", "/api/deployments", token, body, content_type)[0] == 201
        status, instance = _call(base, "POST", "/api/instances", token, {"process_key": "hungry"})
        if status != 201:
            process.terminate()
            pytest.fail(process.stdout.read().decode(errors="replace")[-4000:])
        assert instance["status"] == "error"
        assert "MemoryError" in instance["incident"]["message"] and instance["incident"]["element_id"] == "run"
        assert _call(base, "GET", "/api/health")[0] == 200 and process.poll() is None
