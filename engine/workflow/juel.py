"""Camunda's expression language (JUEL), the common subset, translated to the sandbox's Python at parse
time, so diagrams drawn in Camunda Modeler deploy as written.

Supported inside `${...}` (or `#{...}`): string, number, true/false/null literals; variables; property
access `a.b` and `a['b']` (a missing property is null, as for a map in Camunda); `== != < > <= >=` and
`eq ne lt gt le ge`; `&& || !` and `and or not`; `empty`; `+ - * / % div mod`, unary minus; `c ? a : b`.
Text around or between `${...}` parts makes a string (`Hello ${name}`).

Everything else (method calls on Java objects, `#{bean.method()}`, lambdas, `instanceof`, function
namespaces like `fn:`) raises `UnsupportedExpression`, whose message says what was found: the parser
turns it into a DeploymentError naming the element.
"""
import re

JUEL_MARK = re.compile(r"[$#]\{")


class UnsupportedExpression(ValueError):
    pass


def is_juel(text) -> bool:
    return bool(text) and bool(JUEL_MARK.search(text))


_TOKEN = re.compile(r"""
    (?P<ws>\s+)
  | (?P<number>\d+\.\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?|\d+(?:[eE][+-]?\d+)?)
  | (?P<string>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")
  | (?P<op>==|!=|<=|>=|&&|\|\||[<>!?:.\[\]()+\-*/%,])
  | (?P<name>[A-Za-z_][A-Za-z_0-9]*)
""", re.X)

_WORD_OPS = {"eq": "==", "ne": "!=", "lt": "<", "gt": ">", "le": "<=", "ge": ">=", "and": "&&", "or": "||",
             "not": "!", "div": "/", "mod": "%"}
_KEYWORDS = {"true": "True", "false": "False", "null": "None"}
_REFUSED_WORDS = {"instanceof", "new", "function"}
_PYTHON_WORDS = {"None", "True", "False", "lambda", "import", "class", "def", "is", "in", "if", "else", "for",
                 "while", "return", "yield", "from", "as", "with", "try", "except", "finally", "raise", "del",
                 "global", "nonlocal", "assert", "pass", "break", "continue", "async", "await"}


def _tokens(source):
    position, found = 0, []
    while position < len(source):
        match = _TOKEN.match(source, position)
        if match is None:
            raise UnsupportedExpression(f"unexpected character {source[position]!r}")
        position = match.end()
        kind = match.lastgroup
        if kind == "ws":
            continue
        value = match.group()
        if kind == "name" and value in _WORD_OPS:
            kind, value = "op", _WORD_OPS[value]
        elif kind == "name" and value == "empty":
            kind = "empty"
        found.append((kind, value))
    found.append(("end", ""))
    return found


