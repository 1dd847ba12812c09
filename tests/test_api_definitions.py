"""Deployments and definitions over HTTP."""
import io

from api_fixtures import *  # noqa: F401,F403
from conftest import BPMN_DIR


def _upload(caller, path, *files):
    data = {"files": [(io.BytesIO(content), name) for name, content in files]}
    return caller.post(path, data=data, content_type="multipart/form-data")


def test_deploy_answers_201_with_keys_and_versions(team):
    first = team.designer.deploy("first_contact.bpmn", "api_review.bpmn")
    assert first.status_code == 201
    assert sorted((p["key"], p["version"], p["changed"]) for p in first.get_json()["processes"]) == [
        ("api_review", 1, True), ("first_contact", 1, True)]
    same = team.designer.deploy("first_contact.bpmn")
    assert same.get_json()["processes"] == [{"key": "first_contact", "version": 1, "name": "首次联系 First contact",
                                             "changed": False}]
    changed = (BPMN_DIR / "first_contact.bpmn").read_bytes().replace(b"PT2H", b"PT3H")
    again = _upload(team.designer, "/api/deployments", ("first_contact.bpmn", changed))
    assert again.get_json()["processes"][0]["version"] == 2


def test_a_broken_file_is_400_naming_file_line_and_element(team):
    broken = (BPMN_DIR / "first_contact.bpmn").read_bytes().replace(b'targetRef="qualify"', b'targetRef="nowhere"')
    response = _upload(team.designer, "/api/deployments", ("broken.bpmn", broken))
    assert response.status_code == 400
    body = response.get_json()
    assert body["file"] == "broken.bpmn" and body["status"] == 400 and body["detail"]
    assert body["line"] or body["element"]
    not_xml = _upload(team.designer, "/api/deployments", ("junk.bpmn", b"<not xml"))
    assert not_xml.status_code == 400 and not_xml.get_json()["file"] == "junk.bpmn"
    wrong_kind = _upload(team.designer, "/api/deployments", ("notes.txt", b"hello"))
    assert wrong_kind.status_code == 400 and wrong_kind.get_json()["file"] == "notes.txt"
    nothing = team.designer.post("/api/deployments", data={}, content_type="multipart/form-data")
    assert nothing.status_code == 422 and "files" in nothing.get_json()["errors"]
    assert team.designer.get("/api/definitions").get_json()["total"] == 0


def test_validate_checks_without_storing(team):
    ok = _upload(team.designer, "/api/deployments/validate",
                 ("first_contact.bpmn", (BPMN_DIR / "first_contact.bpmn").read_bytes()))
    assert ok.status_code == 200
    assert {k: v for k, v in ok.get_json().items() if k != "warnings"} == {"valid": True, "processes": [
        {"key": "first_contact", "name": "首次联系 First contact", "file": "first_contact.bpmn"}]}
    assert {w["rule"] for w in ok.get_json()["warnings"]} >= {"no-bpmndi"}  # bpmnlint's recommended rules
    assert team.designer.get("/api/definitions").get_json()["total"] == 0
    bad = _upload(team.designer, "/api/deployments/validate", ("junk.bpmn", b"<not xml"))
    assert bad.status_code == 400


def test_only_designers_and_admins_deploy(team):
    assert team.li.deploy("first_contact.bpmn").status_code == 403
    assert team.boss.deploy("first_contact.bpmn").status_code == 403
    assert team.admin.deploy("first_contact.bpmn").status_code == 201
    assert _upload(team.li, "/api/deployments/validate", ("a.bpmn", b"<x/>")).status_code == 403


def test_list_get_and_xml(team):
    team.designer.deploy("first_contact.bpmn", "api_review.bpmn")
    changed = (BPMN_DIR / "first_contact.bpmn").read_bytes().replace(b"PT2H", b"PT3H")
    _upload(team.designer, "/api/deployments", ("first_contact.bpmn", changed))
    listing = team.li.get("/api/definitions").get_json()
    assert [(d["key"], d["version"]) for d in listing["items"]] == [("api_review", 1), ("first_contact", 2)]
    assert listing["total"] == 2 and listing["items"][0]["deployed_at"]
    latest = team.li.get("/api/definitions/first_contact").get_json()
    assert latest["version"] == 2 and latest["name"] == "首次联系 First contact"
    assert latest["groups"] == ["sales-east", "sales-west", "supervisors"]
    assert team.li.get("/api/definitions/first_contact", query_string={"version": 1}).get_json()["version"] == 1
    assert team.li.get("/api/definitions/first_contact", query_string={"version": 7}).status_code == 404
    assert team.li.get("/api/definitions/nope").status_code == 404
    assert team.li.get("/api/definitions/first_contact", query_string={"version": "x"}).status_code == 422
    xml = team.li.get("/api/definitions/first_contact/xml", query_string={"version": 1})
    assert xml.status_code == 200 and xml.mimetype == "application/xml" and b"PT2H" in xml.data
    assert b"PT3H" in team.li.get("/api/definitions/first_contact/xml").data
    assert team.li.get("/api/definitions/nope/xml").status_code == 404
