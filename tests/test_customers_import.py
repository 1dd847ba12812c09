"""Importing customers: dry run, modes, duplicates, error file, revert."""
import csv
import io

import pytest
from openpyxl import Workbook

from engine.customers import create_customer, get_customer, import_customers, revert_import, update_customer
from engine.customers.common import history
from engine.customers.importer import batch_view, error_file, get_batch, import_error_file, list_batches
from engine.customers.schema import customers, record_changes
from engine.errors import Conflict, InvalidInput, NotFound

from customers_helpers import add_user, count, seeded

CODE_A = "91350100M000100Y43"
CODE_B = "911100001000013537"  # wrong check digit (should be G)
CODE_C = "91110000100001353G"


def xlsx(rows):
    book = Workbook()
    sheet = book.active
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def csv_bytes(rows, encoding="utf-8-sig"):
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    return out.getvalue().encode(encoding)


CHINESE = [
    ["客户名称", "统一社会信用代码", "联系电话", "客户级别", "地区", "负责人", "备注（选填）"],
    ["福州某某有限公司", CODE_A, "138 1234 5678", "A", "福建省", "li", "老客户"],
    ["北京某某科技有限公司", CODE_C, "010-12345678", "重点客户", "北京市", "", ""],
    ["坏代码公司", CODE_B, "12345", "D", "火星", "nobody", ""],
    ["", "", "13900000000", "", "", "", ""],
]


@pytest.fixture
def hub(engine):
    seeded(engine)
    add_user(engine, "li", groups=["east"])
    return engine


def test_dry_run_reports_every_bad_cell_and_writes_nothing(hub):
    report = import_customers(hub, xlsx(CHINESE), mode="create", dry_run=True, actor="admin", file_name="客户.xlsx")
    assert report["dry_run"] and report["batch_id"] is None
    assert (report["total_rows"], report["created"], report["failed"]) == (4, 2, 2)
    bad = {(e["row"], e["column"]) for e in report["errors"]}
    assert bad == {(4, "统一社会信用代码"), (4, "联系电话"), (4, "客户级别"), (4, "地区"), (4, "负责人"), (5, "客户名称")}
    reason = next(e["reason"] for e in report["errors"] if e["column"] == "统一社会信用代码")
    assert "check digit" in reason
    assert count(hub, customers) == 0 and count(hub, record_changes) == 0


def test_create_only_writes_good_rows_and_keeps_an_error_file(hub):
    report = import_customers(hub, xlsx(CHINESE), mode="create", actor="admin", file_name="客户.xlsx")
    assert (report["created"], report["failed"]) == (2, 2)
    assert count(hub, customers) == 2
    imported = {c["name"]: c for c in _all(hub)}
    fuzhou = imported["福州某某有限公司"]
    assert (fuzhou["phone"], fuzhou["level"], fuzhou["region"], fuzhou["owner"], fuzhou["team"]) == \
        ("+8613812345678", "A", "350000", "li", "east")
    assert imported["北京某某科技有限公司"]["owner"] is None
    rows = list(csv.reader(io.StringIO(import_error_file(hub, report["batch_id"]).decode("utf-8-sig"))))
    assert rows[0] == ["行号 row", *CHINESE[0], "错误 errors"]
    assert [r[0] for r in rows[1:]] == ["4", "5"]
    assert rows[1][1:8] == CHINESE[3] and "check digit" in rows[1][-1]
    assert error_file(report) == import_error_file(hub, report["batch_id"])
    kept = batch_view(get_batch(hub, report["batch_id"]), details=True)
    assert [(e["row"], e["reason"]) for e in kept["errors"]] == [(e["row"], e["reason"]) for e in report["errors"]], \
        "the batch keeps the report's bad rows for its page, as a background import's does"


def _all(engine):
    from engine.customers import list_customers
    return list_customers(engine, page_size=500)[0]


def test_english_headers_csv_in_gbk_and_a_custom_mapping(hub):
    data = csv_bytes([["Company", "USCC", "Mobile", "Sales rep"], ["某某贸易有限公司", CODE_A, "13812345678", "li"]],
                     encoding="gb18030")
    report = import_customers(hub, data, mapping={"Sales rep": "owner"}, mode="create", file_name="c.csv")
    assert report["created"] == 1 and report["failed"] == 0 and report["ignored_columns"] == []
    assert _all(hub)[0]["owner"] == "li"


def test_unmappable_columns_are_refused_before_anything_is_read(hub):
    with pytest.raises(InvalidInput, match="customer name"):
        import_customers(hub, csv_bytes([["电话"], ["13812345678"]]), file_name="x.csv")


