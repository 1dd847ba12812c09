"""The dicts the API answers with: a human task row as a dict, and values made safe for JSON columns."""
import json

from engine.clock import utc
from engine.storage.schema import human_tasks


def json_safe(value):
    """`value` as JSON columns can hold it: unknown types as text, NaN and Infinity as their names."""
    return json.loads(json.dumps(value, default=str, ensure_ascii=False), parse_constant=str)


_TASK_COLUMNS = tuple(human_tasks.c.keys())  # a row of `select(human_tasks)` starts with these, in order


def task_dict(row) -> dict:
    """A human task row (of `select(human_tasks)`, possibly with more columns after) as a dict."""
    if row._fields[:len(_TASK_COLUMNS)] != _TASK_COLUMNS:
        row = tuple(getattr(row, name) for name in _TASK_COLUMNS)  # another shape: by name
    (task_id, instance_id, process_key, business_key, element_id, name, lane, candidate_groups, assignee, form,
     due_at, created_at, claimed_at, title) = row[:len(_TASK_COLUMNS)]  # by position: far cheaper than by name
    return {
        "id": task_id, "name": name, "title": title or name, "element_id": element_id, "instance_id": instance_id,
        "process_key": process_key, "business_key": business_key, "lane": lane,
        "candidate_groups": list(candidate_groups or []), "assignee": assignee,
        "due_at": utc(due_at), "created_at": utc(created_at), "claimed_at": utc(claimed_at),
        "form": form or [],
    }
