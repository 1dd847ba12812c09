"""Signing a contract (status active) starts its renewal reminders and care revisits, in the same
transaction as the change."""
import pytest
from sop_support import customer, deploy_library, instances_of, team_setup

from engine.customers.records import create_record, update_record
from engine.errors import InvalidInput


@pytest.fixture
def sop(engine):
    team_setup(engine)
    deploy_library(engine)
    return engine


def test_an_activated_contract_starts_renewal_reminders_and_care_revisits(sop):
    cid = customer(sop)
    contract = create_record(sop, "contract", {"customer_id": cid, "title": "2027年度服务合同", "amount": "120000",
                                               "start_date": "2027-01-01", "end_date": "2027-12-31"}, actor="wang")
    assert instances_of(sop, "renewal_reminder") == [] and instances_of(sop, "care_revisit") == []
    update_record(sop, "contract", contract["id"], {"status": "active"}, actor="wang")
    [renewal] = instances_of(sop, "renewal_reminder")
    [care] = instances_of(sop, "care_revisit")
    assert sop.instance(renewal)["business_key"] == str(cid)
    assert sop.instance(renewal)["variables"]["end_date"] == "2027-12-31"
    assert sop.instance(care)["variables"]["signed_on"] == "2027-01-01"
    update_record(sop, "contract", contract["id"], {"amount": "130000"}, actor="wang")  # still active: no new starts
    assert len(instances_of(sop, "renewal_reminder")) == 1


def test_a_refused_change_starts_nothing(sop):
    cid = customer(sop)
    contract = create_record(sop, "contract", {"customer_id": cid, "title": "合同", "start_date": "2027-01-01",
                                               "end_date": "2027-12-31"}, actor="wang")
    with pytest.raises(InvalidInput):
        update_record(sop, "contract", contract["id"], {"status": "active", "end_date": "2026-01-01"}, actor="wang")
    assert instances_of(sop, "renewal_reminder") == [] and instances_of(sop, "care_revisit") == []
