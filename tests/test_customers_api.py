"""The customer hub over HTTP: reach, duplicate refusal, amount hiding, pool race answers, imports."""
import io
import pytest

from api_fixtures import *  # noqa: F401,F403
from engine.customers.vocab import seed_defaults

CODE = "91350100M000100Y43"


def test_customers_over_http(engine, team):
    seed_defaults(engine)
    created = team.li.post("/api/customers", json={"name": "甲公司", "credit_code": CODE, "phone": "13812345678"})
    assert created.status_code == 201, created.json
    customer = created.json["customer"]
    assert customer["owner"] == "li" and customer["phone"] == "+8613812345678"
    again = team.wang.post("/api/customers", json={"name": "乙公司", "credit_code": CODE})
    assert again.status_code == 409 and f"customer {customer['id']}" in again.json["detail"]
    warned = team.wang.post("/api/customers", json={"name": "甲公司", "phone": "138 1234 5678"})
    assert warned.status_code == 201 and {w["field"] for w in warned.json["warnings"]} == {"name", "phone"}
    assert team.sam.get(f"/api/customers/{customer['id']}").status_code == 404      # another team
    assert team.wang.get(f"/api/customers/{customer['id']}").status_code == 200     # same team
    bad = team.li.post("/api/customers", json={"name": "", "level": "Z"})
    assert bad.status_code == 422 and set(bad.json["errors"]) == {"name", "level"}

    contract = team.li.post("/api/contracts", json={"customer_id": customer["id"], "title": "服务合同",
                                                   "amount": "50000"})
    assert contract.status_code == 201 and contract.json["amount"] is None
    assert contract.json["hidden_fields"] == ["amount"]
    assert team.boss.get(f"/api/contracts/{contract.json['id']}").json["amount"] == "50000.00"

    timeline = team.li.get(f"/api/customers/{customer['id']}/timeline")
    assert timeline.status_code == 200 and timeline.json["items"][0]["action"] == "contract_created"


def test_pool_and_claims_over_http(engine, team):
    seed_defaults(engine)
    customer = team.li.post("/api/customers", json={"name": "甲公司", "phone": "13812345678"}).json["customer"]
    assert team.boss.post(f"/api/customers/{customer['id']}/transfer", json={"owner": None}).status_code == 200
    listed = team.wang.get("/api/pool").json
    assert listed["items"][0]["phone"] == "+86138****5678"
    assert team.wang.post(f"/api/pool/{customer['id']}/claim").status_code == 200
    lost = team.boss.post(f"/api/pool/{customer['id']}/claim")
    assert lost.status_code == 409 and "claimed by wang" in lost.json["detail"]


def test_import_over_http(engine, team):
    seed_defaults(engine)
    # boss is in two groups (sales-east, supervisors): the rows say which team they land in (issue 12 item 4)
    data = "客户名称,统一社会信用代码,所属团队\n甲公司,{},sales-east\n乙公司,91350100M000100Y44,sales-east\n".format(
        CODE).encode("utf-8")
    files = {"file": (io.BytesIO(data), "客户.csv")}
    assert team.li.post("/api/imports", data=files, content_type="multipart/form-data").status_code == 403
    dry = team.boss.post("/api/imports", data={"file": (io.BytesIO(data), "客户.csv"), "dry_run": "true"},
                         content_type="multipart/form-data")
    assert dry.status_code == 200 and dry.json["failed"] == 1 and dry.json["errors"][0]["row"] == 3
    real = team.boss.post("/api/imports", data={"file": (io.BytesIO(data), "客户.csv")},
                          content_type="multipart/form-data")
    assert real.status_code == 201 and real.json["created"] == 1
    errors = team.boss.get(f"/api/imports/{real.json['batch_id']}/errors.csv")
    assert errors.status_code == 200 and "check digit" in errors.data.decode("utf-8-sig")
    assert team.boss.post(f"/api/imports/{real.json['batch_id']}/revert").json["deleted"] == 1


def test_a_customer_shows_its_health_score_once_computed(engine, team, client):
    from engine.sop.watch import refresh_health

    seed_defaults(engine)
    customer = team.li.post("/api/customers", json={"name": "甲公司"}).json["customer"]
    assert team.li.get(f"/api/customers/{customer['id']}").json["health"] is None
    with engine.db.begin() as conn:
        refresh_health(conn, customer["id"], penalty=20, reason="idle")
    health = team.li.get(f"/api/customers/{customer['id']}").json["health"]
    assert health["score"] == 80 and health["factors"]["penalty"] == {"points": 20, "reason": "idle"}
    assert health["computed_at"].endswith("+00:00")
    documented = client.get("/api/openapi.json").json["components"]["schemas"]["CustomerDetail"]["properties"]
    assert "health" in documented


