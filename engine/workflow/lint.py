"""bpmnlint at deploy, through `bpmn-io` (a pure-Python port of bpmn.io's bpmn-moddle and bpmnlint).

- `bpmnlint:correctness` rules of category error refuse the file (a DeploymentError naming the rule and
  the element);
- every other finding of `bpmnlint:recommended` and `bpmnlint:correctness` comes back as a warning
  (`{"file", "element", "rule", "message", "category"}`) in the deploy answer.

bpmn-moddle reads a node's flows from its `<incoming>`/`<outgoing>` children, which hand-written and
generated BPMN often leave out (the flows' sourceRef/targetRef say it all); a copy of the document gets
them before linting, so rules such as event-based-gateway see the flows SpiffWorkflow sees. A linter
failure (a bug in it, an element it does not know) never refuses a deployment: it is logged.
"""
import copy
import logging

from lxml import etree

log = logging.getLogger(__name__)

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
def _linter(config):
    """A fresh linter per run: bpmnlint's rules keep state in their closures (no-duplicate-sequence-flows
    remembers the flows it saw), so a linter reused for a second file reports the first file's flows."""
    from bpmn_io.lint import Linter
    from bpmn_io.lint.resolver.node_resolver import NodeResolver

    return Linter(config={"extends": config}, resolver=NodeResolver())


def _with_flow_refs(root):
    """A copy of the document whose flow nodes list their incoming and outgoing flows."""
    root = copy.deepcopy(root)
    by_id = {node.get("id"): node for node in root.iter() if isinstance(node.tag, str) and node.get("id")}
    for flow in root.iter(f"{{{BPMN_NS}}}sequenceFlow"):
        for end, tag in (("sourceRef", "outgoing"), ("targetRef", "incoming")):
            node = by_id.get(flow.get(end))
            if node is None:
                continue
            if flow.get("id") in {child.text.strip() for child in node.findall(f"{{{BPMN_NS}}}{tag}") if child.text}:
                continue
            ref = etree.Element(f"{{{BPMN_NS}}}{tag}")
            ref.text = flow.get("id")
            # after the extension elements and other refs, before anything else (the schema's order)
            position = 0
            for index, child in enumerate(node):
                if isinstance(child.tag, str) and etree.QName(child).localname in ("documentation", "extensionElements",
                                                                                     "incoming", "outgoing"):
                    position = index + 1
            node.insert(position, ref)
    return root


def lint(root, filename):
    """(errors, warnings) of a parsed BPMN document: lists of finding dicts."""
    try:
        from bpmn_io import create_moddle

        xml = etree.tostring(_with_flow_refs(root), encoding="unicode")
        parsed = create_moddle().from_xml(xml).root_element
        correctness = _linter("bpmnlint:correctness").lint(parsed)
        recommended = _linter("bpmnlint:recommended").lint(parsed)
    except Exception:  # noqa: BLE001 - the linter's trouble is not the designer's
        log.warning("bpmnlint could not check %s", filename, exc_info=True)
        return [], []
    errors, warnings, seen = [], [], set()
    for source, reports in (("correctness", correctness), ("recommended", recommended)):
        for rule, findings in reports.items():
            for finding in findings:
                key = (rule, finding.get("id"), finding.get("message"))
                if key in seen:
                    continue
                seen.add(key)
                item = {"file": filename, "element": finding.get("id"), "rule": rule,
                        "message": finding.get("message"), "category": finding.get("category")}
                (errors if source == "correctness" and finding.get("category") == "error" else warnings).append(item)
    return errors, warnings
