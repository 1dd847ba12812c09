"""The API's JSON (written and read by orjson, with Flask's own provider where orjson cannot say the same):
Chinese text stays readable, and values beyond orjson's reach still come back exactly."""
from api_fixtures import *  # noqa: F401,F403


def test_values_come_back_as_they_were_sent(team):
    team.designer.deploy("first_contact.bpmn")
    variables = {"owner": "li", "客户": "上海某某贸易有限公司", "big": 2 ** 70 + 1, "id": 12345678901234567890123, "ratio": 0.1, "nested": {"1": [True, None]}}
    response = team.li.post("/api/instances", json={"process_key": "first_contact", "variables": variables})
    assert response.status_code == 201, response.get_json()
    detail = team.li.get(f"/api/instances/{response.get_json()['id']}")
    assert detail.get_json()["variables"] == variables
    assert "上海某某贸易有限公司".encode() in detail.data  # UTF-8, not \\u escapes
    assert detail.data.endswith(b"\n") and b'", "' not in detail.data  # compact, one line


def test_a_body_that_is_not_json_is_a_400_naming_the_problem(team):
    response = team.li.post("/api/instances", data=b'{"process_key": ', content_type="application/json")
    assert response.status_code == 400
    assert response.get_json()["status"] == 400


def test_nan_is_not_json(team):
    team.designer.deploy("first_contact.bpmn")
    response = team.li.post("/api/instances", data=b'{"process_key": "first_contact", "variables": {"x": NaN}}',
                            content_type="application/json")
    assert response.status_code == 400
    assert team.li.get("/api/instances").get_json()["total"] == 0
