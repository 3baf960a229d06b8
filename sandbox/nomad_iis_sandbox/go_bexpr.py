"""Nomad's `?filter=` expressions: a faithful subset of HashiCorp's go-bexpr, the boolean expression
language of Nomad's list endpoints (https://developer.hashicorp.com/nomad/api-docs#filtering).

Upstream: github.com/hashicorp/go-bexpr `grammar/grammar.peg` (the PEG, compiled with pigeon),
`evaluate.go` (matching) and github.com/mitchellh/pointerstructure `get.go` (selector lookup); Nomad
runs it in `nomad/state/paginator/paginator.go`: one evaluator per request (`bexpr.CreateEvaluator`),
evaluated on each full object behind the list (the whole `structs.Node` or `structs.Allocation`,
not the stub the endpoint returns). A malformed expression is a 400 `failed to create result
paginator: failed to read filter expression: <error>`; an evaluation error (an unknown field) is a
400 `failed to read result page: <error>`. `filter_list` does exactly that.

Supported, as upstream:

- `or`, `and`, `not` and parentheses (`or` binds loosest, `not` tightest).
- Selectors: `Name`, `Meta.rack`, `Meta["rack"]`, `Attributes["kernel.name"]`, `Drivers.iis.Healthy`,
  `TaskStates.app.State`, list indexes `Items.0`, and JSON pointers in quotes (`"/Meta/rack"`).
- Values: numbers, `"double-quoted"` strings (Go escapes), `` `raw` `` strings, and a bare word,
  which is a string (`Status == ready`, as upstream takes a selector in value position for its text).
- `==`, `!=` (strings; booleans and numbers are compared after coercing the value, as Go's
  `strconv` parses it), `<value> in <selector>`, `not in`, `<selector> contains <value>`,
  `not contains` (a map's keys, a list's elements, a substring), `is empty`, `is not empty`,
  `matches`, `not matches` (a regular expression, unanchored).
- A missing map key at the end of a selector (`Meta["x"]` on a node without `x`) is not an error:
  `==`, `in`, `matches`, `is not empty` are false and their negations true
  (`MatchOperator.NotPresentDisposition`); an unknown top-level field is an error, as in Nomad.

Not supported (they are parse errors here): go-bexpr's newer `all`/`any` collection expressions and
inline value lists. Known differences: values are looked up in the objects' JSON, so a nested
struct's unknown field reads as a missing map key, and a JSON `null` as an empty map; parse errors
carry pigeon's position prefix (`1:12 (11): ...`), but their lists of what was expected are
shorter than pigeon's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["FilterError", "FilterSyntaxError", "FilterEvalError", "compile_filter", "filter_list"]


class FilterError(ValueError):
    """A filter that Nomad refuses with a 400; the text is Nomad's."""


class FilterSyntaxError(FilterError):
    """bexpr.CreateEvaluator failed: the expression does not parse."""


class FilterEvalError(FilterError):
    """Evaluator.Evaluate failed on an object (e.g. an unknown field)."""


# --- AST ---------------------------------------------------------------------------------------

EQUAL, NOT_EQUAL, IN, NOT_IN, IS_EMPTY, IS_NOT_EMPTY, MATCHES, NOT_MATCHES = (
    "==", "!=", "in", "not in", "is empty", "is not empty", "matches", "not matches")

# grammar.MatchOperator.NotPresentDisposition: the result for a selector whose map key is missing.
NOT_PRESENT = {EQUAL: False, NOT_EQUAL: True, IN: False, NOT_IN: True, IS_EMPTY: True, IS_NOT_EMPTY: False,
               MATCHES: False, NOT_MATCHES: True}


@dataclass(frozen=True)
class Selector:
    path: tuple[str, ...]
    json_pointer: bool = False

    def __str__(self) -> str:
        """grammar.Selector.String(): what a selector in value position stands for."""
        return ("/" if self.json_pointer else ".").join(self.path)

    def pointer(self) -> str:
        """pointerstructure.Pointer.String(), as lookup errors show it."""
        return "/" + "/".join(p.replace("~", "~0").replace("/", "~1") for p in self.path)


@dataclass(frozen=True)
class Match:
    selector: Selector
    operator: str
    value: str | None  # the raw value; None for the emptiness checks


@dataclass(frozen=True)
class Not:
    operand: object


@dataclass(frozen=True)
class Binary:
    operator: str  # "and" | "or"
    left: object
    right: object


# --- Parser ------------------------------------------------------------------------------------

_WS = " \t\r\n"
_IDENT_START = re.compile(r"[a-zA-Z]")
_IDENT_REST = re.compile(r"[a-zA-Z0-9_/]*")
_POINTER_SEGMENT = re.compile(r"/([\w\-.~:|]+)", re.UNICODE)
_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?")


