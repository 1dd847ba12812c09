"""Process definitions: deploying files as versions, and building specs from them (cached)."""
import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from engine import clock
from engine.errors import Conflict, NotFound
from engine.workflow.parsing import SourceFile, parse_files
from engine.storage.schema import definitions, deployment_files, deployments


@dataclass
class Definition:
    id: int
    key: str
    version: int
    name: str
    file_name: str
    deployment_id: int
    deployed_at: datetime

    @classmethod
    def from_row(cls, row):
        return cls(row.id, row.key, row.version, row.name, row.file_name, row.deployment_id,
                   row.deployed_at)


@dataclass
class DeployedProcess:
    key: str
    version: int
    name: str
    changed: bool


class SpecCache:
    """Parsed specs per deployment, most recently used kept; rebuilt from the stored files on a miss."""

    def __init__(self, size=64):
        self._bundles = OrderedDict()
        self._size = size
        self._lock = threading.Lock()

    def get(self, conn, definition: Definition):
        with self._lock:
            bundle = self._bundles.get(definition.deployment_id)
            if bundle is not None:
                self._bundles.move_to_end(definition.deployment_id)
        if bundle is None:
            rows = conn.execute(sa.select(deployment_files.c.name, deployment_files.c.content)
                                .where(deployment_files.c.deployment_id == definition.deployment_id)).all()
            bundle = parse_files([SourceFile(r.name, r.content) for r in rows])
            with self._lock:
                self._bundles[definition.deployment_id] = bundle
                while len(self._bundles) > self._size:
                    self._bundles.popitem(last=False)
        with self._lock:
            specs = getattr(bundle, "_spec_memo", None)
            if specs is None:
                specs = bundle._spec_memo = {}
            if definition.key not in specs:
                specs[definition.key] = bundle.spec_for(definition.key)
            return specs[definition.key]


class DefinitionStore:
    def __init__(self, db, operations=None, limits=None):
        self.db = db
        self.operations = operations  # the registry service tasks are checked against at deploy
        self.limits = limits  # engine/config.py Limits: literal cycles and cardinalities past them are refused
        self.specs = SpecCache()
        self._by_id = {}
        self.derived = {}  # caches of what is derived per definition id (process groups), cleared with ours

    def clear_caches(self):
        """Forget cached definitions and specs (they assume ids are never reused; emptied tables reuse them)."""
        self._by_id.clear()
        self.specs = SpecCache()
        for cache in self.derived.values():
            cache.clear()

    def validate(self, sources: list[SourceFile]):
        """Parse and check without storing; returns the processes found."""
        return list(parse_files(sources, self.operations, self.limits).processes.values())

    def deploy(self, sources: list[SourceFile], actor=None) -> list[DeployedProcess]:
        """Store changed processes as new versions. Identical content changes nothing."""
        bundle = parse_files(sources, self.operations, self.limits)
        now = clock.now()
        result = []
        try:
            with self.db.begin() as conn:
                latest = self._latest_versions(conn, list(bundle.processes))
                changed = [info for key, info in bundle.processes.items()
                           if key not in latest or latest[key].content_hash != info.content_hash]
                deployment_id = None
                if changed:
                    deployment_id = conn.execute(deployments.insert().values(deployed_at=now, deployed_by=actor)
                                                 .returning(deployments.c.id)).scalar_one()
                    conn.execute(deployment_files.insert(), [
                        {"deployment_id": deployment_id, "name": s.name, "content": s.content, "sha256": s.sha256}
                        for s in sources])
                for key, info in bundle.processes.items():
                    if info in changed:
                        version = latest[key].version + 1 if key in latest else 1
                        conn.execute(definitions.insert().values(
                            key=key, version=version, name=info.name, file_name=info.file,
                            content_hash=info.content_hash, deployment_id=deployment_id, deployed_at=now))
                        result.append(DeployedProcess(key, version, info.name, True))
                    else:
                        result.append(DeployedProcess(key, latest[key].version, latest[key].name, False))
        except sa.exc.IntegrityError:
            raise Conflict("another deployment of the same process was stored at the same moment; deploy again")
        return result

    def _latest_versions(self, conn, keys):
        newest = (sa.select(definitions.c.key, sa.func.max(definitions.c.version).label("version"))
                  .where(definitions.c.key.in_(keys)).group_by(definitions.c.key).subquery())
        rows = conn.execute(sa.select(definitions).join(
            newest, sa.and_(definitions.c.key == newest.c.key, definitions.c.version == newest.c.version))).all()
        return {row.key: row for row in rows}

    def get(self, conn, key, version=None) -> Definition:
        query = sa.select(definitions).where(definitions.c.key == key)
        query = query.where(definitions.c.version == version) if version else query.order_by(
            definitions.c.version.desc()).limit(1)
        row = conn.execute(query).first()
        if row is None:
            which = f"version {version} of " if version else ""
            raise NotFound(f"no {which}process definition with key '{key}'")
        return Definition.from_row(row)

    def by_id(self, conn, definition_id) -> Definition:
        """Definition rows never change once stored, so each is read once per process."""
        found = self._by_id.get(definition_id)
        if found is None:
            row = conn.execute(sa.select(definitions).where(definitions.c.id == definition_id)).one()
            found = self._by_id[definition_id] = Definition.from_row(row)
        return found

    def list_latest(self, conn, page=1, page_size=50):
        newest = (sa.select(sa.func.max(definitions.c.id).label("id")).group_by(definitions.c.key)).subquery()
        base = sa.select(definitions).where(definitions.c.id.in_(sa.select(newest.c.id)))
        total = conn.execute(sa.select(sa.func.count()).select_from(base.subquery())).scalar_one()
        rows = conn.execute(base.order_by(definitions.c.key).offset((page - 1) * page_size).limit(page_size)).all()
        return [Definition.from_row(r) for r in rows], total

    def xml(self, conn, definition: Definition) -> bytes:
        return conn.execute(sa.select(deployment_files.c.content).where(
            deployment_files.c.deployment_id == definition.deployment_id,
            deployment_files.c.name == definition.file_name)).scalar_one()
