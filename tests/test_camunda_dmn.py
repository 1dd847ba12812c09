"""DMN as Camunda Modeler writes it: FEEL unary tests, the hit policies, result variables; decision tables
deployed alone and called by later deployments; evaluated over /engine-rest."""
import io

import pytest
from api_fixtures import *  # noqa: F401,F403
from conftest import BPMN_DIR

from engine.errors import DeploymentError
from engine.workflow.feel import unary_test

CAMUNDA = BPMN_DIR / "camunda"


def _file(name):
    return (name, (CAMUNDA / name).read_bytes())


def _quote(engine, **variables):
    return engine.instance(engine.start("quote", variables=variables))["variables"]


def test_feel_tests_and_first_hit_with_a_single_result(engine):
    engine.deploy([_file("quote.bpmn"), _file("discount.dmn"), _file("score.dmn")])
    gold = _quote(engine, customer={"tier": "platinum"}, total=1000, source="web", budget=1)
    assert gold["offer"] == {"discount": 0.15, "review": True}
    silver = _quote(engine, customer={"tier": "silver"}, total=999.5, source="web", budget=1)
    assert silver["offer"] == {"discount": 0.05, "review": False}  # [100..1000[ and not("bronze")
    bronze = _quote(engine, customer={"tier": "bronze"}, total=500, source="web", budget=1)
    assert bronze["offer"] == {"discount": 0, "review": False}  # "-" and an empty test match anything


def test_collect_sum_adds_the_matching_rules_and_is_null_when_none_match(engine):
    engine.deploy([_file("quote.bpmn"), _file("discount.dmn"), _file("score.dmn")])
    assert _quote(engine, customer={"tier": "x"}, total=1, source="referral", budget=20000)["points"] == 90
    assert _quote(engine, customer={"tier": "x"}, total=1, source="cold-call", budget=5)["points"] is None


@pytest.mark.parametrize("policy, aggregation, expected", [
    ("RULE ORDER", None, {"points": [30, 50, 10]}),
    ("COLLECT", "COUNT", {"points": 3}),
    ("COLLECT", "MAX", {"points": 50}),
    ("COLLECT", "MIN", {"points": 10}),
])
def test_hit_policies(engine, policy, aggregation, expected):
    dmn = (CAMUNDA / "score.dmn").read_text().replace(
        'hitPolicy="COLLECT" aggregation="SUM"',
        f'hitPolicy="{policy}"' + (f' aggregation="{aggregation}"' if aggregation else ""))
    bpmn = (CAMUNDA / "quote.bpmn").read_text().replace(' camunda:resultVariable="points"', "").replace(
        ' camunda:mapDecisionResult="singleEntry"', "")
    engine.deploy([("score.dmn", dmn.encode()), _file("discount.dmn"), ("quote.bpmn", bpmn.encode())])
    variables = _quote(engine, customer={"tier": "x"}, total=1, source="referral", budget=20000)
    assert variables["points"] == expected["points"]


def test_any_with_disagreeing_rules_is_an_incident(engine):
    dmn = (CAMUNDA / "score.dmn").read_text().replace('hitPolicy="COLLECT" aggregation="SUM"', 'hitPolicy="ANY"')
    engine.deploy([("score.dmn", dmn.encode()), _file("discount.dmn"), _file("quote.bpmn")])
    instance = engine.instance(engine.start("quote", variables={"customer": {}, "total": 1, "source": "referral",
                                                                "budget": 20000}))
    assert instance["status"] == "error" and "ANY" in instance["incident"]["message"]


def test_a_decision_deployed_alone_is_called_by_a_later_deployment(engine):
    assert engine.deploy([_file("discount.dmn"), _file("score.dmn")]) == []
    assert engine.deploy([_file("discount.dmn"), _file("score.dmn")]) == []  # unchanged: nothing stored
    [deployed] = engine.deploy([_file("quote.bpmn")])
    assert deployed.key == "quote"
    assert _quote(engine, customer={"tier": "gold"}, total=2000, source="referral", budget=1)["points"] == 40


def test_a_call_to_a_decision_nobody_deployed_is_refused(engine):
    with pytest.raises(DeploymentError) as err:
        engine.deploy([_file("quote.bpmn")])
    assert "discount" in str(err.value)


def test_an_unknown_hit_policy_is_refused_naming_the_decision(engine):
    dmn = (CAMUNDA / "score.dmn").read_text().replace('hitPolicy="COLLECT" aggregation="SUM"', 'hitPolicy="PRIORITY_X"')
    with pytest.raises(DeploymentError) as err:
        engine.deploy([("score.dmn", dmn.encode())])
    assert "PRIORITY_X" in str(err.value) and err.value.element == "score"


@pytest.mark.parametrize("feel, python", [
    ('"A","B"', "(? == 'A') or (? == 'B')"),
    (">= 100", "(? >= 100)"),
    ("[1..10]", "(1 <= ? <= 10)"),
    ("]1..10[", "(1 < ? < 10)"),
    ('not("x", "y")', "not ((? == 'x') or (? == 'y'))"),
    ("-", None),
    ("true", "(? == True)"),
    ('? in ("a", "b")', '? in ("a", "b")'),  # already Python: left alone
])
def test_feel_unary_tests_in_python(feel, python):
    assert unary_test(feel) == python


def test_evaluate_a_decision_over_engine_rest(client, make_user, engine):
    engine.deploy([_file("discount.dmn")])
    worker = make_user("bot", "supervisor", ["sales"])
    response = worker.post("/engine-rest/decision-definition/key/discount/evaluate", json={"variables": {
        "customer": {"value": '{"tier": "gold"}', "type": "Json"}, "total": {"value": 5000, "type": "Integer"}}})
    assert response.status_code == 200
    assert response.get_json() == [{"discount": {"type": "Double", "value": 0.15, "valueInfo": {}},
                                    "review": {"type": "Boolean", "value": True, "valueInfo": {}}}]
    assert worker.post("/engine-rest/decision-definition/key/nope/evaluate", json={}).status_code == 404


def test_deploy_a_decision_alone_over_engine_rest(client, make_user):
    designer = make_user("dora", "designer")
    response = designer.post("/engine-rest/deployment/create", data={
        "d": (io.BytesIO((CAMUNDA / "score.dmn").read_bytes()), "score.dmn")}, content_type="multipart/form-data")
    assert response.status_code == 200 and list(response.get_json()["deployedDecisionDefinitions"]) == ["score"]