class _Parser:
    """A recursive-descent reading of grammar.peg with PEG semantics (ordered choice, backtracking),
    memoized per rule and position. Failures are recorded as pigeon records them: the farthest
    position reached and what was expected there; `&{ return false, errors.New(...) }` predicates
    add errors that fail the whole parse."""

    def __init__(self, text: str):
        self.text = text
        self.far = 0
        self.expected: set[str] = set()
        self.errors: list[str] = []
        self.memo: dict = {}

    # -- primitives

    def expect(self, pos: int, what: str):
        if pos > self.far:
            self.far, self.expected = pos, {what}
        elif pos == self.far:
            self.expected.add(what)
        return None

    def lit(self, pos: int, word: str):
        if self.text.startswith(word, pos):
            return pos + len(word)
        return self.expect(pos, _go_quote(word))

    def ws(self, pos: int):
        """`_`: one or more of space, tab, CR, LF."""
        end = pos
        while end < len(self.text) and self.text[end] in _WS:
            end += 1
        return end if end > pos else self.expect(pos, "[ \\t\\r\\n]")

    def ows(self, pos: int) -> int:
        """`_?`"""
        end = self.ws(pos)
        return pos if end is None else end

    def eof(self, pos: int) -> bool:
        if pos >= len(self.text):
            return True
        self.expect(pos, "EOF")
        return False

    def position(self, pos: int) -> str:
        """pigeon's `line:col (offset)`: col counts characters, offset bytes."""
        before = self.text[:pos]
        line = before.count("\n") + 1
        col = len(before) - (before.rfind("\n") + 1) + 1
        return "%d:%d (%d)" % (line, col, len(before.encode("utf-8")))

    def error(self, pos: int, rule: str, message: str) -> None:
        text = "%s: rule %s: %s" % (self.position(pos), rule, message)
        if text not in self.errors:
            self.errors.append(text)

    def memoized(self, rule, pos):
        key = (rule.__name__, pos)
        if key not in self.memo:
            self.memo[key] = rule(pos)
        return self.memo[key]

    # -- rules

    def parse(self):
        # Input <- _? "(" _? OrExpression _? ")" _? EOF / _? OrExpression _? EOF
        result = None
        pos = self.lit(self.ows(0), "(")
        if pos is not None:
            inner = self.memoized(self.or_expression, self.ows(pos))
            if inner is not None:
                end = self.lit(self.ows(inner[1]), ")")
                if end is not None and self.eof(self.ows(end)):
                    result = inner[0]
        if result is None:
            whole = self.memoized(self.or_expression, self.ows(0))
            if whole is not None and self.eof(self.ows(whole[1])):
                result = whole[0]
        if self.errors:
            raise FilterSyntaxError("\n".join(self.errors))
        if result is None:
            raise FilterSyntaxError("%s: no match found, expected: %s" % (self.position(self.far), _join(self.expected)))
        return result

    def or_expression(self, pos):
        left = self.memoized(self.and_expression, pos)
        if left is None:
            return None
        after = self.ws(left[1])
        if after is not None:
            after = self.lit(after, "or")
            after = self.ws(after) if after is not None else None
            if after is not None:
                right = self.memoized(self.or_expression, after)
                if right is not None:
                    return Binary("or", left[0], right[0]), right[1]
        return left

    def and_expression(self, pos):
        left = self.memoized(self.not_expression, pos)
        if left is None:
            return None
        after = self.ws(left[1])
        if after is not None:
            after = self.lit(after, "and")
            after = self.ws(after) if after is not None else None
            if after is not None:
                right = self.memoized(self.and_expression, after)
                if right is not None:
                    return Binary("and", left[0], right[0]), right[1]
        return left

    def not_expression(self, pos):
        after = self.lit(pos, "not")
        after = self.ws(after) if after is not None else None
        if after is not None:
            operand = self.memoized(self.not_expression, after)
            if operand is not None:
                node = operand[0]
                # `not not x` is `x` (the grammar's own simplification)
                return (node.operand if isinstance(node, Not) else Not(node)), operand[1]
        return self.memoized(self.parenthesized, pos)

    def parenthesized(self, pos):
        opened = self.lit(pos, "(")
        inner = self.memoized(self.or_expression, self.ows(opened)) if opened is not None else None
        if inner is not None:
            closed = self.lit(self.ows(inner[1]), ")")
            if closed is not None:
                return inner[0], closed
        match = self.memoized(self.match_expression, pos)
        if match is not None:
            return match
        if inner is not None:
            self.error(self.ows(inner[1]), "grouping", "Unmatched parentheses")
        return None

    def match_expression(self, pos):
        selector = self.memoized(self.selector, pos)
        if selector is not None:
            # MatchSelectorOpValue: the first operator that matches is taken (ordered choice)
            for operator in (self.op_equal, self.op_not_equal, self.op_contains, self.op_not_contains,
                             self.op_matches, self.op_not_matches):
                found = operator(selector[1])
                if found is not None:
                    value = self.memoized(self.value, found[1])
                    if value is not None:
                        return Match(selector[0], found[0], value[0]), value[1]
                    break
            # MatchSelectorOp
            for operator in (self.op_is_empty, self.op_is_not_empty):
                found = operator(selector[1])
                if found is not None:
                    return Match(selector[0], found[0], None), found[1]
        # MatchValueOpSelector
        value = self.memoized(self.value, pos)
        if value is not None:
            for operator in (self.op_in, self.op_not_in):
                found = operator(value[1])
                if found is not None:
                    target = self.memoized(self.selector, found[1])
                    if target is not None:
                        return Match(target[0], found[0], value[0]), target[1]
                    self.error(found[1], "match", "Invalid selector")
                    break
        return None

    def keyword_op(self, pos, words, operator, leading=True, trailing=True):
        """`_ "w1" _ "w2" ... _`: the words separated by (and, as the rule says, around) whitespace."""
        if leading:
            pos = self.ws(pos)
        for index, word in enumerate(words):
            if pos is None:
                return None
            if index:
                pos = self.ws(pos)
                if pos is None:
                    return None
            pos = self.lit(pos, word)
        if pos is not None and trailing:
            pos = self.ws(pos)
        return (operator, pos) if pos is not None else None

    def op_equal(self, pos):
        end = self.lit(self.ows(pos), "==")
        return (EQUAL, self.ows(end)) if end is not None else None

    def op_not_equal(self, pos):
        end = self.lit(self.ows(pos), "!=")
        return (NOT_EQUAL, self.ows(end)) if end is not None else None

    def op_contains(self, pos):
        return self.keyword_op(pos, ["contains"], IN)

    def op_not_contains(self, pos):
        return self.keyword_op(pos, ["not", "contains"], NOT_IN)

    def op_matches(self, pos):
        return self.keyword_op(pos, ["matches"], MATCHES)

    def op_not_matches(self, pos):
        return self.keyword_op(pos, ["not", "matches"], NOT_MATCHES)

    def op_is_empty(self, pos):
        return self.keyword_op(pos, ["is", "empty"], IS_EMPTY, trailing=False)

    def op_is_not_empty(self, pos):
        return self.keyword_op(pos, ["is", "not", "empty"], IS_NOT_EMPTY, trailing=False)

    def op_in(self, pos):
        return self.keyword_op(pos, ["in"], IN)

    def op_not_in(self, pos):
        return self.keyword_op(pos, ["not", "in"], NOT_IN)

    def identifier(self, pos):
        if pos < len(self.text) and _IDENT_START.match(self.text, pos):
            end = _IDENT_REST.match(self.text, pos + 1).end()
            return self.text[pos:end], end
        return self.expect(pos, "[a-zA-Z]")

    def selector(self, pos):
        first = self.identifier(pos)
        if first is not None:
            path, pos = [first[0]], first[1]
            while True:
                part = self.selector_or_index(pos)
                if part is None:
                    return Selector(tuple(path)), pos
                path.append(part[0])
                pos = part[1]
        # '"' JsonPointerSegment* '"'
        start = self.lit(pos, '"')
        if start is None:
            return None
        segments, pos = [], start
        while True:
            segment = _POINTER_SEGMENT.match(self.text, pos)
            if segment is None:
                break
            segments.append(segment.group(1).replace("~1", "/").replace("~0", "~"))
            pos = segment.end()
        end = self.lit(pos, '"')
        return (Selector(tuple(segments), json_pointer=True), end) if end is not None else None

    def selector_or_index(self, pos):
        dot = self.lit(pos, ".")
        if dot is not None:
            ident = self.identifier(dot)
            if ident is not None:
                return ident
        index = self.index_expression(pos)
        if index is not None:
            return index
        if dot is not None:
            digits = re.compile(r"[0-9]+").match(self.text, dot)
            if digits:
                return digits.group(0), digits.end()
            self.expect(dot, "[0-9]")
        return None

    def index_expression(self, pos):
        opened = self.lit(pos, "[")
        if opened is None:
            return None
        inside = self.ows(opened)
        literal = self.memoized(self.string_literal, inside)
        if literal is None:
            self.error(inside, "index", "Invalid index")
            return None
        closed = self.lit(self.ows(literal[1]), "]")
        if closed is None:
            self.error(self.ows(literal[1]), "index", "Unclosed index expression")
            return None
        return literal[0], closed

    def value(self, pos):
        selector = self.memoized(self.selector, pos)
        if selector is not None:
            return str(selector[0]), selector[1]
        number = self.number(pos)
        if number is not None:
            return number
        return self.memoized(self.string_literal, pos)

    def number(self, pos):
        found = _NUMBER.match(self.text, pos)
        if not found:
            return self.expect(pos, "number")
        end = found.end()
        # AfterNumbers <- &(_ / EOF / ")")
        if end >= len(self.text) or self.text[end] in _WS + ")":
            return found.group(0), end
        self.error(end, "number", "Invalid number literal")
        return None

    def string_literal(self, pos):
        if pos >= len(self.text) or self.text[pos] not in '"`':
            return self.expect(pos, "string")
        quote = self.text[pos]
        end = self.text.find(quote, pos + 1)
        if end < 0:
            self.error(len(self.text), "string", "Unterminated string literal")
            return None
        body = self.text[pos + 1:end]
        if quote == "`":
            return body.replace("\r", ""), end + 1
        try:
            return go_unquote(body), end + 1
        except ValueError:
            self.error(end + 1, "string", "invalid syntax")
            return None


