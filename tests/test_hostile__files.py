"""Issue 11, files: no CSV the product writes can run as a formula; spreadsheets are read row by row
with limits, refused with a clear 413/422; NUL characters are refused (PostgreSQL cannot store them)."""
import csv
import io
import time

import pytest
from openpyxl import Workbook

from api_fixtures import *  # noqa: F401,F403
from engine.customers import import_customers, tabular
from engine.customers.importer import import_error_file
from engine.customers.schema import customers
from engine.customers.vocab import seed_defaults
from engine.errors import InvalidInput, TooLarge

from customers_helpers import count, seeded


def _csv(rows):
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    return out.getvalue().encode("utf-8")


@pytest.mark.parametrize("cell", ["=HYPERLINK(\"http://x\",\"y\")", "+cmd|' /C calc'!A0", "-2+3+cmd|'/C calc'!A0",
                                  "@SUM(1+1)*cmd|' /C calc'!A0", "\t=1+1", "\r=1+1"])
def test_the_import_error_file_cannot_run_formulas(engine, cell):
    seeded(engine)
    report = import_customers(engine, _csv([["客户名称", "客户级别"], [cell, "Z"]]), mode="create", actor="admin",
                              file_name="x.csv")
    assert report["failed"] == 1
    rows = list(csv.reader(io.StringIO(import_error_file(engine, report["batch_id"]).decode("utf-8-sig"))))
    assert rows[1][1] == "'" + cell
    assert all(not c.startswith(("=", "+", "-", "@", "\t", "\r")) for row in rows for c in row)


def test_plain_numbers_keep_their_sign():
    assert tabular.neutralise("-5") == "-5" and tabular.neutralise("+86") == "+86" and tabular.neutralise(-5) == -5
    assert tabular.neutralise("=1") == "'=1" and tabular.neutralise("普通") == "普通"


def test_nul_in_an_imported_csv_is_refused_naming_the_line(engine, team):
    seed_defaults(engine)
    data = "客户名称,备注\n甲公司,ok\n乙公司,bad\x00note\n".encode("utf-8")
    response = team.boss.post("/api/imports", data={"file": (io.BytesIO(data), "客户.csv")},
                              content_type="multipart/form-data")
    assert response.status_code == 422 and "line 3" in response.get_json()["detail"]
    assert count(engine, customers) == 0


def _xlsx(rows):
    book = Workbook(write_only=True)
    sheet = book.create_sheet()
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def test_a_spreadsheet_with_too_many_rows_is_refused_quickly(engine, team, monkeypatch):
    monkeypatch.setattr(tabular, "MAX_ROWS", 1_000)
    seed_defaults(engine)
    data = _xlsx([["客户名称"]] + [[f"公司{i}"] for i in range(20_000)])
    started = time.monotonic()
    response = team.boss.post("/api/imports", data={"file": (io.BytesIO(data), "客户.xlsx"), "dry_run": "true"},
                              content_type="multipart/form-data")
    assert response.status_code == 413 and "1,000 rows" in response.get_json()["detail"]
    assert time.monotonic() - started < 60
    assert count(engine, customers) == 0


def test_a_long_run_of_empty_rows_ends_the_sheet():
    rows = [["客户名称"], ["甲公司"]] + [[None]] * 5_000 + [["never read"]]
    name, headers, body = tabular.read_table(_xlsx(rows), "x.xlsx")
    assert headers == ["客户名称"] and [cells for _, cells in body] == [["甲公司"]]


def test_a_workbook_that_unpacks_too_large_is_refused_before_reading(monkeypatch):
    monkeypatch.setattr(tabular, "MAX_UNPACKED_BYTES", 10_000)
    with pytest.raises(TooLarge) as refused:
        tabular.read_table(_xlsx([["客户名称"]] + [["x" * 100] for _ in range(500)]), "x.xlsx")
    assert "unpacks" in str(refused.value)
    with pytest.raises(InvalidInput):
        tabular.read_table(b"PK\x03\x04 broken", "x.xlsx")
