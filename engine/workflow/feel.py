"""DMN tables as Camunda Modeler writes them: FEEL unary tests and hit policies, fitted to SpiffWorkflow's
DMN engine (whose rules are Python, with `?` standing for the input value).

`prepare_dmn(root)` rewrites a DMN document before SpiffWorkflow parses it:
- input entries written in FEEL become Python over `?`: `"A","B"` -> `? in ('A', 'B')` (as `or`s),
  `>= 100`, `[1..10]`, `]1..10[`, `not("x")`, `-` (any); literals `true`/`false`/`null`;
  an entry that is already Python (`? in (...)`, `'gold'`) is left as it is;
- input expressions and output entries: FEEL paths and literals (`customer.tier`, `true`) as Python;
- a COLLECT table's `aggregation` (SUM, MIN, MAX, COUNT) is carried in its hit policy (`COLLECT SUM`).

`FollowupDMNEngine` then answers every hit policy Camunda Modeler offers: UNIQUE, FIRST, ANY (all
matches must agree), PRIORITY (as FIRST: rules are listed by priority), RULE ORDER and OUTPUT ORDER
(lists, in rule order), COLLECT (lists, or the aggregate); and Camunda's `camunda:resultVariable` with
`camunda:mapDecisionResult` (singleEntry, singleResult, collectEntries, resultList).
"""
import re

from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.dmn.engine.DMNEngine import DMNEngine

from engine.workflow import juel

_COMPARISON = re.compile(r"^(<=|>=|<|>|=|!=)\s*(.+)$", re.S)
_RANGE = re.compile(r"^([\[\]\(])\s*(.+?)\s*\.\.\s*(.+?)\s*([\[\]\)])$", re.S)
_NOT = re.compile(r"^not\s*\((.*)\)$", re.S)
_FEEL_LITERALS = {"true": "True", "false": "False", "null": "None"}


def _split_top(text):
    """Split at commas outside quotes and brackets."""
    parts, depth, quote, current = [], 0, None, ""
    for char in text:
        if quote:
            current += char
            if char == quote:
                quote = None
            continue
        if char in "\"'":
            quote = char
        elif char in "([":
            depth += 1
        elif char in ")]" and depth:
            depth -= 1
        elif char == "," and depth == 0:
            parts.append(current.strip())
            current = ""
            continue
        current += char
    parts.append(current.strip())
    return parts


def value(text):
    """A FEEL endpoint or simple expression (literal, variable, path) as Python."""
    text = text.strip()
    if text in _FEEL_LITERALS:
        return _FEEL_LITERALS[text]
    return juel.expression(text)


def _test(item):
    match = _RANGE.match(item)
    if match and match.group(1) in "[](" and match.group(4) in "[])":
        low, high = value(match.group(2)), value(match.group(3))
        low_op = "<=" if match.group(1) == "[" else "<"
        high_op = "<=" if match.group(4) == "]" else "<"
        return f"({low} {low_op} ? {high_op} {high})"
    match = _COMPARISON.match(item)
    if match:
        op = "==" if match.group(1) == "=" else match.group(1)
        return f"(? {op} {value(match.group(2))})"
    return f"(? == {value(item)})"


def _looks_like_feel(text):
    stripped = text.strip()
    if "?" in stripped.replace('"?"', ""):  # Python over `?` already
        return False
    if _RANGE.match(stripped) or _NOT.match(stripped) or stripped in _FEEL_LITERALS:
        return True
    if len(_split_top(stripped)) > 1:
        return True
    return bool(_COMPARISON.match(stripped)) or bool(re.match(r'^"[^"]*"$|^-?\d+(\.\d+)?$', stripped))


def unary_test(text):
    """Python over `?` for a FEEL unary test; None for 'any input' (`-` or empty); the text itself when it
    is not FEEL (a table written in Python, as SpiffWorkflow reads it)."""
    if text is None or text.strip() in ("", "-"):
        return None
    stripped = text.strip()
    if not _looks_like_feel(stripped):
        return text
    try:
        negated = _NOT.match(stripped)
        body = negated.group(1) if negated else stripped
        tests = " or ".join(_test(item) for item in _split_top(body))
        return f"not ({tests})" if negated else tests
    except juel.UnsupportedExpression as err:
        raise juel.UnsupportedExpression(f"this FEEL test is not supported: {text.strip()!r} ({err})") from None


def _output(text):
    if text is None:
        return text
    stripped = text.strip()
    if stripped in _FEEL_LITERALS:
        return _FEEL_LITERALS[stripped]
    return text


def _input_expression(text):
    if not text or not re.search(r"[A-Za-z_]\w*\.[A-Za-z_]", text):
        return text
    try:
        return juel.expression(text)
    except juel.UnsupportedExpression:
        return text  # Python as it is