def _join(expected: set[str]) -> str:
    """pigeon's listJoin: `a, b or c`."""
    items = sorted(expected)
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " or " + items[-1]


_SIMPLE_ESCAPES = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v", "\\": "\\", '"': '"'}


def go_unquote(body: str) -> str:
    """strconv.Unquote of a double-quoted literal's body; ValueError where Go says invalid syntax."""
    out, index = [], 0
    while index < len(body):
        char = body[index]
        if char == "\n":
            raise ValueError("invalid syntax")
        if char != "\\":
            out.append(char)
            index += 1
            continue
        if index + 1 >= len(body):
            raise ValueError("invalid syntax")
        code = body[index + 1]
        if code in _SIMPLE_ESCAPES:
            out.append(_SIMPLE_ESCAPES[code])
            index += 2
        elif code in "xuU":
            width = {"x": 2, "u": 4, "U": 8}[code]
            digits = body[index + 2:index + 2 + width]
            if len(digits) != width or not re.fullmatch(r"[0-9a-fA-F]+", digits):
                raise ValueError("invalid syntax")
            out.append(chr(int(digits, 16)))
            index += 2 + width
        elif code in "01234567":
            digits = body[index + 1:index + 4]
            if not re.fullmatch(r"[0-7]{3}", digits) or int(digits, 8) > 255:
                raise ValueError("invalid syntax")
            out.append(chr(int(digits, 8)))
            index += 4
        else:
            raise ValueError("invalid syntax")
    return "".join(out)


