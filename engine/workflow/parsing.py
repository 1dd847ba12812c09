"""Reading BPMN and DMN files: safely, with both spiffworkflow and Camunda extensions, and with errors
that name the file, the line and the element.

`parse_files` is the one entry point: it returns a `ParsedBundle` holding a SpiffWorkflow parser that has
every file of a deployment, from which specs are built per process key.
"""
import hashlib
import re
from dataclasses import dataclass, field

from lxml import etree
from SpiffWorkflow.bpmn.parser.BpmnParser import full_tag
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.bpmn.specs.event_definitions.simple import NoneEventDefinition
from SpiffWorkflow.spiff.parser.event_parsers import SpiffStartEventParser
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser
from SpiffWorkflow.spiff.parser.task_spec import BusinessRuleTaskParser, SpiffTaskParser, UserTaskParser
from SpiffWorkflow.bpmn.specs.defaults import StartEvent
from SpiffWorkflow.spiff.specs.defaults import BusinessRuleTask, UserTask

from engine.errors import DeploymentError, ScriptRefused
from engine.workflow import cron, feel, juel, lint
from engine.workflow.sandbox import check_source
from engine.workflow.service_tasks import FollowupServiceTaskParser, OperationServiceTask, check_operations

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
CAMUNDA_NS = "http://camunda.org/schema/1.0/bpmn"
SPIFF_NS = "http://spiffworkflow.org/bpmn/schema/1.0/core"
DMN_NAMESPACES = (
    "http://www.omg.org/spec/DMN/20151101/dmn.xsd",
    "https://www.omg.org/spec/DMN/20191111/MODEL/",
    "http://www.omg.org/spec/DMN/20180521/MODEL/",
    "https://www.omg.org/spec/DMN/20230324/MODEL/",
)
MAX_FILE_BYTES = 5 * 1024 * 1024

# No DTDs, no entities, no network: BPMN never needs them and they are how XML parsers get attacked.
_SAFE_XML = etree.XMLParser(
    resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False, huge_tree=False,
    remove_comments=False,
)

_ISO_DURATION = re.compile(r"^P(?=\d|T\d)(\d+(\.\d+)?Y)?(\d+(\.\d+)?M)?(\d+(\.\d+)?W)?(\d+(\.\d+)?D)?"
                           r"(T(?=\d)(\d+(\.\d+)?H)?(\d+(\.\d+)?M)?(\d+(\.\d+)?S)?)?$", re.I)
_ISO_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$")
_ISO_CYCLE = re.compile(r"^R\d*/", re.I)


def is_iso_literal(text: str) -> bool:
    """A timer body written the way Camunda Modeler writes it: `PT2H`, `2026-12-01T09:00:00+08:00`,
    `R3/PT1H`. SpiffWorkflow would evaluate these as Python and fail at run time."""
    text = text.strip()
    return bool(_ISO_DURATION.match(text) or _ISO_DATETIME.match(text) or _ISO_CYCLE.match(text))


def timer_expression(text: str) -> str:
    """The Python expression the engine evaluates for a timer body: literals are quoted, and every value
    passes through `timer_value` (dates in the deployment's time zone, timedeltas as durations)."""
    text = (text or "").strip()
    inner = repr(text) if is_iso_literal(text) else text
    return f"timer_value({inner})"


@dataclass
class SourceFile:
    name: str
    content: bytes

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.content).hexdigest()


@dataclass
class ProcessInfo:
    key: str
    name: str
    file: str
    content_hash: str = ""


@dataclass
class ParsedBundle:
    parser: "FollowupParser"
    processes: dict[str, ProcessInfo] = field(default_factory=dict)
    decisions: list[str] = field(default_factory=list)
    warnings: list[dict] = field(default_factory=list)  # bpmnlint's findings that do not refuse (lint.py)

    def spec_for(self, key):
        spec = self.parser.get_spec(key)
        subprocess_specs = self.parser.get_subprocess_specs(key)
        for each in (spec, *subprocess_specs.values()):
            cron.fit(each)  # cron cycles get their event definition while the spec is built
        return spec, subprocess_specs