def test_bodies_are_checked_against_their_schema_listing_every_bad_field(engine, team):
    seed_defaults(engine)
    bad = team.li.post("/api/customers", json={"name": "甲公司", "latitude": "north", "tags": 3, "colour": "red"})
    assert bad.status_code == 422 and set(bad.json["errors"]) == {"latitude", "tags", "colour"}
    customer = team.li.post("/api/customers", json={"name": "甲公司"}).json["customer"]
    bad = team.li.post("/api/checkins", json={"customer_id": "1", "values": []})
    assert bad.status_code == 422 and set(bad.json["errors"]) == {"customer_id", "scenario", "values"}
    assert team.li.get("/api/contacts?customer_id=x").status_code == 422
    assert team.li.get("/api/customers?colour=red").status_code == 422  # a misspelt filter


def test_fuzz_findings_stay_fixed(engine, team):
    seed_defaults(engine)
    customer = team.li.post("/api/customers", json={"name": "甲公司"}).json["customer"]
    contact = team.li.post("/api/contacts", json={"customer_id": customer["id"], "name": "张三"})  # was a 500
    assert contact.status_code == 201 and contact.json["is_primary"] is False
    huge = 2**70
    assert team.li.get(f"/api/customers/{huge}").status_code == 404                          # was a 500
    assert team.li.post(f"/api/customers/{huge}/interactions", json={"kind": "call"}).status_code == 404
    assert team.boss.get(f"/api/imports/{2**40}/errors.csv").status_code == 404              # was a 500
    empty = team.admin.patch("/api/vocabularies/level/A", json={})                          # was a 500
    assert empty.status_code == 422 and "nothing to change" in empty.json["detail"]
    assert team.admin.patch("/api/vocabularies/level/A", json={"label": "战略"}).status_code == 200
    twice = team.li.get("/api/vocabularies?vocabulary=level&vocabulary=tag")                 # was read as "level"
    assert twice.status_code == 422 and twice.json["errors"] == {"vocabulary": ["given more than once"]}


def test_a_call_logged_on_a_lead_counts_as_its_follow_up(engine, team):
    import sqlalchemy as sa
    from engine.customers.schema import interactions

    seed_defaults(engine)
    lead = team.li.post("/api/leads", json={"name": "张伟", "company": "星辰科技"})
    assert lead.status_code == 201, lead.json
    logged = team.li.post(f"/api/leads/{lead.json['id']}/interactions", json={"kind": "call", "note": "约了下周拜访"})
    assert logged.status_code == 201
    with engine.db.connect() as conn:
        row = conn.execute(sa.select(interactions).where(interactions.c.id == logged.json["id"])).one()
    assert (row.lead_id, row.kind, row.actor) == (lead.json["id"], "call", "li")
    assert team.sam.post(f"/api/leads/{lead.json['id']}/interactions", json={"kind": "call"}).status_code == 404
    assert team.li.post(f"/api/leads/{lead.json['id']}/interactions", json={"kind": "dance"}).status_code == 422


def test_the_pool_reads_the_same_in_the_list_a_read_and_a_claim(engine, team):
    """Issue 12 item 6: the admin's pool lists every team's pooled customers (it showed 0); a pooled
    customer of another team is out of reach alike in the list, a read and a claim."""
    seed_defaults(engine)
    customer = team.li.post("/api/customers", json={"name": "公海公司", "phone": "13812345678"}).json["customer"]
    assert team.boss.post(f"/api/customers/{customer['id']}/transfer", json={"owner": None}).status_code == 200
    admin_pool = team.admin.get("/api/pool").json
    assert admin_pool["total"] == 1 and [c["id"] for c in admin_pool["items"]] == [customer["id"]]
    in_team = team.wang.get("/api/pool").json
    assert in_team["total"] == 1 and team.wang.get(f"/api/customers/{customer['id']}").status_code == 200
    other = team.sam.get("/api/pool").json  # the service team's agent
    assert other["total"] == 0
    assert team.sam.get(f"/api/customers/{customer['id']}").status_code == 404
    assert team.sam.post(f"/api/pool/{customer['id']}/claim").status_code in (403, 404)


@pytest.mark.parametrize("value", ["nan", "NaN", "inf", "-Infinity"])
def test_a_coordinate_that_is_not_a_finite_number_is_refused(engine, team, value):
    """float() reads 'nan' and 'inf' (a spreadsheet cell), and no range check refuses NaN: it would be stored
    as the customer's place, and every distance from it would be NaN (a check-in never flagged as far)."""
    import io
    seed_defaults(engine)
    sheet = f"客户名称,纬度,经度\n甲公司,{value},121.47\n".encode()
    report = team.boss.post("/api/imports", data={"file": (io.BytesIO(sheet), "客户.csv"), "dry_run": "true"},
                            content_type="multipart/form-data").json
    assert report["failed"] == 1
    assert report["errors"][0]["column"] == "纬度" and report["errors"][0]["reason"] == f"'{value}' is not a number"
