"""Service tasks in both dialects, read into one spec class.

- SpiffWorkflow's `spiffworkflow:serviceTaskOperator id="assign_lead"` with `spiffworkflow:parameter`s
  (parsed by SpiffWorkflow itself);
- Camunda Modeler's external tasks: `camunda:type="external" camunda:topic="assign_lead"` with
  `camunda:inputOutput`: each `camunda:inputParameter name="team"` holds a Python expression (a `${...}`
  wrapper is accepted and removed, so `${team}` and `team` mean the same); quote literals: `'sales'`.
  Each `camunda:outputParameter name="agent"` holds an expression over `result` (the operation's
  answer), e.g. `result["agent"]`; without output parameters the answer lands in `<element id>_result`.

A topic (or operator) that is not a built-in operation makes an *external task*: the task stays STARTED
(the instance waits there) with its evaluated input parameters in `internal_data["external_inputs"]`,
until an outside worker completes it (engine/instances/external_tasks.py); snapshot.py lists it.
Which names are built in is asked of the script engine's registry when the task runs, so the parsed spec
(shared by every instance) is never marked. Unknown or missing parameters of a built-in operation and
refused expressions are deploy errors that name the element (`check_operations`, called by
`parsing.parse_files` with the registry it is handed).
"""
import difflib
import json
import keyword

from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.spiff.parser.task_spec import ServiceTaskParser
from SpiffWorkflow.spiff.specs.defaults import ServiceTask

from engine.errors import DeploymentError, ScriptRefused
from engine.workflow import juel
from engine.workflow.sandbox import check_source

CAMUNDA_NS = "http://camunda.org/schema/1.0/bpmn"


def unwrap(text):
    """A parameter's Python: Camunda's `${...}` translated (juel.py), else the text as it is."""
    text = (text or "").strip()
    return juel.to_python(text) if juel.is_juel(text) else text


class OperationServiceTask(ServiceTask):
    """A service task that may also map the answer onto variables (Camunda output parameters)."""

    def __init__(self, wf_spec, name, outputs=None, **kwargs):
        super().__init__(wf_spec, name, **kwargs)
        self.output_mappings = outputs or {}

    def evaluate_params(self, task):
        """A parameter that is just a variable name gets None when the variable is unset: an optional form
        field left empty is not in the task data, and Camunda would hand it on as null."""
        unset = {p["value"].strip(): None for p in self.operation_params.values()
                 if str(p["value"]).strip().isidentifier() and not keyword.iskeyword(p["value"].strip())
                 and p["value"].strip() not in task.data
                 and p["value"].strip() not in task.workflow.script_engine.environment.globals}
        return {name: {"value": task.workflow.script_engine.evaluate(task, param["value"], external_context=unset)
                       if param["value"].strip() not in unset else None, "type": param["type"]}
                for name, param in self.operation_params.items()}

    def is_external(self, task) -> bool:
        operations = getattr(task.workflow.script_engine, "operations", None)
        return operations is None or operations.get(self.operation_name) is None

    def _execute(self, task):
        if self.is_external(task):  # an outside worker does it: wait (STARTED) with the inputs evaluated
            task.internal_data["external_inputs"] = {
                name: param["value"] for name, param in self.evaluate_params(task).items()}
            return None
        result = json.loads(task.workflow.script_engine.call_service(
            task, operation_name=self.operation_name, operation_params=self.evaluate_params(task)))
        if not self.output_mappings:
            task.data[self.result_variable] = result
        for variable, expression in self.output_mappings.items():
            task.data[variable] = task.workflow.script_engine.evaluate(task, expression, external_context={
                "result": result})
        return True