def compile_filter(expression: str):
    """bexpr.CreateEvaluator: the parsed expression; FilterSyntaxError with pigeon's message."""
    return _Parser(expression).parse()


# --- Evaluation --------------------------------------------------------------------------------

class _NotPresent(Exception):
    """The selector's last key is missing from a map."""


def _go_kind(value) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int64"
    if isinstance(value, float):
        return "float64"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "slice"
    if isinstance(value, dict):
        return "map"
    return "ptr"


def _go_quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _lookup(datum, selector: Selector):
    """pointerstructure.Pointer.Get on the object's JSON, with getValue's missing-key rule."""
    current = datum
    last = len(selector.path) - 1
    for index, part in enumerate(selector.path):
        if current is None and index > 0:
            current = {}  # a nil map (JSON null) has no keys
        if isinstance(current, dict):
            if part in current:
                current = current[part]
                continue
            if index == 0:  # the top level is a Go struct
                raise FilterEvalError('error finding value in datum: %s at part %d: couldn\'t find struct field '
                                      'with name %s' % (selector.pointer(), index, _go_quote(part)))
            if index == last:
                raise _NotPresent()
            raise FilterEvalError("error finding value in datum: %s at part %d: couldn't find key %s"
                                  % (selector.pointer(), index, _go_quote(part)))
        if isinstance(current, list):
            if not re.fullmatch(r"[+-]?[0-9]+", part):
                raise FilterEvalError('error finding value in datum: %s at part %d: strconv.ParseInt: parsing %s: '
                                      'invalid syntax' % (selector.pointer(), index, _go_quote(part)))
            position = int(part)
            if not 0 <= position < len(current):
                raise FilterEvalError("error finding value in datum: %s at part %d: index %d is out of range "
                                      "(length = %d)" % (selector.pointer(), index, position, len(current)))
            current = current[position]
            continue
        raise FilterEvalError("error finding value in datum: %s: at part %d, invalid kind: %s"
                              % (selector.pointer(), index, _go_kind(current)))
    return current


