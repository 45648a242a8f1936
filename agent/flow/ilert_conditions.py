"""ilert call-flow branch conditions: a parser for ICL, and what a branch means for its node.

ilert writes a branch ``condition`` in ICL, the ilert condition language
(docs.ilert.com, "ICL - ilert condition language"; iLert/docs
``rest-api/icl-ilert-condition-language.md``): paths into the call context
(``context.connectedTarget``), literals, comparisons, ``and`` / ``or`` /
``not`` and parentheses, e.g. ``context.connectedTarget == '-1'``.
:func:`parse` reads one into a small syntax tree (a tokenizer and a
recursive-descent parser) and raises :class:`ConditionError` on anything
else; :func:`outcomes` tells which of a node's outcomes make a condition
true, or raises :class:`ConditionError` saying why that cannot be told.

What a node sets in the call context is published for these node types
(terraform-provider-ilert ``examples/call_flow/main.tf``); the importer
(:mod:`agent.flow.ilert_import`) describes each as a :class:`Variable`:

* ROUTE_CALL, PARALLEL_ROUTE_CALL: ``context.connectedTarget``, ``'-1'``
  when nobody answered (otherwise the target that answered);
* VOICEMAIL: ``context.recordedMessageUrl``, not ``null`` when a message
  was left;
* SUPPORT_HOURS: ``context.supportHoursState``, ``'DURING'`` or
  ``'OUTSIDE'``;
* IVR_MENU: ``context.ivrChoice``, the key pressed (``'1'``).

Comparisons follow ICL: ``==`` is an alias of ``matches`` and compares
strings case-insensitively (``exact_matches`` does not), ``'1' == 1`` is
true, ``nil`` (terraform's examples write ``null``) is the missing value.
A condition is evaluated once per outcome of its node with three-valued
logic (true, false, cannot tell), so ``!=``, ``not`` and ``or`` mean what
they say instead of being matched by words.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Union

__all__ = [
    "ConditionError", "Variable", "Other", "parse", "outcomes", "context_paths",
    "Path", "Literal", "ListValue", "Compare", "Bare", "Not", "And", "Or",
]


class ConditionError(ValueError):
    """A condition that cannot be read, or whose meaning for its node cannot be told."""


# --------------------------------------------------------------------------- tokens

# ICL operators written as words ("not" may also be written before any of them, or as a `not_` prefix).
_WORD_OPS = {
    "matches", "exact_matches", "contains", "exact_contains", "regex", "starts_with", "ends_with",
    "in", "is_in", "contains_any", "starts_with_any", "ends_with_any",
}
_SYMBOL_OPS = ("==", "!=", ">=", "<=", ">", "<")
# Operators whose meaning the importer evaluates; the others are valid ICL but reported.
_EVALUATED = {"==", "!=", "matches", "exact_matches", "in"}
_HINTS = {"&&": "ICL writes `and`", "&": "ICL writes `and`", "||": "ICL writes `or`", "|": "ICL writes `or`",
          "!": "ICL writes `not`", "=": "compare with `==`"}

_TOKEN = re.compile(
    r"""(?P<space>\s+)
      | (?P<str>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")
      | (?P<num>-?\d+(?:\.\d+)?(?![A-Za-z_\d]))
      | (?P<word>[A-Za-z_][A-Za-z0-9_]*|\d+[A-Za-z_][A-Za-z0-9_]*)
      | (?P<op>==|!=|>=|<=|>|<)
      | (?P<punct>[()\[\]{},:.])
    """,
    re.VERBOSE,
)


@dataclass(frozen=True)
class Token:
    kind: str  # str, num, word, op, punct, end
    text: str
    pos: int  # 0-based offset in the condition

    @property
    def value(self) -> Any:
        if self.kind == "str":
            return re.sub(r"\\(.)", r"\1", self.text[1:-1])
        if self.kind == "num":
            return float(self.text) if "." in self.text else int(self.text)
        return self.text


def _tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:
            bad = text[pos:pos + 2] if text[pos:pos + 2] in _HINTS else text[pos]
            if bad[0] in "'\"":
                raise ConditionError(f"column {pos + 1}: a string opened with {bad[0]} is never closed")
            hint = _HINTS.get(bad)
            raise ConditionError(f"column {pos + 1}: `{bad}` is not ICL" + (f" ({hint})" if hint else ""))
        if m.lastgroup != "space":
            tokens.append(Token(m.lastgroup or "", m.group(0), pos))
        pos = m.end()
    tokens.append(Token("end", "", len(text)))
    return tokens


# --------------------------------------------------------------------------- syntax tree


@dataclass(frozen=True)
class Path:
    """A path into the evaluation context, e.g. ``context.ivrChoice`` or ``context.event['a b']``."""

    parts: tuple[Union[str, int], ...]

    def __str__(self) -> str:
        out = str(self.parts[0])
        for part in self.parts[1:]:
            out += f"[{part}]" if isinstance(part, int) else (f".{part}" if re.fullmatch(r"[A-Za-z_]\w*", part) else f"['{part}']")
        return out


@dataclass(frozen=True)
class Literal:
    value: Any  # str, int, float, bool, None (nil), dict (an inline JSON object)
    special: str | None = None  # "now"


@dataclass(frozen=True)
class ListValue:
    items: tuple[Literal, ...]


Operand = Union[Path, Literal, ListValue]


@dataclass(frozen=True)
class Compare:
    left: Operand
    op: str  # "==", "!=", "matches", "in", ... (without `not`)
    negated: bool
    right: Operand


@dataclass(frozen=True)
class Bare:
    """An operand standing alone where a comparison belongs (``true``, ``context.flag``)."""

    operand: Operand


@dataclass(frozen=True)
class Not:
    expr: Expr


@dataclass(frozen=True)
class And:
    items: tuple[Expr, ...]


@dataclass(frozen=True)
class Or:
    items: tuple[Expr, ...]


Expr = Union[Compare, Bare, Not, And, Or]


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = _tokenize(text)
        self.i = 0

    @property
    def tok(self) -> Token:
        return self.tokens[self.i]

    def take(self) -> Token:
        tok = self.tokens[self.i]
        self.i += 1
        return tok

    def is_word(self, *words: str) -> bool:
        return self.tok.kind == "word" and self.tok.text.lower() in words

    def fail(self, what: str, tok: Token | None = None) -> ConditionError:
        tok = tok or self.tok
        found = "the end of the condition" if tok.kind == "end" else f"`{tok.text}`"
        return ConditionError(f"column {tok.pos + 1}: expected {what}, found {found}")

    def expect(self, text: str) -> Token:
        if self.tok.text != text or self.tok.kind not in ("punct", "op"):
            raise self.fail(f"`{text}`")
        return self.take()

    # expr := and ('or' and)* ; and := unary ('and' unary)* ; unary := 'not' unary | atom
    def expr(self) -> Expr:
        items = [self.conjunction()]
        while self.is_word("or"):
            self.take()
            items.append(self.conjunction())
        return items[0] if len(items) == 1 else Or(tuple(items))

    def conjunction(self) -> Expr:
        items = [self.unary()]
        while self.is_word("and"):
            self.take()
            items.append(self.unary())
        return items[0] if len(items) == 1 else And(tuple(items))

    def unary(self) -> Expr:
        if self.is_word("not"):
            self.take()
            return Not(self.unary())
        if self.tok.kind == "punct" and self.tok.text == "(":
            self.take()
            inner = self.expr()
            self.expect(")")
            return inner
        return self.comparison()

    # comparison := operand [ ['not'] OPERATOR operand ]
    def comparison(self) -> Expr:
        left = self.operand()
        negated = False
        if self.is_word("not"):
            self.take()
            negated = True
        op = self.operator()
        if op is None:
            if negated:
                raise self.fail("an operator after `not`")
            return Bare(left)
        if op.startswith("not_"):
            op, negated = op.removeprefix("not_"), not negated
        return Compare(left, op, negated, self.operand())

    def operator(self) -> str | None:
        tok = self.tok
        if tok.kind == "op":
            self.take()
            return tok.text
        if tok.kind == "word":
            word = tok.text.lower()
            if word in _WORD_OPS or (word.startswith("not_") and word.removeprefix("not_") in _WORD_OPS):
                self.take()
                return word
        return None

    def operand(self) -> Operand:
        tok = self.tok
        if tok.kind in ("str", "num"):
            self.take()
            return Literal(tok.value)
        if tok.kind == "punct" and tok.text == "[":
            return self.list_value()
        if tok.kind == "punct" and tok.text == "{":
            return Literal(self.object_value())
        if tok.kind != "word":
            raise self.fail("a value or a path")
        word = tok.text.lower()
        if word in ("and", "or", "not") or word in _WORD_OPS:
            raise self.fail("a value or a path")
        self.take()
        if self.tok.kind == "punct" and self.tok.text in (".", "["):
            return self.path(tok.text)
        if word in ("true", "false"):
            return Literal(word == "true")
        if word in ("nil", "null"):
            return Literal(None)
        if word == "now":
            return Literal(None, special="now")
        return Literal(tok.text)  # ICL: a string without whitespace may go unquoted

    def path(self, root: str) -> Path:
        parts: list[Union[str, int]] = [root]
        while self.tok.kind == "punct" and self.tok.text in (".", "["):
            if self.take().text == ".":
                if self.tok.kind not in ("word", "num"):
                    raise self.fail("a field name after `.`")
                parts.append(self.take().text)
            else:
                if self.tok.kind not in ("str", "num") or not isinstance(self.tok.value, (str, int)):
                    raise self.fail("a quoted field name or an index inside `[ ]`")
                parts.append(self.take().value)
                self.expect("]")
        return Path(tuple(parts))

    def list_value(self) -> ListValue:
        self.expect("[")
        items: list[Literal] = []
        while not (self.tok.kind == "punct" and self.tok.text == "]"):
            item = self.operand()
            if not isinstance(item, Literal):
                raise self.fail("a literal inside `[ ]`")
            items.append(item)
            if self.tok.kind == "punct" and self.tok.text == ",":
                self.take()
            elif not (self.tok.kind == "punct" and self.tok.text == "]"):
                raise self.fail("`,` or `]`")
        self.take()
        return ListValue(tuple(items))

    def object_value(self) -> dict[str, Any]:
        self.expect("{")
        out: dict[str, Any] = {}
        while not (self.tok.kind == "punct" and self.tok.text == "}"):
            if self.tok.kind != "str":
                raise self.fail("a quoted key")
            key = self.take().value
            self.expect(":")
            value = self.operand()
            if not isinstance(value, Literal):
                raise self.fail("a literal value")
            out[key] = value.value
            if self.tok.kind == "punct" and self.tok.text == ",":
                self.take()
            elif not (self.tok.kind == "punct" and self.tok.text == "}"):
                raise self.fail("`,` or `}`")
        self.take()
        return out


def parse(text: str) -> Expr:
    """The syntax tree of an ICL condition; :class:`ConditionError` (with the column) when it is not one."""
    if not text or not text.strip():
        raise ConditionError("the condition is empty")
    parser = _Parser(text)
    try:
        expr = parser.expr()
    except RecursionError:
        raise ConditionError("it is nested too deeply to read") from None
    if parser.tok.kind != "end":
        raise parser.fail("`and`, `or` or the end of the condition")
    return expr


def context_paths(expr: Expr) -> list[Path]:
    """Every path the condition reads, in order."""
    out: list[Path] = []

    def operand(o: Operand) -> None:
        if isinstance(o, Path) and o not in out:
            out.append(o)

    def walk(e: Expr) -> None:
        if isinstance(e, Compare):
            operand(e.left)
            operand(e.right)
        elif isinstance(e, Bare):
            operand(e.operand)
        elif isinstance(e, Not):
            walk(e.expr)
        else:
            for item in e.items:
                walk(item)

    walk(expr)
    return out


# --------------------------------------------------------------------------- meaning


@dataclass(frozen=True)
class Other:
    """Some value that is not ``nil`` and equals none of ``excluded`` (e.g. the id of whoever answered)."""

    excluded: tuple[Any, ...] = ()


_UNKNOWN = object()  # three-valued logic: neither true nor false


@dataclass
class Variable:
    """The context value a node sets, and its value for each of the node's outcomes.

    ``name`` None: the name is not published; any one ``context.<name>`` path is read as it (the
    first one seen is recorded in ``seen``).
    """

    name: str | None
    values: dict[str, Any]  # outcome -> value (str / number / None / Other)
    seen: list[str] = field(default_factory=list)


def _loose_equal(a: Any, b: Any, exact: bool) -> Any:
    """ICL equality of two values (True / False / _UNKNOWN)."""
    if isinstance(a, Other) or isinstance(b, Other):
        other, value = (a, b) if isinstance(a, Other) else (b, a)
        if isinstance(value, Other):
            return _UNKNOWN
        if value is None:
            return False
        if any(_loose_equal(e, value, exact) is True for e in other.excluded):
            return False
        return _UNKNOWN
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, bool) or isinstance(b, bool):
        return str(a).lower() == str(b).lower()
    if isinstance(a, (int, float)) or isinstance(b, (int, float)):
        try:
            return float(a) == float(b)
        except (TypeError, ValueError):
            return False
    if isinstance(a, str) and isinstance(b, str):
        return a == b if exact else a.casefold() == b.casefold()
    return a == b


def _not(v: Any) -> Any:
    return v if v is _UNKNOWN else not v


class _World:
    def __init__(self, variable: Variable, outcome: str, node_type: str) -> None:
        self.variable = variable
        self.outcome = outcome
        self.node_type = node_type

    def value(self, operand: Operand) -> Any:
        if isinstance(operand, ListValue):
            raise ConditionError("a list is compared with `==`; use `in`")
        if isinstance(operand, Literal):
            if operand.special:
                raise ConditionError(f"`{operand.special}` (a time) says nothing about the {self.node_type} node's outcome")
            return operand.value
        return self.read(operand)

    def read(self, path: Path) -> Any:
        name = path.parts[1] if len(path.parts) == 2 and path.parts[0] == "context" else None
        var = self.variable
        if var.name is None and isinstance(name, str):
            if not var.seen:
                var.seen.append(name)
            if name == var.seen[0]:
                return var.values[self.outcome]
            raise ConditionError(f"it reads both `context.{var.seen[0]}` and `{path}`; one branch can test one value")
        if name == var.name:
            return var.values[self.outcome]
        known = f"`context.{var.name}`" if var.name else "a `context.` value"
        if path.parts[0] != "context":
            raise ConditionError(f"`{path}` is not in a call's context (call-flow paths start with `context.`); "
                                 f"the {self.node_type} node sets {known}")
        raise ConditionError(f"`{path}` is not a value the {self.node_type} node sets (it sets {known})")

    def eval(self, expr: Expr) -> Any:
        if isinstance(expr, Or):
            results = [self.eval(e) for e in expr.items]
            return True if True in results else (_UNKNOWN if _UNKNOWN in results else False)
        if isinstance(expr, And):
            results = [self.eval(e) for e in expr.items]
            return False if False in results else (_UNKNOWN if _UNKNOWN in results else True)
        if isinstance(expr, Not):
            return _not(self.eval(expr.expr))
        if isinstance(expr, Bare):
            raise ConditionError("it is a value, not a comparison (write e.g. `context.ivrChoice == '1'`)")
        return self.compare(expr)

    def compare(self, cmp: Compare) -> Any:
        if cmp.op not in _EVALUATED:
            raise ConditionError(f"`{cmp.op}` is ICL, but the importer only reads ==, !=, matches, exact_matches and in")
        left = self.value(cmp.left)
        if cmp.op == "in":
            if not isinstance(cmp.right, ListValue):
                raise ConditionError("`in` needs a list on its right, e.g. ['1', '2']")
            results = [_loose_equal(left, self.value(item), exact=False) for item in cmp.right.items]
            result = True if True in results else (_UNKNOWN if _UNKNOWN in results else False)
        else:
            result = _loose_equal(left, self.value(cmp.right), exact=cmp.op == "exact_matches")
            if cmp.op == "!=":
                result = _not(result)
        return _not(result) if cmp.negated else result


def _shown(value: Any) -> str:
    if isinstance(value, Other):
        return "a value other than " + " and ".join(["null", *(repr(e) for e in value.excluded)])
    return "null" if value is None else repr(value)


def outcomes(expr: Expr, variable: Variable, node_type: str) -> list[str]:
    """The outcomes (keys of ``variable.values``) for which ``expr`` is true.

    Raises :class:`ConditionError` when the condition reads something the node does not set, uses an
    operator the importer does not evaluate, is true for no outcome, or cannot be told true or false
    for some outcome (e.g. ``context.connectedTarget == '42'``: it depends on who answered).
    """
    true: list[str] = []
    for outcome in variable.values:
        try:
            result = _World(variable, outcome, node_type).eval(expr)
        except RecursionError:
            raise ConditionError("it is nested too deeply to read") from None
        if result is _UNKNOWN:
            name = f"context.{variable.name or (variable.seen[0] if variable.seen else '?')}"
            raise ConditionError(f"whether it holds for `{outcome}` depends on what the call brings "
                                 f"({name} is then {_shown(variable.values[outcome])})")
        if result:
            true.append(outcome)
    if not true:
        name = f"context.{variable.name or (variable.seen[0] if variable.seen else '?')}"
        values = ", ".join(f"{_shown(v)} for `{o}`" for o, v in variable.values.items())
        raise ConditionError(f"it is true for none of the node's outcomes ({name} is {values})")
    return true
