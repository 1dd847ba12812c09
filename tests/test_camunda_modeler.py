"""Camunda Modeler files as they are written: expression-language conditions, assignees, candidate groups
and parameters; unsupported expressions refused at deploy naming the element."""
import pytest
from api_fixtures import *  # noqa: F401,F403
from conftest import BPMN_DIR

from engine.errors import DeploymentError
from engine.workflow.juel import UnsupportedExpression, to_python

CAMUNDA = BPMN_DIR / "camunda"


def _file(name):
    return (name, (CAMUNDA / name).read_bytes())


@pytest.fixture
def routing(engine):
    engine.deploy([_file("order_routing.bpmn")])
    return engine


def _start(engine, **variables):
    return engine.instance(engine.start("order_routing", variables=variables))


def test_conditions_in_the_expression_language_route_the_order(routing):
    over = _start(routing, orderTotal=500, customerCredit=100, vip=False, region="EU",
                  customer={"owner": "li", "email": "a@b.c"})
    assert [(t["element_id"], t["assignee"]) for t in over["tasks"]] == [("review_credit", "li")]
    usa = _start(routing, orderTotal=50, customerCredit=100, vip=False, region="USA", customer={"email": "a@b.c"})
    assert [(t["element_id"], t["candidate_groups"]) for t in usa["tasks"]] == [("ship_usa", ["USA-shipping", "audit"])]
    no_mail = _start(routing, orderTotal=50, customerCredit=100, vip=True, region="USA", customer={"email": ""})
    assert no_mail["tasks"] == [] and no_mail["active_element_ids"] == ["ship_world"]


def test_input_and_output_parameters_in_the_expression_language(routing):
    instance = _start(routing, orderTotal=1200, customerCredit=5000, vip=True, region="EU",
                      customer={"name": "ACME"})
    [task] = routing.fetch_and_lock(None, "w", 1, [{"topic": "ship", "lock_duration": 1000}])
    assert task["variables"]["label"] == "Order of ACME (1200 EUR)" and task["variables"]["express"] is True
    routing.complete_external_task(None, task["id"], "w", {"carrier": "DHL"}, local_variables={"tracking": "TN-1"})
    after = routing.instance(instance["id"])
    assert after["status"] == "complete" and after["variables"]["trackingNumber"] == "TN-1"
    assert after["variables"]["carrier"] == "DHL" and "tracking" not in after["variables"]  # local: gone
    assert "label" not in after["variables"]  # input parameters are the task's own


@pytest.mark.parametrize("expression, reason", [
    ("${orderService.isValid(order)}", "method calls"),
    ("${fn:length(items) > 2}", "function namespaces"),
    ("${__class__}", "cannot be used"),
    ("${a instanceof b}", "instanceof"),
])
def test_unsupported_expressions_are_refused_naming_the_element(engine, expression, reason):
    xml = (CAMUNDA / "order_routing.bpmn").read_text().replace(
        '${orderTotal &gt; customerCredit &amp;&amp; !vip}', expression.replace("&", "&amp;").replace(">", "&gt;"))
    with pytest.raises(DeploymentError) as err:
        engine.deploy([("bad.bpmn", xml.encode())])
    assert "this expression is not supported" in str(err.value) and reason in str(err.value)
    assert err.value.element == "f_over"


def test_an_unsupported_assignee_is_refused_naming_the_task(engine):
    xml = (CAMUNDA / "order_routing.bpmn").read_text().replace("${customer.owner}", "${users.pick(customer)}")
    with pytest.raises(DeploymentError) as err:
        engine.deploy([("bad.bpmn", xml.encode())])
    assert err.value.element == "review_credit" and "not supported" in str(err.value)


@pytest.mark.parametrize("juel, python", [
    ("${a == 'x' || b ne 2}", "((a == 'x') or (b != 2))"),
    ("${x.y.z}", "((x or {}).get('y') or {}).get('z')"),
    ("#{count mod 2 eq 0}", "((count % 2) == 0)"),
    ("${-n < 0}", "((-n) < 0)"),
])
def test_translation_of_the_common_subset(juel, python):
    assert to_python(juel).replace(" ", "") == python.replace(" ", "")


def test_an_unclosed_expression_is_refused():
    with pytest.raises(UnsupportedExpression, match="not closed"):
        to_python("${a > 1")