def test_duplicates_inside_the_file_and_against_the_database(hub):
    create_customer(hub, {"name": "已有公司", "credit_code": CODE_A, "phone": "13700000000"})
    rows = [["客户名称", "统一社会信用代码", "电话"],
            ["新公司一", CODE_C, "13600000000"],
            ["新公司二", CODE_C, ""],              # same key as row 2
            ["另一家", CODE_A, ""],                # exists in the database
            ["已有公司", "", "137 0000 0000"]]      # same name and phone as a customer: warnings only
    report = import_customers(hub, csv_bytes(rows), mode="create", dry_run=True, file_name="d.csv")
    errors = {e["row"]: e for e in report["errors"]}
    assert errors[3]["reason"] == "same credit_code as row 2 in this file"
    assert "exists already as customer" in errors[4]["reason"]
    assert {(w["row"], w["field"]) for w in report["warnings"]} == {(5, "name"), (5, "phone")}
    assert report["created"] == 2


def test_update_only_changes_filled_cells_and_refuses_unknown_keys(hub):
    existing, _ = create_customer(hub, {"name": "甲公司", "credit_code": CODE_A, "level": "C", "phone": "13700000000"})
    rows = [["name", "credit_code", "level", "phone"], ["甲公司（新名）", CODE_A, "B", ""], ["乙公司", CODE_C, "A", ""]]
    report = import_customers(hub, csv_bytes(rows), mode="update", key="credit_code", file_name="u.csv")
    assert (report["updated"], report["created"], report["failed"]) == (1, 0, 1)
    assert report["errors"][0]["row"] == 3 and "no customer has this credit_code" in report["errors"][0]["reason"]
    after = get_customer(hub, existing["id"])
    assert (after["name"], after["level"], after["phone"]) == ("甲公司（新名）", "B", "+8613700000000")


def test_create_or_update_by_normalised_name(hub):
    existing, _ = create_customer(hub, {"name": "华为技术（中国）有限公司", "level": "C"})
    rows = [["客户名称", "客户级别"], ["华为技术有限公司", "A"], ["小米科技有限责任公司", "B"]]
    report = import_customers(hub, csv_bytes(rows), mode="upsert", key="name", file_name="n.csv")
    assert (report["updated"], report["created"]) == (1, 1)
    assert get_customer(hub, existing["id"])["level"] == "A"
    assert count(hub, customers) == 2


def test_revert_undoes_a_batch_as_a_whole(hub):
    existing, _ = create_customer(hub, {"name": "甲公司", "credit_code": CODE_A, "level": "C"})
    rows = [["客户名称", "统一社会信用代码", "客户级别", "负责人"], ["甲公司", CODE_A, "A", "li"], ["乙公司", CODE_C, "B", "li"]]
    report = import_customers(hub, csv_bytes(rows), mode="upsert", key="credit_code", actor="admin", file_name="r.csv")
    assert (report["updated"], report["created"]) == (1, 1)
    result = revert_import(hub, report["batch_id"], actor="admin")
    assert result == {"batch_id": report["batch_id"], "deleted": 1, "restored": 1}
    after = get_customer(hub, existing["id"])
    assert (after["level"], after["owner"]) == ("C", None)
    assert count(hub, customers) == 1
    assert history(hub, "customer", existing["id"])[0][-1]["action"] == "reverted"
    assert list_batches(hub)[0][0]["status"] == "reverted"
    with pytest.raises(Conflict, match="already reverted"):
        revert_import(hub, report["batch_id"], actor="admin")


def test_revert_is_refused_when_imported_customers_changed_since(hub):
    report = import_customers(hub, csv_bytes([["客户名称"], ["甲公司"], ["乙公司"]]), mode="create", file_name="x.csv")
    touched = next(c for c in _all(hub) if c["name"] == "乙公司")
    update_customer(hub, touched["id"], {"level": "A"}, actor="li")
    with pytest.raises(Conflict, match=f"customers {touched['id']} were changed"):
        revert_import(hub, report["batch_id"])
    assert count(hub, customers) == 2


def test_unknown_batch(hub):
    with pytest.raises(NotFound):
        revert_import(hub, 999)


def test_progress_is_reported(hub):
    seen = []
    import_customers(hub, csv_bytes([["name"], *[[f"公司{i}"] for i in range(5)]]), mode="create",
                     file_name="p.csv", progress=lambda done, total: seen.append((done, total)))
    assert seen[-1] == (5, 5)
