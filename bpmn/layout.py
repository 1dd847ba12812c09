"""A tiny BPMN writer with automatic diagram interchange (DI), used by `build.py` to generate the SOP
files. Each node is placed on a grid (column, lane, row); shapes and edge waypoints follow from that,
so every flow node has a BPMNShape and every sequence flow a BPMNEdge with waypoints, and the files
open cleanly in Camunda Modeler and bpmn.io. Once a designer has edited a file in a modeler, edit that
file instead of regenerating it.
"""
from dataclasses import dataclass, field
from xml.sax.saxutils import escape, quoteattr

SIZES = {"event": (36, 36), "gateway": (50, 50), "task": (100, 80)}
COL, LANE_H, ROW_H, X0, LANE_X = 150, 170, 120, 160, 80
EVENTS = {"startEvent", "endEvent", "intermediateCatchEvent", "intermediateThrowEvent", "boundaryEvent"}
GATEWAYS = {"exclusiveGateway", "parallelGateway", "eventBasedGateway", "inclusiveGateway"}
NS = ('xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
      'xmlns:bpmndi="http://www.omg.org/spec/BPMN/20100524/DI" xmlns:dc="http://www.omg.org/spec/DD/20100524/DC" '
      'xmlns:di="http://www.omg.org/spec/DD/20100524/DI" xmlns:camunda="http://camunda.org/schema/1.0/bpmn" '
      'xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" '
      'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"')


@dataclass
class Node:
    id: str
    kind: str
    name: str
    col: float
    lane: int
    row: float
    body: str
    attrs: dict
    parent: str | None = None
    attached: str | None = None
    x: float = 0
    y: float = 0
    w: float = 0
    h: float = 0

    @property
    def cx(self):
        return self.x + self.w / 2

    @property
    def cy(self):
        return self.y + self.h / 2


@dataclass
class Flow:
    id: str
    source: str
    target: str
    name: str | None
    condition: str | None
    parent: str | None


