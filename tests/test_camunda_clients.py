"""The real Camunda clients against a real running server: `camunda-external-task-client-python3` fetches,
completes, fails and answers BPMN errors; `pycamunda` deploys a file, starts instances, lists, claims and
completes tasks and correlates a message. Twice: `followup serve` on SQLite (the embedded default) and
gunicorn on PostgreSQL."""
import os
import sys
import time
from pathlib import Path

import pytest
import requests

from conftest import BPMN_DIR, _backend_engine, _postgres_available
from engine.identity import IdentityStore
from servers import free_port, running

camunda_worker = pytest.importorskip("camunda.external_task.external_task_worker")
pycamunda = pytest.importorskip("pycamunda")
import pycamunda.deployment  # noqa: E402
import pycamunda.message  # noqa: E402
import pycamunda.processdef  # noqa: E402
import pycamunda.task  # noqa: E402
import pycamunda.variable  # noqa: E402

INVOICE = BPMN_DIR / "camunda" / "invoice_external.bpmn"
ROOT = Path(__file__).parent.parent


@pytest.fixture(params=["sqlite+serve", "postgresql+gunicorn"])
def served(request, tmp_path):
    """(engine, base url of /engine-rest) of a server process on that backend."""
    backend, how = request.param.split("+")
    if backend == "postgresql" and not _postgres_available():
        pytest.skip("PostgreSQL is not reachable")
    for engine in _backend_engine(request, backend):
        port = free_port()
        env = {**os.environ, "DATABASE_URL": engine.db.url.render_as_string(hide_password=False),
               "FOLLOWUP_DATA_DIR": str(tmp_path), "FOLLOWUP_TOKEN_CACHE_SECONDS": "0"}
        env.pop("REDIS_URL", None)
        binary = Path(sys.executable).with_name("gunicorn" if how == "gunicorn" else "followup")
        command = ([str(binary), "-w", "2", "--threads", "4", "-b", f"127.0.0.1:{port}", "api.wsgi:app"]
                   if how == "gunicorn" else [str(binary), "serve", "--port", str(port)])
        with running(command, env, port) as (base, _process):
            yield engine, base + "/engine-rest"


def _users(engine):
    identity = IdentityStore(engine.db)
    identity.add_user("dora", "designer")
    identity.add_user("bot", "supervisor", ["sales"])
    identity.add_user("li", "agent", ["sales-east"])
    identity.add_user("boss", "supervisor", ["sales-east"])
    return {name: identity.issue_token(name)[1] for name in ("dora", "bot", "li", "boss")}


def _worker(base, token, worker_id="py-worker"):
    return camunda_worker.ExternalTaskWorker(worker_id, base, {
        "auth_bearer": {"access_token": token}, "maxTasks": 1, "lockDuration": 10000, "asyncResponseTimeout": 500,
        "retries": 2, "retryTimeout": 100, "sleepSeconds": 0})


def _deploy(base, token, path):
    create = pycamunda.deployment.Create(base, name="from-pycamunda")
    create.add_resource(path.open("rb"))
    create.auth = requests.auth.HTTPBasicAuth("dora", token)  # Create ignores its session's headers
    return create()


def _session(token):
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token}"
    return session


