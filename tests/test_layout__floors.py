"""The floor rule of the code (engine/__init__.py), read off the imports with `ast`: no import circles,
and no module importing a floor above its own. A new import that breaks it fails here, naming it."""
import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("engine", "api", "workers", "followup")
KERNEL = {f"engine.{name}" for name in
          ("clock", "config", "errors", "fastjson", "calendar", "holidays_cn", "context", "status")}

# floor -> the floors it may import (besides its own)
MAY_IMPORT = {
    "kernel": {"kernel"},
    "storage": {"kernel"},
    "workflow": {"kernel"},
    "identity": {"kernel", "storage"},
    "customers": {"kernel", "storage"},
    "sop": {"kernel", "storage", "customers"},
    "instances": {"kernel", "storage", "workflow", "identity"},
    "background": {"kernel", "storage", "workflow", "identity", "instances"},
    "root": {"kernel", "storage", "workflow", "identity", "customers", "sop", "instances", "background"},
    "workers": {"kernel", "workflow", "identity", "customers", "sop", "instances", "background", "root"},
    "api": {"kernel", "workflow", "identity", "customers", "sop", "instances", "background", "root"},
    "followup": {"kernel", "storage", "workflow", "identity", "customers", "sop", "instances", "background",
                 "root", "api", "workers"},
}


def floor_of(module):
    if module in KERNEL:
        return "kernel"
    parts = module.split(".")
    if parts[0] != "engine":
        return parts[0]
    if module in ("engine.identity", "engine.access"):
        return "identity"
    if module in ("engine.runtime", "engine.tables", "engine"):
        return "root"
    return parts[1]


def modules():
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            if "migrations" in path.parts:  # Alembic's env.py reads engine.tables: the one sanctioned way up
                continue
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            is_package = parts[-1] == "__init__"
            if is_package:
                parts = parts[:-1]
            found[".".join(parts)] = (path, is_package)
    return found


def imports_of(name, path, is_package, known):
    """The project modules `name` imports, anywhere in the file (imports inside functions count too)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = name.split(".") if is_package else name.split(".")[:-1]
                anchor = anchor[:len(anchor) - node.level + 1]
                base = ".".join(anchor + ([node.module] if node.module else []))
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base for alias in node.names]
        else:
            continue
        for target in targets:
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


def graph():
    known = modules()
    return {name: imports_of(name, path, is_package, known) for name, (path, is_package) in known.items()}


def test_no_module_imports_a_floor_above_its_own():
    broken = []
    for module, targets in graph().items():
        own = floor_of(module)
        for target in targets:
            theirs = floor_of(target)
            if theirs != own and theirs not in MAY_IMPORT[own]:
                broken.append(f"{module} ({own}) imports {target} ({theirs})")
    assert broken == []


def test_there_are_no_import_circles():
    edges = graph()
    # A package's __init__ importing its own modules is how a package shows its face, not a circle.
    edges = {m: {t for t in ts if not (m != "engine" and t.startswith(m + "."))} for m, ts in edges.items()}
    circles, state = [], {}

    def visit(module, path):
        state[module] = "open"
        for target in sorted(edges.get(module, ())):
            if state.get(target) == "open":
                circles.append(" -> ".join(path[path.index(target):] + [target]))
            elif target not in state:
                visit(target, path + [target])
        state[module] = "done"

    for module in sorted(edges):
        if module not in state:
            visit(module, [module])
    assert circles == []


def test_the_rule_is_checked_against_a_known_bad_import():
    """The checker itself sees an upward import (so a passing run means something)."""
    assert floor_of("engine.workflow.state") == "workflow" and "instances" not in MAY_IMPORT["workflow"]
    assert floor_of("engine.storage.schema") not in MAY_IMPORT["api"]
