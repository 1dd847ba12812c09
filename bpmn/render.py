"""Draws a BPMN file's diagram (its DI) as a PNG, for the docs: `python bpmn/render.py lead_assignment.bpmn
docs/sops/lead_assignment.png`. Needs Pillow (`pip install .[docs]`) and a CJK font (Debian:
fonts-wqy-microhei, or set FOLLOWUP_FONT)."""
import os
import sys
import textwrap

from lxml import etree
from PIL import Image, ImageDraw, ImageFont

BPMN = "{http://www.omg.org/spec/BPMN/20100524/MODEL}"
DI = "{http://www.omg.org/spec/BPMN/20100524/DI}"
DC = "{http://www.omg.org/spec/DD/20100524/DC}"
FONTS = [os.environ.get("FOLLOWUP_FONT", ""), "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
         "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"]
COLOURS = {"userTask": "#e8f1fb", "serviceTask": "#eef7ea", "scriptTask": "#f6f0e6", "businessRuleTask": "#f3eafa",
           "subProcess": "#ffffff"}


def _font(size):
    for path in FONTS:
        if path and os.path.exists(path):
            return ImageFont.truetype(path, size)
    return ImageFont.load_default()


def render(bpmn_path, png_path, scale=1.0):
    root = etree.parse(bpmn_path).getroot()
    elements = {e.get("id"): e for e in root.iter() if isinstance(e.tag, str) and e.get("id")}
    shapes = [(s.get("bpmnElement"), s.find(f"{DC}Bounds")) for s in root.iter(f"{DI}BPMNShape")]
    edges = [(e.get("bpmnElement"), [(float(w.get("x")), float(w.get("y"))) for w in e.findall(f"{{*}}waypoint")])
             for e in root.iter(f"{DI}BPMNEdge")]
    boxes = {eid: tuple(float(b.get(k)) for k in ("x", "y", "width", "height")) for eid, b in shapes}
    right = max(x + w for x, y, w, h in boxes.values()) + 40
    bottom = max(y + h for x, y, w, h in boxes.values()) + 40
    image = Image.new("RGB", (int(right * scale), int(bottom * scale)), "white")
    draw = ImageDraw.Draw(image)
    small, label_font = _font(int(11 * scale)), _font(int(13 * scale))

    def s(*values):
        return [v * scale for v in values]

    ordered = sorted(boxes.items(), key=lambda kv: {"participant": 0, "lane": 1, "subProcess": 2}.get(
        etree.QName(elements[kv[0]]).localname, 3))
    for eid, (x, y, w, h) in ordered:
        kind = etree.QName(elements[eid]).localname
        name = elements[eid].get("name") or ""
        if kind in ("participant", "lane"):
            draw.rectangle(s(x, y, x + w, y + h), outline="#555555", width=2 if kind == "participant" else 1)
            if kind == "lane":
                draw.text(s(x + 8, y + 6), name, fill="#333333", font=label_font)
        elif kind in ("startEvent", "endEvent", "intermediateCatchEvent", "boundaryEvent"):
            width = 4 if kind == "endEvent" else 2
            draw.ellipse(s(x, y, x + w, y + h), fill="white", outline="#222222", width=width)
            if kind in ("intermediateCatchEvent", "boundaryEvent"):
                draw.ellipse(s(x + 4, y + 4, x + w - 4, y + h - 4), outline="#222222", width=1)
            for i, line in enumerate(textwrap.wrap(name, 8)[:2]):
                draw.text(s(x + w / 2, y + h + 4 + i * 13), line, fill="#333333", font=small, anchor="ma")
        elif kind.endswith("Gateway"):
            cx, cy = x + w / 2, y + h / 2
            draw.polygon(s(cx, y, x + w, cy, cx, y + h, x, cy), fill="#fffbe6", outline="#222222")
            draw.text(s(cx, cy), "X" if kind == "exclusiveGateway" else "+", fill="#222222", font=label_font, anchor="mm")
            if name:
                draw.text(s(cx, y - 6), name, fill="#333333", font=small, anchor="md")
        else:
            draw.rounded_rectangle(s(x, y, x + w, y + h), radius=10 * scale, fill=COLOURS.get(kind, "white"),
                                   outline="#222222", width=2)
            if kind == "subProcess":
                draw.text(s(x + 8, y + 6), name, fill="#333333", font=label_font)
                continue
            lines = textwrap.wrap(name, 7)[:3]
            for i, line in enumerate(lines):
                draw.text(s(x + w / 2, y + h / 2 + (i - (len(lines) - 1) / 2) * 15), line, fill="#111111",
                          font=label_font, anchor="mm")
    for eid, points in edges:
        flat = [c * scale for p in points for c in p]
        draw.line(flat, fill="#333333", width=max(1, int(1.5 * scale)))
        (x1, y1), (x2, y2) = points[-2], points[-1]
        dx, dy = x2 - x1, y2 - y1
        length = max((dx * dx + dy * dy) ** 0.5, 1)
        ux, uy = dx / length, dy / length
        draw.polygon(s(x2, y2, x2 - 9 * ux + 4 * uy, y2 - 9 * uy - 4 * ux, x2 - 9 * ux - 4 * uy, y2 - 9 * uy + 4 * ux),
                     fill="#333333")
        name = elements[eid].get("name")
        if name:
            mx, my = points[len(points) // 2 - 1] if len(points) > 2 else points[0]
            draw.text(s(mx + 4, my - 14), name, fill="#1a5fb4", font=small)
    image.save(png_path)
    return image.size


if __name__ == "__main__":
    print(render(sys.argv[1], sys.argv[2], float(sys.argv[3]) if len(sys.argv) > 3 else 1.0))
