"""Process definitions: deploying files as versions, and building specs from them (cached)."""
import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from engine import clock
from engine.errors import Conflict, NotFound
from engine.status import FINAL
from engine.storage.schema import definitions, deployment_files, deployments, instances
from engine.workflow.parsing import SourceFile, decision_ids, decision_refs, parse_files


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


class Deployed(list):
    """What a deployment answers: its processes (a list, as before) and `warnings` (bpmnlint's findings
    that do not refuse the files)."""

    def __init__(self, items=(), warnings=()):
        super().__init__(items)
        self.warnings = list(warnings)


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
        """Parse and check without storing; returns the processes found (with `.warnings`: bpmnlint's)."""
        bundle = parse_files(self.with_stored_decisions(sources), self.operations, self.limits, check_lint=True)
        return Deployed(bundle.processes.values(), bundle.warnings)

    def with_stored_decisions(self, sources: list[SourceFile]) -> list[SourceFile]:
        """`sources` plus, for every decision their business rule tasks call and they do not define, the
        newest stored DMN file defining it (deployed alone or with an earlier process): it is stored again
        with this deployment, so the deployment's files alone rebuild its specs."""
        wanted = set().union(*(decision_refs(s.content) for s in sources if not s.name.lower().endswith(".dmn")))
        wanted -= set().union(*(decision_ids(s.content) for s in sources if s.name.lower().endswith(".dmn")))
        if not wanted:
            return sources
        names = {s.name for s in sources}
        added = list(sources)
        with self.db.connect() as conn:
            rows = conn.execute(sa.select(deployment_files.c.name, deployment_files.c.content)
                                .where(deployment_files.c.name.ilike("%.dmn"))
                                .order_by(deployment_files.c.deployment_id.desc()))
            for row in rows:
                found = decision_ids(row.content) & wanted
                if not found:
                    continue
                name = row.name if row.name not in names else f"stored-{row.name}"
                added.append(SourceFile(name, row.content))
                names.add(name)
                wanted -= found
                if not wanted:
                    break
        return added

    def newest_decision_file(self, conn, decision_id) -> SourceFile:
        rows = conn.execute(sa.select(deployment_files.c.name, deployment_files.c.content)
                            .where(deployment_files.c.name.ilike("%.dmn"))
                            .order_by(deployment_files.c.deployment_id.desc()))
        for row in rows:
            if decision_id in decision_ids(row.content):
                return SourceFile(row.name, row.content)
        raise NotFound(f"no decision definition with key '{decision_id}'")

    def deploy(self, sources: list[SourceFile], actor=None) -> list[DeployedProcess]:
        """Store changed processes as new versions. Identical content changes nothing. Decision tables
        may come alone: they are stored for later deployments to call (`with_stored_decisions`)."""
        sources = self.with_stored_decisions(sources)
        bundle = parse_files(sources, self.operations, self.limits, check_lint=True)
        if not bundle.processes:
            return Deployed(self._deploy_decisions(sources, actor), bundle.warnings)
        return Deployed(self._deploy(bundle, sources, actor), bundle.warnings)

    def _deploy(self, bundle, sources, actor):
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

    def _deploy_decisions(self, sources, actor):
        """A deployment of DMN files only: stored unless every file is stored already, byte for byte."""
        with self.db.begin() as conn:
            known = set(conn.execute(sa.select(deployment_files.c.sha256).where(
                deployment_files.c.sha256.in_([s.sha256 for s in sources]))).scalars())
            if all(s.sha256 in known for s in sources):
                return []
            deployment_id = conn.execute(deployments.insert().values(deployed_at=clock.now(), deployed_by=actor)
                                         .returning(deployments.c.id)).scalar_one()
            conn.execute(deployment_files.insert(), [
                {"deployment_id": deployment_id, "name": s.name, "content": s.content, "sha256": s.sha256}
                for s in sources])
        return []

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

    def versions(self, conn, key) -> list[dict]:
        """Every version of `key`, newest first, with how many of its instances run (not ended) and in all."""
        counts = (sa.select(instances.c.definition_id, sa.func.count().label("total"),
                            sa.func.count().filter(instances.c.status.notin_(sorted(FINAL))).label("running"))
                  .where(instances.c.process_key == key).group_by(instances.c.definition_id).subquery())
        rows = conn.execute(sa.select(definitions, counts.c.total, counts.c.running)
                            .select_from(definitions.outerjoin(counts, counts.c.definition_id == definitions.c.id))
                            .where(definitions.c.key == key).order_by(definitions.c.version.desc())).all()
        if not rows:
            raise NotFound(f"no process definition with key '{key}'")
        return [{**vars(Definition.from_row(r)), "running": r.running or 0, "instances": r.total or 0} for r in rows]

    def decision_xml(self, conn, decision_id) -> bytes:
        """The newest deployed DMN file that defines `decision_id`."""
        for (content,) in conn.execute(sa.select(deployment_files.c.content)
                                       .where(deployment_files.c.name.like("%.dmn%"))
                                       .order_by(deployment_files.c.deployment_id.desc())):
            if decision_id in decision_ids(content):
                return content
        raise NotFound(f"no deployed decision table with id '{decision_id}'")

    def xml(self, conn, definition: Definition) -> bytes:
        return conn.execute(sa.select(deployment_files.c.content).where(
            deployment_files.c.deployment_id == definition.deployment_id,
            deployment_files.c.name == definition.file_name)).scalar_one()