@dataclass
class Diagram:
    process_id: str
    name: str
    lanes: list = field(default_factory=list)      # [(lane id, name)]
    messages: list = field(default_factory=list)   # [(message id, name)]
    documentation: str = ""
    nodes: dict = field(default_factory=dict)
    flows: list = field(default_factory=list)
    _parent: str | None = None

    # ---- building ---------------------------------------------------------------------------------
    def add(self, kind, id, name="", col=0, lane=0, row=0, body="", **attrs):
        self.nodes[id] = Node(id, kind, name, col, lane, row, body, attrs, parent=self._parent)
        return id

    def boundary(self, id, attached, name, body, cancel=True, offset=0.7):
        attrs = {"attachedToRef": attached}
        if not cancel:
            attrs["cancelActivity"] = "false"
        host = self.nodes[attached]
        node = Node(id, "boundaryEvent", name, host.col, host.lane, host.row, body, attrs, parent=host.parent,
                    attached=attached)
        node.offset = offset
        self.nodes[id] = node
        return id

    def flow(self, source, target, name=None, condition=None, id=None):
        flow_id = id or f"Flow_{source}_{target}"
        parent = self.nodes[source].parent
        self.flows.append(Flow(flow_id, source, target, name, condition, parent))
        return flow_id

    def chain(self, *ids):
        for a, b in zip(ids, ids[1:]):
            self.flow(a, b)

    def subprocess(self, id, name, **attrs):
        """Use as `with d.subprocess(...)`: nodes added inside belong to it."""
        self.add("subProcess", id, name, **attrs)
        diagram = self

        class _Scope:
            def __enter__(self):
                diagram._parent = id

            def __exit__(self, *exc):
                diagram._parent = None
        return _Scope()

    # ---- layout -----------------------------------------------------------------------------------
    def _place(self):
        rows_per_lane = {}
        for n in self.nodes.values():
            if n.kind != "subProcess":
                rows_per_lane[n.lane] = max(rows_per_lane.get(n.lane, 0), n.row)
        self._lane_tops, top = [], 60
        for index in range(max(len(self.lanes), 1)):
            self._lane_tops.append(top)
            top += LANE_H + ROW_H * rows_per_lane.get(index, 0)
        self._bottom = top
        for n in self.nodes.values():
            if n.kind == "subProcess" or n.kind == "boundaryEvent":
                continue
            size = "event" if n.kind in EVENTS else "gateway" if n.kind in GATEWAYS else "task"
            n.w, n.h = SIZES[size]
            cx = X0 + n.col * COL
            cy = self._lane_tops[n.lane] + LANE_H / 2 + n.row * ROW_H
            n.x, n.y = cx - n.w / 2, cy - n.h / 2
        for n in self.nodes.values():
            if n.kind == "subProcess":
                kids = [k for k in self.nodes.values() if k.parent == n.id and k.kind != "boundaryEvent"]
                n.x = min(k.x for k in kids) - 40
                n.y = min(k.y for k in kids) - 40
                n.w = max(k.x + k.w for k in kids) + 40 - n.x
                n.h = max(k.y + k.h for k in kids) + 40 - n.y
        for n in self.nodes.values():
            if n.kind == "boundaryEvent":
                host = self.nodes[n.attached]
                n.w = n.h = 36
                n.x = host.x + host.w * n.offset - 18
                n.y = host.y + host.h - 18

    def _waypoints(self, flow):
        s, t = self.nodes[flow.source], self.nodes[flow.target]
        if s.kind == "boundaryEvent":
            start = (s.cx, s.y + s.h)
            if t.cy > start[1]:
                return [start, (s.cx, t.cy), (t.x, t.cy)] if t.x > s.cx else [start, (s.cx, t.y - 20), (t.cx, t.y - 20), (t.cx, t.y)]
            low = max(s.y + s.h, t.y + t.h) + 30
            return [start, (s.cx, low), (t.cx, low), (t.cx, t.y + t.h)]
        if t.x >= s.x + s.w:  # forwards
            start, end = (s.x + s.w, s.cy), (t.x, t.cy)
            if abs(s.cy - t.cy) < 1:
                return [start, end]
            if s.kind in GATEWAYS:  # leave a gateway from its top or bottom corner
                corner = (s.cx, s.y if t.cy < s.cy else s.y + s.h)
                return [corner, (s.cx, t.cy), end]
            mid = (start[0] + end[0]) / 2
            return [start, (mid, s.cy), (mid, t.cy), end]
        if abs(s.cx - t.cx) < 1:  # same column
            return [(s.cx, s.y + s.h), (t.cx, t.y)] if t.cy > s.cy else [(s.cx, s.y), (t.cx, t.y + t.h)]
        low = max(s.y + s.h, t.y + t.h) + 45  # backwards: loop below both
        return [(s.cx, s.y + s.h), (s.cx, low), (t.cx, low), (t.cx, t.y + t.h)]

    # ---- writing ----------------------------------------------------------------------------------
    def _element(self, n, children):
        attrs = {"id": n.id, **({"name": n.name} if n.name else {}), **n.attrs}
        text = " ".join(f"{k}={quoteattr(str(v))}" for k, v in attrs.items())
        inner = n.body + "".join(children)
        return f"<bpmn:{n.kind} {text}>{inner}</bpmn:{n.kind}>" if inner else f"<bpmn:{n.kind} {text} />"

    def _flow_xml(self, f):
        name = f" name={quoteattr(f.name)}" if f.name else ""
        head = f'<bpmn:sequenceFlow id="{f.id}"{name} sourceRef="{f.source}" targetRef="{f.target}"'
        if f.condition is None:
            return head + " />"
        return (head + f'><bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">{escape(f.condition)}'
                       "</bpmn:conditionExpression></bpmn:sequenceFlow>")

    def _content(self, parent):
        parts = []
        for n in self.nodes.values():
            if n.parent == parent:
                parts.append(self._element(n, self._content(n.id) if n.kind == "subProcess" else []))
        parts += [self._flow_xml(f) for f in self.flows if f.parent == parent]
        return parts

    def xml(self) -> str:
        self._place()
        out = ['<?xml version="1.0" encoding="UTF-8"?>',
               f'<bpmn:definitions {NS} id="Definitions_{self.process_id}" '
               'targetNamespace="http://followup.example/sop" exporter="followup bpmn/build.py" exporterVersion="1">']
        for mid, mname in self.messages:
            out.append(f'  <bpmn:message id="{mid}" name={quoteattr(mname)} />')
        collab = f"Collaboration_{self.process_id}"
        participant = f"Participant_{self.process_id}"
        if self.lanes:
            out.append(f'  <bpmn:collaboration id="{collab}"><bpmn:participant id="{participant}" '
                       f'name={quoteattr(self.name)} processRef="{self.process_id}" /></bpmn:collaboration>')
        out.append(f'  <bpmn:process id="{self.process_id}" name={quoteattr(self.name)} isExecutable="true">')
        if self.documentation:
            out.append(f"    <bpmn:documentation>{escape(self.documentation)}</bpmn:documentation>")
        if self.lanes:
            out.append(f'    <bpmn:laneSet id="LaneSet_{self.process_id}">')
            for index, (lane_id, lane_name) in enumerate(self.lanes):
                refs = "".join(f"<bpmn:flowNodeRef>{n.id}</bpmn:flowNodeRef>" for n in self.nodes.values()
                               if n.lane == index and n.parent is None)
                out.append(f'      <bpmn:lane id="{lane_id}" name={quoteattr(lane_name)}>{refs}</bpmn:lane>')
            out.append("    </bpmn:laneSet>")
        out += ["    " + p for p in self._content(None)]
        out.append("  </bpmn:process>")
        out.append(f'  <bpmndi:BPMNDiagram id="Diagram_{self.process_id}">')
        out.append(f'    <bpmndi:BPMNPlane id="Plane_{self.process_id}" '
                   f'bpmnElement="{collab if self.lanes else self.process_id}">')
        right = max(n.x + n.w for n in self.nodes.values()) + 60
        if self.lanes:
            out.append(_shape(participant, LANE_X - 30, 60, right - LANE_X + 30, self._bottom - 60, horizontal=True))
            for index, (lane_id, _) in enumerate(self.lanes):
                bottom = self._lane_tops[index + 1] if index + 1 < len(self.lanes) else self._bottom
                top = self._lane_tops[index]
                out.append(_shape(lane_id, LANE_X, top, right - LANE_X, bottom - top, horizontal=True))
        for n in sorted(self.nodes.values(), key=lambda n: n.kind == "boundaryEvent"):
            out.append(_shape(n.id, n.x, n.y, n.w, n.h, expanded=n.kind == "subProcess"))
        for f in self.flows:
            points = "".join(f'<di:waypoint x="{x:.0f}" y="{y:.0f}" />' for x, y in self._waypoints(f))
            out.append(f'      <bpmndi:BPMNEdge id="{f.id}_di" bpmnElement="{f.id}">{points}</bpmndi:BPMNEdge>')
        out += ["    </bpmndi:BPMNPlane>", "  </bpmndi:BPMNDiagram>", "</bpmn:definitions>", ""]
        return "\n".join(out)


