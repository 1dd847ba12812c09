"""Check-ins: template versions, field validation with show-if rules, photos, location flags."""
import pytest

from engine import clock
from engine.customers import create_checkin, create_customer, define_template, get_customer
from engine.customers.checkins import list_checkins
from engine.customers.files import open_file, store_file
from engine.errors import InvalidInput, NotFound

from customers_helpers import seeded

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 64

REPAIR = [
    {"name": "result", "label": "结果", "type": "single", "options": ["ok", "fault"], "required": True},
    {"name": "fault_description", "label": "故障描述", "type": "text", "required": True,
     "show_if": {"field": "result", "equals": "fault"}},
    {"name": "hours", "label": "工时", "type": "number", "min": 0, "max": 24},
    {"name": "parts", "label": "更换部件", "type": "multi", "options": ["泵", "阀门", "电机"]},
    {"name": "next_visit", "label": "下次上门", "type": "date"},
    {"name": "where", "label": "位置", "type": "location", "required": True},
    {"name": "photos", "label": "现场照片", "type": "photo", "max": 3},
    {"name": "signature", "label": "客户签字", "type": "signature"},
]
SHANGHAI = {"latitude": 31.2304, "longitude": 121.4737, "accuracy": 20}


@pytest.fixture
def hub(engine):
    seeded(engine)
    define_template(engine, "repair", "维修打卡", REPAIR, actor="admin")
    customer, _ = create_customer(engine, {"name": "上海某某有限公司", "latitude": 31.2310, "longitude": 121.4740})
    engine.customer_id = customer["id"]
    return engine


def test_a_valid_check_in_is_stamped_with_server_time_and_counts_as_an_interaction(hub):
    photo = store_file(hub, JPEG, uploaded_by="li")
    signature = store_file(hub, PNG, uploaded_by="li")
    before = clock.now()
    checkin = create_checkin(hub, "repair", hub.customer_id, "li", {
        "result": "fault", "fault_description": "电机过热", "hours": 2.5, "parts": ["电机"], "next_visit": "2027-01-05",
        "where": SHANGHAI, "photos": [photo["id"]], "signature": signature["id"]})
    assert checkin["at"] >= before and checkin["template_version"] == 1
    assert not checkin["far_from_customer"] and checkin["distance_m"] < 100
    assert get_customer(hub, hub.customer_id)["last_interaction_at"] == checkin["at"]
    assert open_file(hub, photo["id"]) == ("image/jpeg", JPEG)
    with pytest.raises(InvalidInput, match="photos"):  # a photo belongs to one check-in
        create_checkin(hub, "repair", hub.customer_id, "li", {"result": "ok", "where": SHANGHAI, "photos": [photo["id"]]})


def test_show_if_fields_are_required_only_when_shown_and_refused_when_hidden(hub):
    with pytest.raises(InvalidInput) as err:
        create_checkin(hub, "repair", hub.customer_id, "li", {"result": "fault", "where": SHANGHAI})
    assert err.value.errors == {"fault_description": ["required"]}
    with pytest.raises(InvalidInput) as err:
        create_checkin(hub, "repair", hub.customer_id, "li",
                       {"result": "ok", "fault_description": "x", "where": SHANGHAI})
    assert "only filled in when result is fault" in err.value.errors["fault_description"][0]


def test_each_bad_value_is_named(hub):
    with pytest.raises(InvalidInput) as err:
        create_checkin(hub, "repair", hub.customer_id, "li", {
            "result": "maybe", "hours": 30, "parts": ["轮胎"], "next_visit": "明天",
            "where": {"latitude": 95, "longitude": 0}, "photos": ["no-such-file"], "colour": "red"})
    assert set(err.value.errors) == {"result", "hours", "parts", "next_visit", "where", "photos", "colour"}


def test_a_location_far_from_the_customer_is_flagged(hub):
    beijing = {"latitude": 39.9042, "longitude": 116.4074, "accuracy": 50}
    checkin = create_checkin(hub, "repair", hub.customer_id, "li", {"result": "ok", "where": beijing})
    assert checkin["far_from_customer"] and checkin["distance_m"] > 1_000_000


def test_check_ins_follow_the_template_version_they_were_made_on(hub):
    define_template(hub, "repair", "维修打卡", [*REPAIR, {"name": "rating", "type": "number", "required": True}])
    with pytest.raises(InvalidInput, match="rating"):
        create_checkin(hub, "repair", hub.customer_id, "li", {"result": "ok", "where": SHANGHAI})
    old = create_checkin(hub, "repair", hub.customer_id, "li", {"result": "ok", "where": SHANGHAI}, template_version=1)
    new = create_checkin(hub, "repair", hub.customer_id, "li", {"result": "ok", "where": SHANGHAI, "rating": 5})
    assert (old["template_version"], new["template_version"]) == (1, 2)
    assert list_checkins(hub, customer_id=hub.customer_id)[1] == 2


def test_photos_are_checked_for_type_and_size(hub):
    with pytest.raises(InvalidInput, match="not a JPEG"):
        store_file(hub, b"%PDF-1.7 not an image", uploaded_by="li")
    from engine.customers.settings import set_setting
    set_setting(hub, "checkin.max_photo_bytes", 10, actor="admin")
    with pytest.raises(InvalidInput, match="more than the 10 allowed"):
        store_file(hub, JPEG, uploaded_by="li")


def test_someone_elses_photo_cannot_be_used(hub):
    photo = store_file(hub, JPEG, uploaded_by="wang")
    with pytest.raises(InvalidInput, match="uploaded by someone else"):
        create_checkin(hub, "repair", hub.customer_id, "li", {"result": "ok", "where": SHANGHAI, "photos": [photo["id"]]})


def test_template_definitions_are_checked(hub):
    with pytest.raises(InvalidInput) as err:
        define_template(hub, "visit", "拜访", [{"name": "a", "type": "single"},
                                               {"name": "b", "type": "text", "show_if": {"field": "zzz", "equals": 1}},
                                               {"name": "a", "type": "colour"}])
    assert len(err.value.errors) == 3
    with pytest.raises(NotFound):
        create_checkin(hub, "visit", hub.customer_id, "li", {})
