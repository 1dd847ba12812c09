"""The outbox: robot messages leave only after their change commits, and are retried until the robot
takes them. The robots are a local HTTP server on 127.0.0.1 speaking WeCom's and DingTalk's answers."""
import base64
import hashlib
import hmac
import json
import threading
import urllib.parse
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from conftest import bpmn_file
from timer_support import fire_due, outbox_rows

from engine import clock
from engine.errors import Conflict
from engine.background.webhooks import Channel, sender


class Robot:
    """A chat robot endpoint: records each POST; answers the queued replies first, then success."""

    def __init__(self):
        self.received, self.replies = [], []
        robot = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                robot.received.append((self.path, body))
                status, answer = robot.replies.pop(0) if robot.replies else (200, {"errcode": 0, "errmsg": "ok"})
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def robot():
    server = Robot()
    yield server
    server.close()


def _called(engine, robot, kind="wecom", secret=None, customer="李女士"):
    engine.deploy([bpmn_file("timer_notify_after_call.bpmn")])
    iid = engine.start("timer_notify_after_call", "C-40", {"channel": "sales", "customer": customer})
    task = engine.instance(iid)["tasks"][0]
    engine.claim(task["id"], "li")
    with pytest.raises(Conflict):
        engine.complete_task(task["id"], actor="wang")  # rolled back: its message must not exist
    assert outbox_rows(engine) == []
    engine.complete_task(task["id"], actor="li")
    channel = Channel(kind, f"{robot.url}/send?key=abc", secret)
    return iid, sender({"sales": channel})


def test_a_message_is_sent_once_after_the_change_that_caused_it_commits(engine, robot):
    iid, send = _called(engine, robot)
    (row,) = outbox_rows(engine)
    assert row.instance_id == iid and row.sent_at is None
    fire_due(engine, send)
    fire_due(engine, send)
    assert robot.received == [("/send?key=abc", {"msgtype": "text", "text": {
        "content": "已联系 李女士", "mentioned_mobile_list": []}})]
    assert outbox_rows(engine)[0].sent_at is not None


def test_a_refused_message_is_retried_after_a_backoff(engine, robot):
    robot.replies = [(200, {"errcode": 45009, "errmsg": "api freq out of limit"}), (502, {})]
    _, send = _called(engine, robot)
    fire_due(engine, send)
    row = outbox_rows(engine)[0]
    assert row.sent_at is None and row.attempts == 1 and "45009" in row.last_error
    fire_due(engine, send)
    assert len(robot.received) == 1  # not before the backoff
    clock.advance(timedelta(seconds=6))
    fire_due(engine, send)           # the robot answers 502
    clock.advance(timedelta(seconds=31))
    fire_due(engine, send)
    assert len(robot.received) == 3
    row = outbox_rows(engine)[0]
    assert row.sent_at is not None and row.attempts == 3


def test_a_message_no_robot_takes_ends_as_dead_with_its_error(engine, robot):
    robot.replies = [(500, {})] * 10
    _, send = _called(engine, robot)
    for _ in range(8):
        fire_due(engine, send)
        clock.advance(timedelta(hours=1))
    row = outbox_rows(engine)[0]
    assert row.sent_at is None and row.next_attempt_at is None and row.attempts == 6
    assert "500" in row.last_error and len(robot.received) == 6


def test_dingtalk_messages_are_signed(engine, robot):
    _, send = _called(engine, robot, kind="dingtalk", secret="SECdemo")
    fire_due(engine, send)
    ((path, body),) = robot.received
    assert body == {"msgtype": "text", "text": {"content": "已联系 李女士"}, "at": {"atMobiles": [], "isAtAll": False}}
    query = urllib.parse.parse_qs(urllib.parse.urlparse(path).query)
    timestamp = query["timestamp"][0]
    expected = base64.b64encode(hmac.new(b"SECdemo", f"{timestamp}\nSECdemo".encode(), hashlib.sha256).digest())
    assert query["sign"][0] == expected.decode()


def test_an_unknown_channel_is_an_error_on_the_message_not_a_crash(engine, robot):
    _, send = _called(engine, robot)
    fire_due(engine, sender({}))
    row = outbox_rows(engine)[0]
    assert row.sent_at is None and "no channel named 'sales'" in row.last_error
