from conftest import bpmn_file


def test_a_deployed_process_starts_and_waits_for_its_first_task(engine):
    engine.deploy([bpmn_file("first_contact.bpmn")])
    instance = engine.instance(engine.start("first_contact", "C-1", {"owner": "li"}))
    assert instance["status"] == "user_input"
    assert [t["element_id"] for t in instance["tasks"]] == ["call"]
