"""The README's first command ends in `followup demo`: it must bring the whole product up on the
embedded default (SQLite, no Redis) with the bundled SOPs deployed and working tokens printed."""
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

from engine.workflow.parsing import SourceFile, parse_files

ROOT = Path(__file__).resolve().parent.parent


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url, token=None):
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status, json.loads(response.read())


def test_the_demo_serves_the_bundled_sops_with_working_tokens(tmp_path):
    bundled = [p for p in (ROOT / "bpmn").iterdir() if p.suffix in (".bpmn", ".dmn")]
    expected = set(parse_files([SourceFile(p.name, p.read_bytes()) for p in bundled]).processes)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env["FOLLOWUP_DATA_DIR"] = str(tmp_path / "data")
    followup = Path(sys.executable).with_name("followup")
    process = subprocess.Popen([str(followup), "demo", "--port", str(port)], cwd=tmp_path, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        lines = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line:
                break
            lines.append(line)
            if "API docs" in line:
                break
        output = "".join(lines)
        users = re.findall(r"^\s+(\w+)\s+\w+\s+\S+\s+(\S+)\s+(fu_\S+)$", output, re.M)
        tokens = {name: token for name, _password, token in users}
        passwords = {name: password for name, password, _token in users}
        assert {"admin", "wangfang", "zhaomin"} <= set(tokens), output
        assert passwords["wangfang"] == "demo-wangfang"
        for _ in range(100):
            try:
                status, health = get(f"http://127.0.0.1:{port}/api/health")
                break
            except OSError:
                time.sleep(0.1)
        assert status == 200 and health["database"]["ok"]
        _, definitions = get(f"http://127.0.0.1:{port}/api/definitions?page_size=500", tokens["admin"])
        assert {d["key"] for d in definitions["items"]} == expected
        assert (tmp_path / "data" / "followup.db").exists()
        status, inbox = get(f"http://127.0.0.1:{port}/api/tasks?scope=all", tokens["wangfang"])
        assert status == 200 and "items" in inbox
        # The printed password signs in to the pages.
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor())
        form = opener.open(f"http://127.0.0.1:{port}/signin", timeout=10).read().decode()
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
        body = urllib.parse.urlencode({"csrf_token": csrf, "username": "wangfang",
                                       "password": passwords["wangfang"]}).encode()
        with opener.open(f"http://127.0.0.1:{port}/signin", body, timeout=10) as response:
            assert response.url.endswith("/inbox") and "王芳" in response.read().decode()
        # issue 12 item 21: a user for every team the bundled SOPs route to, a manager, a check-in template
        assert {"zhangwei", "liuyang", "sunli", "zhouzong", "chenjing"} <= set(tokens), output
        _, templates = get(f"http://127.0.0.1:{port}/api/checkins/templates", tokens["admin"])
        assert "visit" in {t["scenario"] for t in (templates["items"] if isinstance(templates, dict) else templates)}
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