class FollowupUserTaskParser(UserTaskParser):
    """Spiff user task, plus what Camunda Modeler writes: form fields, candidate groups, assignee."""

    def create_task(self):
        task = super().create_task()
        groups = self.node.get(f"{{{CAMUNDA_NS}}}candidateGroups") or ""
        task.candidate_groups = [g.strip() for g in groups.split(",") if g.strip()]
        task.assignee_expression = self.node.get(f"{{{CAMUNDA_NS}}}assignee")
        # Camunda expressions, as Python evaluated when the task opens (snapshot.human_task_row)
        task.assignee_python = self._juel("assignee", task.assignee_expression)
        task.candidate_groups_python = self._juel("candidateGroups", groups)
        if task.candidate_groups_python:
            task.candidate_groups = []
        task.form_fields = read_camunda_form(self.node)
        return task


    def _juel(self, attribute, text):
        if not juel.is_juel(text):
            return None
        try:
            python = juel.to_python(text)
            check_source(python, "eval")
        except (juel.UnsupportedExpression, ScriptRefused) as err:
            raise ValidationException(f"camunda:{attribute}: {err}", node=self.node, file_name=self.filename) from None
        return python


class FollowupBusinessRuleTaskParser(BusinessRuleTaskParser):
    """Spiff's `calledDecisionId` extension or Camunda's `decisionRef` attribute; Camunda's
    `resultVariable` and `mapDecisionResult` (feel.FollowupDMNEngine)."""

    def create_task(self):
        task = super().create_task()
        mapping = self.node.get(f"{{{CAMUNDA_NS}}}mapDecisionResult")
        if mapping is not None and mapping not in feel._MAPPINGS:
            raise ValidationException(f"camunda:mapDecisionResult '{mapping}' is not supported (supported: "
                                      f"{', '.join(sorted(feel._MAPPINGS))})", node=self.node, file_name=self.filename)
        task.dmnEngine = feel.FollowupDMNEngine(task.dmnEngine.decision_table,
                                                self.node.get(f"{{{CAMUNDA_NS}}}resultVariable"), mapping)
        return task

    @staticmethod
    def get_decision_ref(node):
        return SpiffTaskParser._parse_extensions(node).get("calledDecisionId") or node.get(
            f"{{{CAMUNDA_NS}}}decisionRef")


class FollowupStartEventParser(SpiffStartEventParser):
    """A start event may carry a start form (`camunda:formData`, as Camunda Modeler writes it): the
    variables an instance needs, checked when it is started (422 listing every bad one)."""

    def create_task(self):
        task = super().create_task()
        task.form_fields = read_camunda_form(self.node)
        return task


def start_form(spec) -> list[dict]:
    """The form fields of a process's plain (none) start event, [] when it has none."""
    for start in getattr(spec.start, "outputs", []):
        if isinstance(getattr(start, "event_definition", None), NoneEventDefinition):
            return list(getattr(start, "form_fields", None) or [])
    return []


class FollowupParser(SpiffBpmnParser):
    OVERRIDE_PARSER_CLASSES = {
        **SpiffBpmnParser.OVERRIDE_PARSER_CLASSES,
        full_tag("startEvent"): (FollowupStartEventParser, StartEvent),
        full_tag("userTask"): (FollowupUserTaskParser, UserTask),
        full_tag("businessRuleTask"): (FollowupBusinessRuleTaskParser, BusinessRuleTask),
        full_tag("serviceTask"): (FollowupServiceTaskParser, OperationServiceTask),  # engine/workflow/service_tasks.py
    }


def read_camunda_form(node):
    """Form fields from `camunda:formData`, as plain dicts the API and the validator share."""
    fields = []
    for xml_field in node.iter(f"{{{CAMUNDA_NS}}}formField"):
        spec = {
            "id": xml_field.get("id"),
            "label": xml_field.get("label") or xml_field.get("id"),
            "type": xml_field.get("type") or "string",
            "default": xml_field.get("defaultValue"),
            "required": False,
            "enum": None,
        }
        options = [(v.get("id"), v.get("name")) for v in xml_field.iter(f"{{{CAMUNDA_NS}}}value")]
        if spec["type"] == "enum":
            spec["enum"] = [{"id": o[0], "name": o[1] or o[0]} for o in options]
        for constraint in xml_field.iter(f"{{{CAMUNDA_NS}}}constraint"):
            name, config = constraint.get("name"), constraint.get("config")
            if name == "required":
                spec["required"] = config in (None, "", "true", "True")
            elif name in ("min", "max", "minlength", "maxlength"):
                try:
                    spec[name] = float(config) if name in ("min", "max") else int(config)
                except (TypeError, ValueError):
                    spec[name] = None
            elif name == "readonly":
                spec["readonly"] = True
            elif name == "user":  # ours: the value must name an active user (checked by the engine)
                spec["user"] = True
        fields.append(spec)
    return fields


def _nearest_id(node):
    while node is not None:
        if node.get("id"):
            return node.get("id")
        node = node.getparent()
    return None


