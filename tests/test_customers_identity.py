"""Identity rules: credit codes with their check digit, normalised names and phones, duplicate
refusal and warnings, change history."""
import pytest

from engine.customers import create_customer, update_customer
from engine.customers.common import history
from engine.customers.normalize import credit_check_char, normalize_credit_code, normalize_name, normalize_phone
from engine.customers.ownership import ownership_history
from engine.customers.vocab import add_term, update_term
from engine.errors import Conflict, InvalidInput

from customers_helpers import add_user, seeded

VALID = "91350100M000100Y43"  # the example printed in GB 32100-2015 material


@pytest.mark.parametrize("raw", [VALID, " 9135 0100 M000 100Y43 ", "91350100m000100y43", "９１３５０１００Ｍ０００１００Ｙ４３"])
def test_valid_credit_codes_are_normalised(raw):
    assert normalize_credit_code(raw) == VALID


@pytest.mark.parametrize("raw, reason", [
    ("91350100M000100Y44", "check digit is 4 but should be 3"),
    ("91350100M000100Y4", "18 characters, not 17"),
    ("91350100M000100I43", "character(s) I cannot appear"),
    ("9135A100M000100Y43", "region code"),
])
def test_invalid_credit_codes_name_the_fault(raw, reason):
    with pytest.raises(ValueError, match=reason.replace("(", r"\(").replace(")", r"\)")):
        normalize_credit_code(raw)


def test_check_digit_can_be_a_letter():
    code = "91110000100001353" + credit_check_char("91110000100001353")
    assert code.endswith("G") and normalize_credit_code(code) == code


@pytest.mark.parametrize("a, b", [
    ("华为技术（中国）有限公司", "华为技术有限公司"),
    ("ＡＢＣ 科技 股份有限公司", "abc科技"),
    ("上海【某某】信息有限责任公司", "上海某某信息"),
    ("Acme Co., Ltd.", "ACME LIMITED"),
])
def test_company_names_compare_after_normalising(a, b):
    assert normalize_name(a) == normalize_name(b)


def test_different_companies_stay_different():
    assert normalize_name("华为技术有限公司") != normalize_name("华为终端有限公司")
    assert normalize_name("某某集团有限公司") == "某某集团"


@pytest.mark.parametrize("raw, stored", [
    ("138 1234 5678", "+8613812345678"), ("+86-138-1234-5678", "+8613812345678"),
    ("008613812345678", "+8613812345678"), ("１３８１２３４５６７８", "+8613812345678"),
    ("010-12345678", "+861012345678"), ("(0755) 8765 4321 转 801", "+8675587654321;ext=801"),
    ("400-812-3123", "+864008123123"), ("+852 2123 4567", "+85221234567"), ("", None), (None, None),
])
def test_phones_are_stored_normalised(raw, stored):
    assert normalize_phone(raw) == stored


@pytest.mark.parametrize("raw", ["12345678", "12812345678", "call me", "010-1234"])
def test_bad_phones_are_refused(raw):
    with pytest.raises(ValueError):
        normalize_phone(raw)


def test_same_credit_code_is_refused_naming_the_existing_customer(engine):
    seeded(engine)
    first, _ = create_customer(engine, {"name": "福州某某有限公司", "credit_code": VALID}, actor="admin")
    with pytest.raises(Conflict) as err:
        create_customer(engine, {"name": "完全不同的公司", "credit_code": VALID.lower()}, actor="admin")
    assert f"customer {first['id']} '福州某某有限公司'" in str(err.value)
    assert err.value.details["existing_id"] == first["id"]


def test_same_name_or_phone_is_a_warning_with_candidates(engine):
    seeded(engine)
    first, warnings = create_customer(engine, {"name": "华为技术（中国）有限公司", "phone": "13812345678"})
    assert warnings == []
    second, warnings = create_customer(engine, {"name": "华为技术有限公司", "phone": "+86 138 1234 5678"})
    assert second["id"] != first["id"] and second["phone"] == "+8613812345678"
    assert {w["field"] for w in warnings} == {"name", "phone"}
    assert all(w["candidates"][0]["id"] == first["id"] for w in warnings)


def test_empty_values_never_match(engine):
    seeded(engine)
    create_customer(engine, {"name": "甲公司", "credit_code": "", "phone": ""})
    _, warnings = create_customer(engine, {"name": "乙公司", "credit_code": None, "phone": None})
    assert warnings == []