def _shape(element, x, y, w, h, horizontal=False, expanded=False):
    extra = ' isHorizontal="true"' if horizontal else ' isExpanded="true"' if expanded else ""
    return (f'      <bpmndi:BPMNShape id="{element}_di" bpmnElement="{element}"{extra}>'
            f'<dc:Bounds x="{x:.0f}" y="{y:.0f}" width="{w:.0f}" height="{h:.0f}" /></bpmndi:BPMNShape>')


# ---- element bodies ------------------------------------------------------------------------------
def timer(kind, expression):
    """kind: timeDuration, timeDate or timeCycle; a bare ISO literal (PT2H) or an expression."""
    return f"<bpmn:timerEventDefinition><bpmn:{kind}>{escape(expression)}</bpmn:{kind}></bpmn:timerEventDefinition>"


def message(ref):
    return f'<bpmn:messageEventDefinition messageRef="{ref}" />'


def script(text):
    return f"<bpmn:script>{escape(text)}</bpmn:script>"


def external(topic, inputs=None, outputs=None):
    """Camunda Modeler's external service task: returns (body, attrs) for `Diagram.add`."""
    params = "".join(f"<camunda:inputParameter name={quoteattr(k)}>{escape(v)}</camunda:inputParameter>"
                     for k, v in (inputs or {}).items())
    params += "".join(f"<camunda:outputParameter name={quoteattr(k)}>{escape(v)}</camunda:outputParameter>"
                      for k, v in (outputs or {}).items())
    body = f"<bpmn:extensionElements><camunda:inputOutput>{params}</camunda:inputOutput></bpmn:extensionElements>" \
        if params else ""
    return body, {"camunda:type": "external", "camunda:topic": topic}


def spiff_operator(name, params, result):
    """SpiffWorkflow's (and spiff-arena's modeler's) service task: body for `Diagram.add`."""
    items = "".join(f'<spiffworkflow:parameter id="{k}" type="any" value={quoteattr(v)} />' for k, v in params.items())
    return (f'<bpmn:extensionElements><spiffworkflow:serviceTaskOperator id="{name}" resultVariable="{result}">'
            f"<spiffworkflow:parameters>{items}</spiffworkflow:parameters></spiffworkflow:serviceTaskOperator>"
            "</bpmn:extensionElements>")


def form(*fields):
    """camunda:formData; each field: (id, label, type[, options]) with options a dict: required, min, max,
    values [(id, name)], default."""
    parts = []
    for f in fields:
        fid, label, kind = f[:3]
        opts = f[3] if len(f) > 3 else {}
        constraints = ""
        if opts.get("required"):
            constraints += '<camunda:constraint name="required" />'
        if opts.get("user"):
            constraints += '<camunda:constraint name="user" />'
        for key in ("min", "max", "maxlength"):
            if key in opts:
                constraints += f'<camunda:constraint name="{key}" config="{opts[key]}" />'
        inner = f"<camunda:validation>{constraints}</camunda:validation>" if constraints else ""
        inner += "".join(f"<camunda:value id={quoteattr(v)} name={quoteattr(n)} />" for v, n in opts.get("values", []))
        default = f" defaultValue={quoteattr(str(opts['default']))}" if "default" in opts else ""
        parts.append(f"<camunda:formField id={quoteattr(fid)} label={quoteattr(label)} type={quoteattr(kind)}{default}>"
                     f"{inner}</camunda:formField>")
    return f"<bpmn:extensionElements><camunda:formData>{''.join(parts)}</camunda:formData></bpmn:extensionElements>"