def _read_xml(source: SourceFile):
    if len(source.content) > MAX_FILE_BYTES:
        raise DeploymentError(f"file is larger than {MAX_FILE_BYTES // 1024 // 1024} MB", file=source.name)
    doctype = re.search(rb"<!(DOCTYPE|ENTITY)", source.content, re.I)
    if doctype:
        line = source.content.count(b"\n", 0, doctype.start()) + 1
        raise DeploymentError("a DOCTYPE (DTD or entity declaration) is not allowed in BPMN or DMN files",
                              file=source.name, line=line)
    try:
        root = etree.fromstring(source.content, _SAFE_XML)
    except etree.XMLSyntaxError as err:
        line = err.lineno or (err.position[0] if err.position else None)
        raise DeploymentError(f"the XML is broken: {err.msg}", file=source.name, line=line) from None
    return root


_SCRIPT_TAGS = {
    f"{{{BPMN_NS}}}script": "exec",
    f"{{{BPMN_NS}}}conditionExpression": "eval",
    f"{{{BPMN_NS}}}loopCondition": "eval",
    f"{{{BPMN_NS}}}completionCondition": "eval",
    f"{{{BPMN_NS}}}loopCardinality": "eval",
    f"{{{SPIFF_NS}}}preScript": "exec",
    f"{{{SPIFF_NS}}}postScript": "exec",
    f"{{{BPMN_NS}}}timeDate": "eval",
    f"{{{BPMN_NS}}}timeDuration": "eval",
    f"{{{BPMN_NS}}}timeCycle": "eval",
}
_TIMER_TAGS = {f"{{{BPMN_NS}}}timeDate", f"{{{BPMN_NS}}}timeDuration", f"{{{BPMN_NS}}}timeCycle"}


def _camunda_collections(root, filename):
    """`camunda:collection` + `camunda:elementVariable` (Camunda Modeler's multi-instance) rewritten as
    the standard `loopDataInputRef` + `inputDataItem` SpiffWorkflow runs: in the XML, before parsing, so
    the spec every instance shares is never changed while one runs."""
    collection_attr, element_attr = f"{{{CAMUNDA_NS}}}collection", f"{{{CAMUNDA_NS}}}elementVariable"
    for node in root.iter(f"{{{BPMN_NS}}}multiInstanceLoopCharacteristics"):
        collection = node.attrib.pop(collection_attr, None)
        element = node.attrib.pop(element_attr, None)
        if collection is None:
            continue
        name = collection.strip()
        if juel.is_juel(name):
            try:
                name = juel.to_python(name)
            except juel.UnsupportedExpression as err:
                raise DeploymentError(f"camunda:collection: {err}", file=filename, line=node.sourceline,
                                      element=_nearest_id(node)) from None
        if not name.isidentifier():
            raise DeploymentError(f"camunda:collection must name a process variable holding a list (e.g. ${{items}}), "
                                  f"not '{collection}'", file=filename, line=node.sourceline, element=_nearest_id(node))
        if node.find(f"{{{BPMN_NS}}}loopCardinality") is not None:
            raise DeploymentError("a multi-instance task has both a loop cardinality and camunda:collection; keep one",
                                  file=filename, line=node.sourceline, element=_nearest_id(node))
        reference = etree.Element(f"{{{BPMN_NS}}}loopDataInputRef")
        reference.text = name
        node.insert(0, reference)
        if element:
            item = etree.Element(f"{{{BPMN_NS}}}inputDataItem", id=element.strip(), name=element.strip())
            node.insert(1, item)


def _check_literal_limits(node, text, filename, limits):
    """A literal past a limit is refused at deploy (the same limit stops a computed one at run time)."""
    text = text.strip()
    if node.tag == f"{{{BPMN_NS}}}loopCardinality" and text.isdigit() and int(text) > limits.max_cardinality:
        raise DeploymentError(f"the loop cardinality {int(text):,} is more than the limit of "
                              f"{limits.max_cardinality:,} (FOLLOWUP_MAX_CARDINALITY)", file=filename,
                              line=node.sourceline, element=_nearest_id(node))
    if node.tag == f"{{{BPMN_NS}}}timeCycle" and _ISO_CYCLE.match(text):
        duration = text.split("/")[-1]
        if _ISO_DURATION.match(duration):
            from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
            try:
                seconds = TimerEventDefinition.get_timedelta_from_start(
                    TimerEventDefinition.parse_iso_duration(duration)).total_seconds()
            except Exception:  # noqa: BLE001 - left to the run-time check, which names the problem
                return
            if seconds < limits.min_timer_cycle_seconds:
                raise DeploymentError(f"the timer cycle '{text}' repeats every {seconds:g} s; the shortest interval "
                                      f"allowed is {limits.min_timer_cycle_seconds:g} s "
                                      "(FOLLOWUP_MIN_TIMER_CYCLE_SECONDS)", file=filename, line=node.sourceline,
                                      element=_nearest_id(node))