def _go_bool(raw: str) -> bool:
    if raw in ("1", "t", "T", "TRUE", "true", "True"):
        return True
    if raw in ("0", "f", "F", "FALSE", "false", "False"):
        return False
    raise ValueError("strconv.ParseBool: parsing %s: invalid syntax" % _go_quote(raw))


def _coerce(raw: str, like):
    """getMatchExprValue: the raw value as the type of `like` (ValueError as strconv's)."""
    if isinstance(like, bool):
        return _go_bool(raw)
    if isinstance(like, int):
        try:
            return int(raw.replace("_", ""), 0)
        except ValueError:
            raise ValueError("strconv.ParseInt: parsing %s: invalid syntax" % _go_quote(raw)) from None
    if isinstance(like, float):
        try:
            return float(raw)
        except ValueError:
            raise ValueError("strconv.ParseFloat: parsing %s: invalid syntax" % _go_quote(raw)) from None
    return raw


def _equal(raw: str, value) -> bool:
    """doMatchEqual: primitives only; the raw value coerced to the value's type."""
    if not isinstance(value, (bool, int, float, str)):
        raise FilterEvalError("unable to find suitable primitive comparison function for matching")
    try:
        return _coerce(raw, value) == value
    except ValueError as exc:
        raise FilterEvalError("error getting match value in expression: %s" % exc) from None


def _contains(match: Match, value) -> bool:
    """doMatchIn: a map's keys, a list's elements (coerced one by one), or a substring."""
    raw = match.value
    if isinstance(value, dict):
        return raw in value
    if isinstance(value, list):
        for item in value:
            if not isinstance(item, (bool, int, float, str)):
                raise FilterEvalError('unable to find suitable primitive comparison function for "in" comparison')
            try:
                if _coerce(raw, item) == item:
                    return True
            except ValueError:
                continue  # strconv.ErrSyntax: not this element's type
        return False
    if isinstance(value, str):
        return raw in value
    raise FilterEvalError("Cannot perform in/contains operations on type %s for selector: %s"
                          % (_go_kind(value), _go_quote(str(match.selector))))


def _is_empty(value) -> bool:
    if value is None:
        return True
    if isinstance(value, (str, list, dict)):
        return len(value) == 0
    raise FilterEvalError("reflect: call of reflect.Value.Len on %s Value" % _go_kind(value))


def _matches(raw: str, value) -> bool:
    if not isinstance(value, str):
        raise FilterEvalError("Value of type %s is not convertible to []byte" % _go_kind(value))
    try:
        return re.search(raw, value) is not None
    except re.error as exc:
        raise FilterEvalError("Failed to compile regular expression %s: %s" % (_go_quote(raw), exc)) from None


def evaluate(node, datum) -> bool:
    """Evaluator.Evaluate; FilterEvalError with go-bexpr's message."""
    if isinstance(node, Binary):
        left = evaluate(node.left, datum)
        if node.operator == "and":
            return left and evaluate(node.right, datum)
        return left or evaluate(node.right, datum)
    if isinstance(node, Not):
        return not evaluate(node.operand, datum)
    try:
        value = _lookup(datum, node.selector)
    except _NotPresent:
        return NOT_PRESENT[node.operator]
    operator = node.operator
    if operator in (EQUAL, NOT_EQUAL):
        return _equal(node.value, value) == (operator == EQUAL)
    if operator in (IN, NOT_IN):
        return _contains(node, value) == (operator == IN)
    if operator in (IS_EMPTY, IS_NOT_EMPTY):
        return _is_empty(value) == (operator == IS_EMPTY)
    return _matches(node.value, value) == (operator == MATCHES)


def filter_list(expression: str, items: list, datum_of) -> list:
    """The items whose full object (`datum_of(item)`, as JSON) matches `expression`, as Nomad's
    paginator filters a list endpoint; an empty expression keeps every item. FilterError carries
    the endpoint's 400 text."""
    if not expression:
        return list(items)
    try:
        tree = compile_filter(expression)
    except FilterSyntaxError as exc:
        raise FilterSyntaxError("failed to create result paginator: failed to read filter expression: %s" % exc) from None
    kept = []
    for item in items:
        try:
            if evaluate(tree, datum_of(item)):
                kept.append(item)
        except FilterEvalError as exc:
            raise FilterEvalError("failed to read result page: %s" % exc) from None
    return kept