def test_collection_and_element_variable_make_one_task_per_item(engine):
    engine.deploy([_file("call_each_contact.bpmn")])
    contacts = [{"owner": "li"}, {"owner": "wang"}]
    first = engine.instance(engine.start("call_each_contact", variables={"contacts": contacts}))
    assert sorted(t["assignee"] for t in first["tasks"]) == ["li", "wang"]
    # a second instance with another list: the shared spec was not changed by the first one
    second = engine.instance(engine.start("call_each_contact", variables={"contacts": [{"owner": "sam"}]}))
    assert [t["assignee"] for t in second["tasks"]] == ["sam"]
    for task in first["tasks"]:
        engine.complete_task(task["id"], {}, actor=task["assignee"])
    done = engine.instance(first["id"])
    assert done["status"] == "complete" and done["variables"]["done"] is True


def test_print_in_a_script_goes_to_the_audit_trail(engine):
    engine.deploy([_file("call_each_contact.bpmn")])
    instance = engine.instance(engine.start("call_each_contact", variables={"contacts": [{"owner": "li"}]}))
    engine.complete_task(instance["tasks"][0]["id"], {}, actor="li")
    events, _ = engine.events(instance["id"])
    assert [e["detail"]["printed"] for e in events if (e["detail"] or {}).get("printed")] == [["called 1 contacts"]]


def test_a_list_given_as_loop_cardinality_means_one_per_item_not_a_server_error(engine):
    xml = (CAMUNDA / "call_each_contact.bpmn").read_text().replace(
        '<bpmn:multiInstanceLoopCharacteristics camunda:collection="${contacts}" camunda:elementVariable="contact" />',
        '<bpmn:multiInstanceLoopCharacteristics><bpmn:loopCardinality>${contacts}</bpmn:loopCardinality>'
        '</bpmn:multiInstanceLoopCharacteristics>').replace('camunda:assignee="${contact.owner}"', "")
    engine.deploy([("card.bpmn", xml.encode())])
    instance = engine.instance(engine.start("call_each_contact", variables={"contacts": [1, 2, 3]}))
    assert instance["status"] == "user_input" and len(instance["tasks"]) == 3


def test_a_collection_that_is_not_a_variable_is_refused_naming_the_task(engine):
    xml = (CAMUNDA / "call_each_contact.bpmn").read_text().replace('"${contacts}"', '"${order.contacts}"')
    with pytest.raises(DeploymentError) as err:
        engine.deploy([("bad.bpmn", xml.encode())])
    assert err.value.element == "call" and "camunda:collection" in str(err.value)


# ---- Quartz cron cycles ------------------------------------------------------------------------------
def test_a_cron_start_event_launches_on_each_cron_tick(engine):
    import sqlalchemy as sa
    from timer_support import advance_to, fire_due

    from engine import clock
    from engine.storage.schema import instances, timer_launchers

    engine.deploy([_file("cron_sweep.bpmn")])
    fire_due(engine)
    with engine.db.connect() as conn:
        launcher = conn.execute(sa.select(timer_launchers)).one()
    first = launcher.next_due_at
    assert first.minute in (0, 30) and first.second == 0 and first > clock.now()
    for tick in range(1, 3):
        with engine.db.connect() as conn:
            due = conn.execute(sa.select(timer_launchers.c.next_due_at)).scalar()
        advance_to(due)
        fire_due(engine)
        with engine.db.connect() as conn:
            assert conn.execute(sa.select(sa.func.count()).select_from(instances)).scalar() == tick
            following = conn.execute(sa.select(timer_launchers.c.next_due_at)).scalar()
        assert following - due == __import__("datetime").timedelta(minutes=30)


def test_a_cron_boundary_timer_fires_on_weekday_mornings_in_the_deployments_zone(engine):
    from zoneinfo import ZoneInfo

    from timer_support import advance_to, fire_due

    engine.deploy([_file("cron_reminder.bpmn")])
    instance = engine.instance(engine.start("cron_reminder", variables={"customer": "ACME"}))
    [timer] = instance["timers"]
    local = timer["due_at"].astimezone(ZoneInfo("Asia/Shanghai"))
    assert (local.hour, local.minute, local.weekday() < 5) == (9, 0, True)
    advance_to(timer["due_at"])
    fire_due(engine)
    after = engine.instance(instance["id"])
    [again] = after["timers"]
    assert again["due_at"] > timer["due_at"]  # the cycle re-armed for the next weekday morning
    assert again["due_at"].astimezone(ZoneInfo("Asia/Shanghai")).hour == 9
    assert [t["element_id"] for t in after["tasks"]] == ["call"]  # non-interrupting


