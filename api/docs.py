"""A self-contained HTML page rendered from the OpenAPI document: every operation with its parameters,
request body and responses, and every schema with its fields. No JavaScript and no CDN, so it works on
an air-gapped server."""
from html import escape

_STYLE = """
body{font:15px/1.5 system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}
h2{border-bottom:1px solid #ccc;margin-top:2em} h3{margin:1.4em 0 .3em}
.op{border:1px solid #ddd;border-radius:6px;padding:.6em 1em;margin:1em 0}
.m{display:inline-block;min-width:4.5em;font-weight:bold;font-family:monospace}
.GET{color:#0a6}.POST{color:#06c}.PATCH{color:#c60}.DELETE{color:#c00}.PUT{color:#a0a}
code,.path{font-family:monospace} table{border-collapse:collapse;margin:.4em 0}
td,th{border:1px solid #ddd;padding:.2em .6em;text-align:left;vertical-align:top} .muted{color:#777}
"""


def _type(schema) -> str:
    if not isinstance(schema, dict):
        return ""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        return f'<a href="#schema-{escape(name)}">{escape(name)}</a>'
    if "allOf" in schema:
        return " & ".join(_type(s) for s in schema["allOf"])
    kind = schema.get("type", "object")
    if isinstance(kind, list):
        kind = " | ".join(kind)
    if kind == "array":
        return f"array of {_type(schema.get('items', {}))}"
    extra = []
    if schema.get("enum"):
        extra.append("one of " + ", ".join(escape(str(v)) for v in schema["enum"] if v is not None))
    if schema.get("format"):
        extra.append(escape(schema["format"]))
    return escape(str(kind)) + (f' <span class="muted">({"; ".join(extra)})</span>' if extra else "")


def _content_schema(content: dict):
    for media, body in (content or {}).items():
        return media, body.get("schema", {})
    return None, None


def _operation(path, method, op, components) -> str:
    out = [f'<div class="op" id="{escape(op.get("operationId", method + path))}">',
           f'<span class="m {method.upper()}">{method.upper()}</span> <span class="path">{escape(path)}</span>']
    if op.get("summary"):
        out.append(f"<p><b>{escape(op['summary'])}</b></p>")
    if op.get("description"):
        out.append(f"<p>{escape(op['description'])}</p>")
    if op.get("security") == []:
        out.append('<p class="muted">No token needed.</p>')
    params = op.get("parameters", [])
    if params:
        out.append("<table><tr><th>Parameter</th><th>In</th><th>Type</th><th>Description</th></tr>")
        for p in params:
            req = " (required)" if p.get("required") else ""
            out.append(f"<tr><td><code>{escape(p['name'])}</code>{req}</td><td>{escape(p['in'])}</td>"
                       f"<td>{_type(p.get('schema', {}))}</td><td>{escape(p.get('description', ''))}</td></tr>")
        out.append("</table>")
    if "requestBody" in op:
        media, schema = _content_schema(op["requestBody"].get("content"))
        out.append(f"<p>Request body (<code>{escape(media or '')}</code>): {_type(schema)}</p>")
    out.append("<table><tr><th>Status</th><th>Meaning</th><th>Body</th></tr>")
    for status, response in op.get("responses", {}).items():
        if "$ref" in response:
            response = components.get("responses", {}).get(response["$ref"].rsplit("/", 1)[-1], {})
        media, schema = _content_schema(response.get("content"))
        body = f"{_type(schema)} <code>{escape(media)}</code>" if media else ""
        out.append(f"<tr><td>{escape(str(status))}</td><td>{escape(response.get('description', ''))}</td>"
                   f"<td>{body}</td></tr>")
    out.append("</table></div>")
    return "\n".join(out)


def _schema(name, schema) -> str:
    out = [f'<h3 id="schema-{escape(name)}">{escape(name)}</h3><table>'
           "<tr><th>Field</th><th>Type</th><th>Description</th></tr>"]
    required = set(schema.get("required", []))
    for field, spec in schema.get("properties", {}).items():
        flags = " (required)" if field in required else ""
        if spec.get("nullable"):
            flags += " (nullable)"
        out.append(f"<tr><td><code>{escape(field)}</code>{flags}</td><td>{_type(spec)}</td>"
                   f"<td>{escape(spec.get('description', ''))}</td></tr>")
    out.append("</table>")
    return "\n".join(out)


def render_docs(spec: dict) -> str:
    info = spec.get("info", {})
    components = spec.get("components", {})
    by_tag: dict[str, list] = {}
    for path, item in spec.get("paths", {}).items():
        for method, op in item.items():
            if method in ("get", "post", "put", "patch", "delete"):
                by_tag.setdefault((op.get("tags") or ["other"])[0], []).append((path, method, op))
    tags = {t["name"]: t.get("description", "") for t in spec.get("tags", [])}
    body = [f"<h1>{escape(info.get('title', 'API'))} <small class='muted'>{escape(info.get('version', ''))}</small></h1>",
            f"<p>{escape(info.get('description', ''))}</p>",
            '<p>Machine-readable: <a href="/api/openapi.json">/api/openapi.json</a> (OpenAPI 3). Every call except '
            "the ones marked otherwise needs <code>Authorization: Bearer &lt;token&gt;</code>.</p><ul>"]
    body += [f'<li><a href="#tag-{escape(t)}">{escape(t)}</a> {escape(tags.get(t, ""))}</li>' for t in by_tag]
    body.append('<li><a href="#schemas">Schemas</a></li></ul>')
    for tag, ops in by_tag.items():
        body.append(f'<h2 id="tag-{escape(tag)}">{escape(tag)}</h2><p>{escape(tags.get(tag, ""))}</p>')
        body += [_operation(path, method, op, components) for path, method, op in ops]
    body.append('<h2 id="schemas">Schemas</h2>')
    body += [_schema(name, schema) for name, schema in sorted(components.get("schemas", {}).items())]
    return ("<!doctype html><html lang='en'><head><meta charset='utf-8'><title>"
            f"{escape(info.get('title', 'API'))} reference</title><style>{_STYLE}</style></head><body>"
            + "\n".join(body) + "</body></html>")