class _Parser:
    """Precedence climbing over JUEL's grammar, producing Python source."""

    _BINARY = [("||", "or"), ("&&", "and")]
    _COMPARE = {"==", "!=", "<", ">", "<=", ">="}

    def __init__(self, source):
        self.source = source
        self.tokens = _tokens(source)
        self.i = 0

    def peek(self):
        return self.tokens[self.i]

    def take(self, value=None):
        token = self.tokens[self.i]
        if value is not None and token[1] != value:
            raise UnsupportedExpression(f"expected '{value}' but found '{token[1] or 'the end'}'")
        self.i += 1
        return token

    def parse(self):
        result = self.ternary()
        if self.peek()[0] != "end":
            raise UnsupportedExpression(f"unexpected '{self.peek()[1]}'")
        return result

    def ternary(self):
        condition = self.logical(0)
        if self.peek() == ("op", "?"):
            self.take()
            yes = self.ternary()
            self.take(":")
            no = self.ternary()
            return f"(({yes}) if ({condition}) else ({no}))"
        return condition

    def logical(self, level):
        if level == len(self._BINARY):
            return self.comparison()
        symbol, word = self._BINARY[level]
        left = self.logical(level + 1)
        while self.peek() == ("op", symbol):
            self.take()
            left = f"({left} {word} {self.logical(level + 1)})"
        return left

    def comparison(self):
        left = self.additive()
        while self.peek()[0] == "op" and self.peek()[1] in self._COMPARE:
            op = self.take()[1]
            left = f"({left} {op} {self.additive()})"
        return left

    def additive(self):
        left = self.multiplicative()
        while self.peek() in (("op", "+"), ("op", "-")):
            op = self.take()[1]
            left = f"({left} {op} {self.multiplicative()})"
        return left

    def multiplicative(self):
        left = self.unary()
        while self.peek() in (("op", "*"), ("op", "/"), ("op", "%")):
            op = self.take()[1]
            left = f"({left} {op} {self.unary()})"
        return left

    def unary(self):
        kind, value = self.peek()
        if (kind, value) == ("op", "!"):
            self.take()
            return f"(not {self.unary()})"
        if (kind, value) == ("op", "-"):
            self.take()
            return f"(-{self.unary()})"
        if kind == "empty":
            self.take()
            operand = self.unary()
            return f"({operand} is None or {operand} == '' or {operand} == [] or {operand} == {{}})"
        return self.postfix()

    def postfix(self):
        result, plain = self.primary()
        while True:
            kind, value = self.peek()
            if (kind, value) == ("op", "."):
                self.take()
                name_kind, name = self.take()
                if name_kind != "name":
                    raise UnsupportedExpression(f"expected a property name after '.', found '{name}'")
                if self.peek() == ("op", "("):
                    raise UnsupportedExpression(f"method calls such as '{name}(...)' (Java objects and beans) "
                                                "cannot run here")
                result, plain = f"({result} or {{}}).get({name!r})", False
            elif (kind, value) == ("op", "["):
                self.take()
                key = self.ternary()
                self.take("]")
                result, plain = f"({result} or {{}})[{key}]" if key.lstrip("-").isdigit() else \
                    f"({result} or {{}}).get({key})", False
            elif (kind, value) == ("op", "("):
                raise UnsupportedExpression("function and method calls (Java objects, beans, fn: functions) "
                                            "cannot run here")
            else:
                return result

    def primary(self):
        kind, value = self.take()
        if kind == "number":
            return value, True
        if kind == "string":
            body = value[1:-1]
            return repr(re.sub(r"\\(.)", r"\1", body)), True
        if kind == "name":
            if value in _KEYWORDS:
                return _KEYWORDS[value], True
            if value in _REFUSED_WORDS:
                raise UnsupportedExpression(f"'{value}' is not supported")
            if self.peek() == ("op", ":"):
                raise UnsupportedExpression(f"function namespaces such as '{value}:' are not supported")
            if value in _PYTHON_WORDS or value.startswith("__"):
                raise UnsupportedExpression(f"'{value}' cannot be used as a variable name")
            return value, True
        if (kind, value) == ("op", "("):
            inner = self.ternary()
            self.take(")")
            return f"({inner})", True
        raise UnsupportedExpression(f"unexpected '{value or 'end of expression'}'")


def expression(source: str) -> str:
    """The Python of one JUEL expression body (what is inside `${...}`)."""
    source = source.strip()
    if not source:
        raise UnsupportedExpression("the expression is empty")
    return _Parser(source).parse()


def _split(text):
    """Literal text and expression bodies of a JUEL template, in order: [(is_expression, text)]."""
    parts, position = [], 0
    while True:
        match = JUEL_MARK.search(text, position)
        if match is None:
            if position < len(text):
                parts.append((False, text[position:]))
            return parts
        if match.start() > position:
            parts.append((False, text[position:match.start()]))
        depth, quote, i = 1, None, match.end()
        while i < len(text) and depth:
            char = text[i]
            if quote:
                if char == "\\":
                    i += 1
                elif char == quote:
                    quote = None
            elif char in "'\"":
                quote = char
            elif char == "{":
                depth += 1
            elif char == "}":
                depth -= 1
            i += 1
        if depth:
            raise UnsupportedExpression("a '${' is not closed by '}'")
        parts.append((True, text[match.end():i - 1]))
        position = i


def to_python(text: str) -> str:
    """The Python expression of a JUEL text: one `${...}` is that expression; text mixed with `${...}`
    parts is a string made of them."""
    try:
        parts = _split(text.strip())
        if len(parts) == 1 and parts[0][0]:
            return expression(parts[0][1])
        pieces = [f"str({expression(body)})" if is_expression else repr(body) for is_expression, body in parts]
        return " + ".join(pieces) if pieces else "''"
    except UnsupportedExpression as err:
        raise UnsupportedExpression(f"this expression is not supported: {text.strip()!r} ({err})") from None