def test_people_with_the_same_name_are_not_duplicates(engine):
    seeded(engine)
    create_customer(engine, {"name": "张伟", "kind": "个人"})
    _, warnings = create_customer(engine, {"name": "张伟", "kind": "person"})
    assert warnings == []


def test_invalid_fields_are_all_reported(engine):
    seeded(engine)
    with pytest.raises(InvalidInput) as err:
        create_customer(engine, {"name": "", "credit_code": "123", "level": "D", "phone": "555", "colour": "red"})
    assert set(err.value.errors) == {"name", "credit_code", "level", "phone", "colour"}
    assert "not in the level list" in err.value.errors["level"][0]


def test_vocabularies_accept_code_or_label_and_are_editable(engine):
    seeded(engine)
    customer, _ = create_customer(engine, {"name": "甲公司", "level": "战略客户", "region": "广东省", "industry": "汽车制造业",
                                           "source": "展会"})
    assert (customer["level"], customer["region"], customer["industry"], customer["source"]) == \
        ("A", "440000", "C36", "exhibition")
    with pytest.raises(InvalidInput):
        create_customer(engine, {"name": "乙公司", "tags": "老客户"})
    add_term(engine, "tag", "loyal", "老客户")
    customer, _ = create_customer(engine, {"name": "乙公司", "tags": "老客户, loyal"})
    assert customer["tags"] == ["loyal"]
    update_term(engine, "tag", "loyal", active=False)
    with pytest.raises(InvalidInput):
        create_customer(engine, {"name": "丙公司", "tags": ["loyal"]})


def test_every_change_is_recorded_with_old_and_new_values(engine):
    seeded(engine)
    add_user(engine, "li", groups=["east"])
    customer, _ = create_customer(engine, {"name": "甲公司", "level": "C", "owner": "li"}, actor="admin")
    assert customer["team"] == "east"
    update_customer(engine, customer["id"], {"level": "A", "phone": "13900000000"}, actor="li")
    changes, total = history(engine, "customer", customer["id"])
    assert total == 2
    assert changes[0]["action"] == "created" and changes[0]["actor"] == "admin"
    assert changes[1]["actor"] == "li"
    assert changes[1]["changes"] == {"level": ["C", "A"], "phone": [None, "+8613900000000"]}
    assert [(o["reason"], o["to_owner"]) for o in ownership_history(engine, customer["id"])] == [("assigned", "li")]


def test_an_update_cannot_take_another_customers_credit_code(engine):
    seeded(engine)
    create_customer(engine, {"name": "甲公司", "credit_code": VALID})
    other, _ = create_customer(engine, {"name": "乙公司"})
    with pytest.raises(Conflict, match="already has the credit code"):
        update_customer(engine, other["id"], {"credit_code": VALID})


def test_owner_must_be_an_active_user(engine):
    seeded(engine)
    with pytest.raises(InvalidInput, match="owner"):
        create_customer(engine, {"name": "甲公司", "owner": "nobody"})


def test_a_search_takes_percent_and_underscore_as_typed(engine):
    """'%' or '_' in the search box is a character of a name, not a wildcard that matches every customer."""
    from engine.customers.customers import list_customers

    seeded(engine)
    create_customer(engine, {"name": "甲公司"})
    plain, _ = create_customer(engine, {"name": "乙_贸易 100%有限公司"})

    def found(text):
        return [c["name"] for c in list_customers(engine, query=text)[0]]
    assert found("%") == found("_") == found("100%") == ["乙_贸易 100%有限公司"]
    assert found("甲") == ["甲公司"] and found("/") == [] and found("丙%") == []


def test_names_lose_what_cannot_be_seen_and_keep_to_one_line(engine):
    """A name pasted with a line break, a right-to-left override or a zero-width space reads garbled in every
    list and drop-down: it is stored as it shows; a note keeps its lines; an emoji's joiner stays."""
    seeded(engine)
    broken, _ = create_customer(engine, {"name": "Line\nbreak\tCo", "note": "第一行\n第二行"})
    assert (broken["name"], broken["note"]) == ("Line break Co", "第一行\n第二行")
    hidden, _ = create_customer(engine, {"name": "\u202e😀oc 客户\u200b\ufeff"})
    assert hidden["name"] == "😀oc 客户"
    family, _ = create_customer(engine, {"name": "👨\u200d👩\u200d👧 家庭农场"})
    assert family["name"] == "👨\u200d👩\u200d👧 家庭农场"
    with pytest.raises(InvalidInput) as refused:
        create_customer(engine, {"name": "\u200b\u202e"})
    assert refused.value.errors == {"name": ["required"]}