def _prepare_bpmn(root, filename, limits=None):
    """Rewrite timer bodies, Camunda expressions (juel.py) and collections, and check every script and
    condition against the sandbox's rules; with `limits`, literal cycles and cardinalities past them are
    refused."""
    _camunda_collections(root, filename)
    for task in root.iter(f"{{{BPMN_NS}}}scriptTask"):
        language = (task.get("scriptFormat") or "python").strip().lower()
        if language not in ("python", "python3", "py", "text/x-python"):
            raise DeploymentError(f"scriptFormat '{task.get('scriptFormat')}' cannot run here: scripts are Python "
                                  "(rewrite the script in Python, or make the step an external task)",
                                  file=filename, line=task.sourceline, element=task.get("id"))
        if task.get(f"{{{CAMUNDA_NS}}}resource"):
            raise DeploymentError("camunda:resource (a script kept outside the diagram) is not supported: put the "
                                  "script inside the script task", file=filename, line=task.sourceline,
                                  element=task.get("id"))
    for node in root.iter(*_SCRIPT_TAGS):
        text = node.text or ""
        if limits is not None:
            _check_literal_limits(node, text, filename, limits)
        if _SCRIPT_TAGS[node.tag] == "eval" and juel.is_juel(text):
            try:
                text = node.text = juel.to_python(text)
            except juel.UnsupportedExpression as err:
                raise DeploymentError(str(err), file=filename, line=node.sourceline, element=_nearest_id(node)) from None
        if node.tag == f"{{{BPMN_NS}}}loopCardinality" and text.strip():
            # A list given as the cardinality (Camunda Modeler users write ${items} here) means one per item.
            inner = text.strip()
            text = node.text = f"(len({inner}) if isinstance({inner}, (list, tuple)) else {inner})"
        if node.tag in _TIMER_TAGS:
            if not text.strip():
                raise DeploymentError("the timer has no expression", file=filename, line=node.sourceline,
                                      element=_nearest_id(node))
            if node.tag == f"{{{BPMN_NS}}}timeCycle" and cron.looks_like_cron(text):
                try:
                    cron.to_croniter(text.strip())
                except ValueError as err:
                    event = node.getparent()
                    while event is not None and etree.QName(event).localname.endswith("EventDefinition"):
                        event = event.getparent()
                    raise DeploymentError(f"the cron cycle is not supported: {err}", file=filename,
                                          line=node.sourceline, element=_nearest_id(event)) from None
                text = repr(cron.PREFIX + " ".join(text.split()))
            text = node.text = timer_expression(text)
        if not text.strip():
            continue
        try:
            check_source(text.strip() if _SCRIPT_TAGS[node.tag] == "eval" else text, _SCRIPT_TAGS[node.tag])
        except ScriptRefused as err:
            raise DeploymentError(f"script refused: {err}", file=filename,
                                  line=node.sourceline, element=_nearest_id(node)) from None


def _is_dmn(root):
    return etree.QName(root).namespace in DMN_NAMESPACES