def test_the_external_task_client_completes_fails_and_throws_bpmn_errors(served):
    engine, base = served
    tokens = _users(engine)
    deployed = _deploy(base, tokens["dora"], INVOICE)
    assert [d.key for d in deployed.deployed_process_definitions.values()] == ["charge_card"]
    start = pycamunda.processdef.StartInstance(base, key="charge_card", business_key="order-1")
    start.add_variable("amount", 30)
    start.session = _session(tokens["bot"])
    instance = start()
    worker = _worker(base, tokens["bot"])
    seen = {}

    def charge(task):
        seen["amount"], seen["currency"] = task.get_variable("amount"), task.get_variable("currency")
        seen["gateway"] = task.get_extension_property("gateway")
        return task.complete({"charged": True, "receipt": "R-1"})

    worker.fetch_and_execute("charge-card", charge)
    assert seen == {"amount": 30, "currency": "EUR", "gateway": "stripe"}
    after = engine.instance(instance.id_)
    assert after["variables"]["charged"] is True and [t["element_id"] for t in after["tasks"]] == ["check_payment"]

    declined = start()
    worker.fetch_and_execute("charge-card", lambda task: task.bpmn_error("CARD_DECLINED", "no funds",
                                                                         {"reason": "funds"}))
    assert [t["element_id"] for t in engine.instance(declined.id_)["tasks"]] == ["call_customer"]

    failing = start()
    worker.fetch_and_execute("charge-card", lambda task: task.failure("gateway down", "trace", 2, 100))
    [task] = engine.list_external_tasks(None, instance_id=failing.id_)
    assert task["retries"] == 2 and task["error_message"] == "gateway down"
    time.sleep(0.2)
    worker.fetch_and_execute("charge-card", lambda task: task.failure("gateway down", "trace", 2, 100))
    time.sleep(0.2)
    worker.fetch_and_execute("charge-card", lambda task: task.failure("gateway down", "trace", 2, 100))
    incident = engine.instance(failing.id_)
    assert incident["status"] == "error" and incident["incident"]["element_id"] == "charge"
    with pytest.raises(camunda_worker.NoExternalTaskFound):
        worker.fetch_and_execute("charge-card", lambda task: task.complete({}))


def test_two_client_workers_race_for_one_topic_and_each_task_goes_to_one(served):
    engine, base = served
    tokens = _users(engine)
    _deploy(base, tokens["dora"], INVOICE)
    for n in range(6):
        engine.start("charge_card", business_key=f"o-{n}")
    clients = [camunda_worker.ExternalTaskClient(f"w{n}", base, {"auth_bearer": {"access_token": tokens["bot"]},
                                                                  "maxTasks": 6, "asyncResponseTimeout": 0})
               for n in range(2)]
    import threading
    got = {}

    def fetch(client):
        got[client.worker_id] = [t["id"] for t in client.fetch_and_lock("charge-card")]

    threads = [threading.Thread(target=fetch, args=(c,)) for c in clients]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    ids = got["w0"] + got["w1"]
    assert len(ids) == 6 and len(set(ids)) == 6


def test_pycamunda_starts_lists_claims_completes_and_correlates(served):
    engine, base = served
    tokens = _users(engine)
    deployed = _deploy(base, tokens["dora"], BPMN_DIR / "first_contact.bpmn")
    assert [d.key for d in deployed.deployed_process_definitions.values()] == ["first_contact"]
    agent = _session(tokens["li"])
    start = pycamunda.processdef.StartInstance(base, key="first_contact", business_key="C-1")
    start.add_variable("owner", "li")
    start.session = agent
    instance = start()
    assert instance.business_key == "C-1" and instance.definition_id.startswith("first_contact:1:")

    get_list = pycamunda.task.GetList(base, process_instance_id=instance.id_)
    get_list.session = agent
    [task] = get_list()
    assert task.task_definition_key and task.created is not None
    claim = pycamunda.task.Claim(base, id_=task.id_, user_id="li")
    claim.session = agent
    claim()
    assert engine.task(task.id_)["assignee"] == "li"
    complete = pycamunda.task.Complete(base, id_=task.id_)
    complete.add_variable("outcome", "reached")
    complete.session = agent
    complete()
    [next_task] = get_list()
    assert next_task.id_ != task.id_

    _deploy(base, tokens["dora"], BPMN_DIR / "message_wait.bpmn")
    start_wait = pycamunda.processdef.StartInstance(base, key="message_wait", business_key="M-1")
    start_wait.session = _session(tokens["boss"])
    waiting = start_wait()
    correlate = pycamunda.message.CorrelateSingle(base, message_name="customer_replied", business_key="M-1",
                                                  result_enabled=True)
    correlate.add_process_variable("answer", "yes")
    correlate.session = _session(tokens["boss"])
    correlate()
    after = engine.instance(waiting.id_)
    assert after["variables"]["answer"] == "yes" and [t["element_id"] for t in after["tasks"]] == ["read_reply"]
