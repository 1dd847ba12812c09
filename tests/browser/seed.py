"""A small organisation for the page tests: users with passwords, the revisit SOP (with a diagram), three
customers, a check-in form, and instances in every state the pages show (waiting, overdue, incident)."""
from datetime import timedelta
from pathlib import Path

from engine import clock
from engine.customers import checkins, customers, records
from engine.customers.vocab import seed_defaults
from engine.identity import IdentityStore

HERE = Path(__file__).parent
PASSWORD = "secret-{}"  # each user's password: secret-<name>

USERS = [  # name, role, groups, display name
    ("li", "agent", ["sales-east"], "李丽"),
    ("wang", "agent", ["sales-east"], "王强"),
    ("sam", "agent", ["service"], "孙萌"),
    ("boss", "supervisor", ["sales-east", "supervisors"], "赵敏"),
    ("chief", "supervisor", ["service"], "钱进"),
    ("dora", "designer", [], "杜拉"),
    ("ada", "admin", [], "管理员"),
]


def revisit_file():
    path = HERE / "bpmn" / "revisit.bpmn"
    return path.name, path.read_bytes()


def seed(engine) -> dict:
    """Returns {"customers": {short name: id}, "instances": {label: id}}."""
    identity = IdentityStore(engine.db)
    for name, role, groups, display in USERS:
        identity.add_user(name, role, groups, display)
        identity.set_password(name, PASSWORD.format(name))
    seed_defaults(engine)
    engine.deploy([revisit_file()], actor="dora")
    made = {}
    for short, name, owner, team, phone in (
            ("mingyuan", "上海明远科技有限公司", "li", "sales-east", "13812345678"),
            ("yunfan", "杭州云帆贸易有限公司", "li", "sales-east", "13987654321"),
            ("xinghe", "北京星河医疗器械有限公司", "sam", "service", "13700001111")):
        customer, _warnings = customers.create_customer(engine, {
            "name": name, "owner": owner, "team": team, "phone": phone, "address": "上海市浦东新区世纪大道 100 号",
            "latitude": 31.2304, "longitude": 121.4737}, actor="ada")
        made[short] = customer["id"]
    records.create_record(engine, "contact", {"customer_id": made["mingyuan"], "name": "张伟", "title": "采购经理",
                                              "phone": "13600002222"}, actor="li")
    checkins.define_template(engine, "visit", "上门拜访", [
        {"name": "where", "label": "位置", "type": "location", "required": True},
        {"name": "photo", "label": "现场照片", "type": "photo", "max": 3},
        {"name": "summary", "label": "拜访小结", "type": "text", "required": True},
    ], actor="ada")
    instances = {}
    clock.advance(timedelta(hours=-3))  # started three hours ago: its call is an hour overdue
    try:
        instances["overdue"] = engine.start("revisit", str(made["yunfan"]), {}, actor="boss")
    finally:
        clock.advance(timedelta(hours=3))
    instances["waiting"] = engine.start("revisit", str(made["mingyuan"]), {}, actor="boss")
    instances["incident"] = engine.start("revisit", "R-3", {}, actor="boss")
    task = next(t for t in engine.instance(instances["incident"])["tasks"] if t["element_id"] == "call")
    engine.claim(task["id"], "wang")
    engine.complete_task(task["id"], {"outcome": "reached", "csat": 3}, actor="wang")  # 10 / 0: an incident
    return {"customers": made, "instances": instances}