@pytest.mark.parametrize("cycle, reason", [("0 0 9 15W * ?", "nearest weekday"),
                                          ("0 0 9 * * ? 2030", "year field"),
                                          ("0 0 25 * * ?", "not a valid cron")])
def test_unsupported_cron_cycles_are_refused_naming_the_element(engine, cycle, reason):
    xml = (CAMUNDA / "cron_reminder.bpmn").read_text().replace("0 0 9 ? * MON-FRI", cycle)
    with pytest.raises(DeploymentError) as err:
        engine.deploy([("bad.bpmn", xml.encode())])
    assert err.value.element == "hourly" and reason in str(err.value)


def test_quartz_weekdays_are_translated():
    from engine.workflow.cron import to_croniter

    assert to_croniter("0 0 9 ? * 2-6") == "0 0 9 ? * 1-5"
    assert to_croniter("0 0/5 * 1/1 * ?") == "0 0/5 * 1/1 * ?"
    assert to_croniter("0 15 10 ? * 6#3") == "0 15 10 ? * 5#3"


def test_a_java_service_task_is_refused_with_the_way_out(engine):
    xml = (CAMUNDA / "order_routing.bpmn").read_text().replace(
        'camunda:type="external" camunda:topic="ship"', 'camunda:class="org.example.Ship"')
    with pytest.raises(DeploymentError) as err:
        engine.deploy([("java.bpmn", xml.encode())])
    assert err.value.element == "ship_world" and "external task" in str(err.value)


# ---- bpmnlint at deploy -------------------------------------------------------------------------------
def test_a_correctness_rule_refuses_the_file_naming_rule_and_element(engine):
    xml = (CAMUNDA / "order_routing.bpmn").read_text().replace(
        '<bpmn:startEvent id="start"><bpmn:outgoing>f0</bpmn:outgoing></bpmn:startEvent>',
        '<bpmn:startEvent id="start"><bpmn:outgoing>f0</bpmn:outgoing></bpmn:startEvent>'
        '<bpmn:startEvent id="second_start"><bpmn:outgoing>f9</bpmn:outgoing></bpmn:startEvent>'
        '<bpmn:sequenceFlow id="f9" sourceRef="second_start" targetRef="credit_check" />')
    with pytest.raises(DeploymentError) as err:
        engine.deploy([("two_starts.bpmn", xml.encode())])
    assert "bpmnlint single-blank-start-event" in str(err.value)
    assert err.value.element in ("order_routing", "start", "second_start")


def test_recommended_rules_come_back_as_warnings_in_the_deploy_answer(client, make_user):
    import io

    designer = make_user("dora", "designer")
    response = designer.post("/api/deployments", data={"files": [
        (io.BytesIO((CAMUNDA / "order_routing.bpmn").read_bytes()), "order_routing.bpmn")]},
        content_type="multipart/form-data")
    assert response.status_code == 201
    warnings = response.get_json()["warnings"]
    assert {"file": "order_routing.bpmn", "element": "end", "rule": "label-required",
            "message": "Element is missing label/name", "category": "error"} in warnings


def test_a_groovy_or_javascript_script_is_refused_naming_the_task(engine):
    xml = (CAMUNDA / "call_each_contact.bpmn").read_text().replace('scriptFormat="python"', 'scriptFormat="groovy"')
    with pytest.raises(DeploymentError) as err:
        engine.deploy([("groovy.bpmn", xml.encode())])
    assert err.value.element == "notify" and "scripts are Python" in str(err.value)


def test_the_cli_deploy_prints_lint_warnings_on_stderr(engine, tmp_path):
    import os
    import subprocess
    import sys

    env = {**os.environ, "DATABASE_URL": engine.db.url.render_as_string(hide_password=False),
           "FOLLOWUP_DATA_DIR": str(tmp_path)}
    done = subprocess.run([sys.executable, "-m", "followup.cli", "deploy", str(CAMUNDA / "order_routing.bpmn")],
                          capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("order_routing v1 deployed")
    assert "warning: order_routing.bpmn, element 'end': Element is missing label/name (label-required)" in done.stderr