def prepare_dmn(root):
    """Rewrite a DMN document in place (see the module docstring). Raises juel.UnsupportedExpression with
    the rule's id in the message."""
    for table in root.iter("{*}decisionTable"):
        policy = (table.get("hitPolicy") or "UNIQUE").upper()
        aggregation = (table.get("aggregation") or "").upper()
        if policy == "COLLECT" and aggregation:
            if aggregation not in ("SUM", "MIN", "MAX", "COUNT"):
                raise juel.UnsupportedExpression(f"the aggregation '{aggregation}' is not supported")
            table.set("hitPolicy", f"COLLECT {aggregation}")
        for expression in table.iter("{*}inputExpression"):
            node = expression.find("{*}text")
            if node is not None:
                node.text = _input_expression(node.text)
        for rule in table.iter("{*}rule"):
            for entry in rule.iter("{*}inputEntry"):
                node = entry.find("{*}text")
                if node is not None:
                    try:
                        translated = unary_test(node.text)
                    except juel.UnsupportedExpression as err:
                        raise juel.UnsupportedExpression(f"rule '{rule.get('id')}': {err}") from None
                    node.text = "-" if translated is None else translated
            for entry in rule.iter("{*}outputEntry"):
                node = entry.find("{*}text")
                if node is not None:
                    node.text = _output(node.text)


_POLICIES = {"UNIQUE", "FIRST", "ANY", "PRIORITY", "RULE ORDER", "OUTPUT ORDER", "COLLECT", "COLLECT SUM",
             "COLLECT MIN", "COLLECT MAX", "COLLECT COUNT"}
_MAPPINGS = {"singleEntry", "singleResult", "collectEntries", "resultList"}


def check_policy(policy):
    if policy not in _POLICIES:
        raise juel.UnsupportedExpression(f"the hit policy '{policy}' is not supported (supported: "
                                         f"{', '.join(sorted(_POLICIES))})")


class FollowupDMNEngine(DMNEngine):
    def __init__(self, decision_table, result_variable=None, mapping=None):
        super().__init__(decision_table)
        self.result_variable = result_variable
        self.mapping = mapping or "resultList"

    @property
    def policy(self):
        return self.decision_table.hit_policy

    def decide(self, task):
        matched = []
        for rule in self.decision_table.rules:
            if self._DMNEngine__check_rule(rule, task):
                matched.append(rule)
                if self.policy in ("UNIQUE", "FIRST", "PRIORITY"):
                    break
        return matched

    def rows(self, task):
        """The matched rules' outputs, as Camunda's result list: [{output name: value}]."""
        rows = [rule.output_as_dict(task) for rule in self.decide(task)]
        if self.policy == "ANY" and any(row != rows[0] for row in rows[1:]):
            raise WorkflowTaskException(f"hit policy ANY: the matching rules of '{self.decision_table.name or self.decision_table.id}' "
                                        f"give different outputs {rows}", task=task)
        return rows

    def result_rows(self, task):
        """Camunda's decision result: one row per matched rule, or the one aggregate row of COLLECT SUM,
        MIN, MAX or COUNT."""
        rows = self.rows(task)
        if not self.policy.startswith("COLLECT "):
            return rows
        aggregation = self.policy.split(" ", 1)[1]
        names = [o.name or o.label for o in self.decision_table.outputs] or list(rows[0] if rows else [])
        name = names[0] if names else "result"
        values = [row.get(name) for row in rows]
        if aggregation == "COUNT":
            total = len(values)
        elif not values:
            total = None
        else:
            total = {"SUM": sum, "MIN": min, "MAX": max}[aggregation](values)
        return [{name: total}]

    def result(self, task):
        rows = self.result_rows(task)
        policy = self.policy
        if policy.startswith("COLLECT ") and not self.result_variable:
            return rows[0]
        if self.result_variable:
            return {self.result_variable: self._mapped(rows, task)}
        if policy in ("COLLECT", "RULE ORDER", "OUTPUT ORDER"):
            merged = {}
            for row in rows:
                for key, item in row.items():
                    merged.setdefault(key, []).append(item)
            return merged
        return rows[0] if rows else {}

    def _mapped(self, rows, task):
        if self.mapping == "resultList":
            return rows
        if self.mapping == "collectEntries":
            return [next(iter(row.values()), None) for row in rows]
        if len(rows) > 1:
            raise WorkflowTaskException(f"mapDecisionResult {self.mapping} expects at most one matching rule, "
                                        f"{len(rows)} matched", task=task)
        if self.mapping == "singleResult":
            return rows[0] if rows else None
        return next(iter(rows[0].values()), None) if rows else None  # singleEntry