def parse_files(sources: list[SourceFile], operations=None, limits=None, check_lint=False) -> ParsedBundle:
    """Parse and validate a deployment's files; raise DeploymentError on the first problem. With
    `operations` (a registry: `get(name)`, names by iteration), service tasks are checked against it; with
    `limits` (engine/config.py), literal timer cycles and loop cardinalities past them are refused.
    `check_lint`: run bpmnlint (lint.py) on each BPMN file: correctness errors refuse, the rest are
    `bundle.warnings` (a new deployment; files stored already are not linted again)."""
    if not sources:
        raise DeploymentError("a deployment needs at least one .bpmn or .dmn file")
    parser = FollowupParser()
    bundle = ParsedBundle(parser)
    bpmn_roots = []
    for source in sources:
        root = _read_xml(source)
        if _is_dmn(root):
            try:
                feel.prepare_dmn(root)  # FEEL unary tests and hit policies as Camunda Modeler writes them
                for table in root.iter("{*}decisionTable"):
                    feel.check_policy((table.get("hitPolicy") or "UNIQUE").upper())
            except juel.UnsupportedExpression as err:
                raise DeploymentError(str(err), file=source.name,
                                      element=root.find("{*}decision").get("id") if root.find("{*}decision") is not None
                                      else None) from None
            try:
                parser.add_dmn_xml(root, filename=source.name)
            except (ValidationException, SpiffWorkflowException) as err:
                raise _from_validation(err, source.name) from None
            except Exception as err:  # noqa: BLE001 - the library raises bare errors on bad tables
                raise DeploymentError(f"the decision table cannot be read: {err}", file=source.name) from None
            bundle.decisions.append(root.find("{*}decision").get("id") if root.find("{*}decision") is not None else "")
        elif etree.QName(root).namespace == BPMN_NS and etree.QName(root).localname == "definitions":
            if check_lint:
                errors, warnings = lint.lint(root, source.name)
                if errors:
                    first = errors[0]
                    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
                    raise DeploymentError(f"bpmnlint {first['rule']}: {first['message']}{more}", file=source.name,
                                          element=first["element"])
                bundle.warnings.extend(warnings)
            _prepare_bpmn(root, source.name, limits)
            bpmn_roots.append((root, source))
        else:
            raise DeploymentError("not a BPMN 2.0 or DMN document (unexpected root element "
                                  f"'{etree.QName(root).localname}')", file=source.name, line=root.sourceline)
    for root, source in bpmn_roots:
        try:
            parser.add_bpmn_xml(root, filename=source.name)
        except ValidationException as err:
            raise _from_validation(err, source.name) from None
        for process in root.iter(f"{{{BPMN_NS}}}process"):
            if process.get("isExecutable", "true") != "false":
                key = process.get("id")
                bundle.processes[key] = ProcessInfo(key=key, name=process.get("name") or key, file=source.name)
    if not bundle.processes and not bundle.decisions:
        raise DeploymentError("no executable process found in the deployment",
                              file=", ".join(s.name for s in sources))
    _refuse_recursive_calls(bpmn_roots)
    by_name = {s.name: s for s in sources}
    dmn_hash = "".join(sorted(s.sha256 for s in sources if s.name not in {p.file for p in bundle.processes.values()}))
    for key, info in bundle.processes.items():
        try:
            spec, subprocess_specs = bundle.spec_for(key)
        except ValidationException as err:
            raise _from_validation(err, info.file) from None
        except SpiffWorkflowException as err:
            raise DeploymentError(str(err), file=info.file, element=key) from None
        files = {info.file} | {bundle.processes[k].file for k in subprocess_specs if k in bundle.processes}
        digest = hashlib.sha256()
        for name in sorted(files):
            digest.update(by_name[name].content)
        digest.update(dmn_hash.encode())
        info.content_hash = digest.hexdigest()
    if operations is not None:
        check_operations(bundle, operations)  # unknown service-task operations are refused, naming the element
    return bundle


_DECISION_REF = re.compile(rb'decisionRef="([^"]+)"|calledDecisionId>\s*([^<\s]+)\s*<')
_DECISION_ID = re.compile(rb'<(?:\w+:)?decision\b[^>]*?\sid="([^"]+)"')


def decision_refs(content: bytes) -> set[str]:
    """The decision ids a BPMN file's business rule tasks call."""
    return {(a or b).decode() for a, b in _DECISION_REF.findall(content)}


def decision_ids(content: bytes) -> set[str]:
    """The decision ids a DMN file defines."""
    return {m.decode() for m in _DECISION_ID.findall(content)}


def _refuse_recursive_calls(bpmn_roots):
    """A call activity that leads back to a process it is part of (A calls A, or A calls B calls A) would
    start subprocesses for ever: refused, naming the call activity."""
    calls = {}  # process id -> [(called process id, call activity element, file name)]
    for root, source in bpmn_roots:
        for process in root.iter(f"{{{BPMN_NS}}}process"):
            calls[process.get("id")] = [(node.get("calledElement"), node, source.name)
                                        for node in process.iter(f"{{{BPMN_NS}}}callActivity")]

    done = set()  # processes whose calls lead nowhere back

    def visit(process_id, path):
        for called, node, filename in calls.get(process_id, ()):
            if called in path:
                chain = " -> ".join([*path[path.index(called):], called])
                raise DeploymentError(f"the call activity calls a process that is already running it ({chain}): "
                                      "recursive call activities are not allowed", file=filename,
                                      line=node.sourceline, element=node.get("id"))
            if called in calls and called not in done:
                visit(called, [*path, called])
        done.add(process_id)

    for process_id in calls:
        if process_id not in done:
            visit(process_id, [process_id])


def _from_validation(err, filename):
    message = str(err.args[0]) if err.args else str(err)
    return DeploymentError(message, file=getattr(err, "file_name", None) or filename,
                           line=getattr(err, "line_number", None) or None,
                           element=getattr(err, "id", None) or None)