class FollowupServiceTaskParser(ServiceTaskParser):
    def create_task(self):
        for java in ("class", "delegateExpression", "expression"):
            if self.node.get(f"{{{CAMUNDA_NS}}}{java}") is not None:
                raise ValidationException(
                    f"camunda:{java} (Java code) cannot run here: make it an external task (camunda:type=\"external\" "
                    "camunda:topic=\"...\") and move the code into a worker", node=self.node, file_name=self.filename)
        if self.node.get(f"{{{CAMUNDA_NS}}}type") != "external":
            spec = super().create_task()
            spec.priority = 0
            return spec
        topic = (self.node.get(f"{{{CAMUNDA_NS}}}topic") or "").strip()
        if not topic:
            raise ValidationException("an external service task needs camunda:topic (the operation's name)",
                                      node=self.node, file_name=self.filename)
        params, outputs = {}, {}
        for io in self.node.iter(f"{{{CAMUNDA_NS}}}inputParameter", f"{{{CAMUNDA_NS}}}outputParameter"):
            if len(io):
                raise ValidationException(f"parameter '{io.get('name')}': only a plain expression is supported "
                                          "(no camunda:list, camunda:map or camunda:script)",
                                          node=self.node, file_name=self.filename)
            try:
                name, text = io.get("name"), unwrap(io.text)
            except juel.UnsupportedExpression as err:
                raise ValidationException(f"parameter '{io.get('name')}': {err}", node=self.node,
                                          file_name=self.filename) from None
            if io.tag.endswith("inputParameter"):
                params[name] = {"value": text or "None", "type": "any"}
            else:
                outputs[name] = text or "result"
        extensions = self.parse_extensions()
        priority = (self.node.get(f"{{{CAMUNDA_NS}}}taskPriority") or "0").strip()
        spec = self.spec_class(self.spec, self.bpmn_id, operation_name=topic, operation_params=params,
                               result_variable=f"{self.bpmn_id}_result", outputs=outputs,
                               prescript=extensions.get("preScript"), postscript=extensions.get("postScript"),
                               **self.bpmn_attributes)
        spec.priority = int(priority) if priority.lstrip("-").isdigit() else 0
        spec.extension_properties = {p.get("name"): p.get("value") for p in self.node.iter(f"{{{CAMUNDA_NS}}}property")
                                     if p.get("name")}
        return spec


def complete_external(task, variables, local_variables=None):
    """Finish an external task as Camunda does: the worker's `variables` become process variables; its
    `local_variables` live only as long as the task, for the output parameters, which are evaluated over
    both (`result` is the two together)."""
    variables, local_variables = dict(variables or {}), dict(local_variables or {})
    task.data.update(variables)
    scope = {**task.internal_data.get("external_inputs", {}), **variables, **local_variables}
    for variable, expression in (getattr(task.task_spec, "output_mappings", None) or {}).items():
        task.data[variable] = task.workflow.script_engine.evaluate(
            task, expression, external_context={**scope, "result": scope})
    task.internal_data.pop("external_inputs", None)
    task.complete()


def check_operations(bundle, operations):
    """Refuse service tasks that call unknown operations (not in the registry `operations`) or pass
    parameters they do not take."""
    for key, info in bundle.processes.items():
        spec, subprocess_specs = bundle.spec_for(key)
        for process in [spec, *subprocess_specs.values()]:
            for task_spec in process.task_specs.values():
                name = getattr(task_spec, "operation_name", None)
                if name is None:
                    continue
                element = task_spec.bpmn_id
                operation = operations.get(name)
                if operation is None:  # an external task: say so, in case it was meant to be a built-in one
                    close = difflib.get_close_matches(name, list(operations), n=1, cutoff=0.8)
                    hint = f"; did you mean the built-in operation '{close[0]}'?" if close else ""
                    warning = {"file": info.file, "element": element, "rule": "external-task", "category": "info",
                               "message": f"'{name}' is not a built-in operation: the task waits for an external "
                                          f"worker fetching the topic '{name}'{hint}"}
                    if warning not in bundle.warnings:  # a subprocess shared by two processes: once
                        bundle.warnings.append(warning)
                problem = operation.check_params(set(task_spec.operation_params)) if operation else None
                if problem:
                    raise DeploymentError(f"operation '{name}': {problem}", file=info.file, element=element)
                expressions = [p["value"] for p in task_spec.operation_params.values()]
                expressions += list(getattr(task_spec, "output_mappings", {}).values())
                for expression in expressions:
                    try:
                        check_source(str(expression).strip(), "eval")
                    except ScriptRefused as err:
                        raise DeploymentError(f"parameter expression refused: {err}", file=info.file,
                                              element=element) from None
