"""Which groups a process belongs to: every lane and candidate group named on its user tasks (in any
version, including its subprocesses). Supervisors and agents reach the instances of their groups'
processes through this.

Definitions never change once deployed, so the answer per definition id is cached for the process life.
"""
import threading

import sqlalchemy as sa

from engine.instances.definitions import Definition
from engine.storage.schema import definitions


def groups_of_spec(spec, subprocess_specs) -> frozenset:
    names = set()
    for process_spec in [spec, *subprocess_specs.values()]:
        for task_spec in process_spec.task_specs.values():
            names.update(getattr(task_spec, "candidate_groups", None) or ())
            lane = getattr(task_spec, "lane", None)
            if lane:
                names.add(lane)
    return frozenset(names)


class ProcessGroups:
    def __init__(self, definition_store):
        self.definitions = definition_store
        # Kept with the definition store's caches, so that emptying those (tests) empties this too.
        self._by_definition: dict[int, tuple[str, frozenset]] = definition_store.derived.setdefault(
            "process_groups", {})
        self._lock = threading.Lock()

    def _refresh(self, conn):
        with self._lock:
            known = set(self._by_definition)
        rows = conn.execute(sa.select(definitions)).all() if not known else conn.execute(
            sa.select(definitions).where(definitions.c.id.not_in(known))).all()
        for row in rows:
            groups = groups_of_spec(*self.definitions.specs.get(conn, Definition.from_row(row)))
            with self._lock:
                self._by_definition[row.id] = (row.key, groups)

    def of_definition(self, conn, definition_id) -> frozenset:
        with self._lock:
            known = self._by_definition.get(definition_id)
        if known is None:
            self._refresh(conn)
            with self._lock:
                known = self._by_definition.get(definition_id, ("", frozenset()))
        return known[1]

    def of_process(self, conn, key) -> frozenset:
        """The groups of process `key` over all its versions."""
        self._refresh(conn)
        with self._lock:
            return frozenset().union(*[g for k, g in self._by_definition.values() if k == key])

    def processes_of(self, conn, groups) -> list[str]:
        """Process keys any version of which names one of `groups`."""
        self._refresh(conn)
        with self._lock:
            return sorted({k for k, g in self._by_definition.values() if g & set(groups)})
