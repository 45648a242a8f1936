"""The ICL parser behind `flow import-ilert`: syntax trees, errors with their column, three-valued meaning."""

from __future__ import annotations

import pytest

from agent.flow.ilert_conditions import (
    And, Compare, ConditionError, ListValue, Literal, Not, Or, Other, Path, Variable, context_paths, outcomes, parse,
)

TARGET = Path(("context", "connectedTarget"))


def test_the_published_conditions_parse():
    assert parse("context.connectedTarget == '-1'") == Compare(TARGET, "==", False, Literal("-1"))
    assert parse("context.recordedMessageUrl != null") == Compare(Path(("context", "recordedMessageUrl")), "!=", False, Literal(None))
    assert parse("context.supportHoursState == 'OUTSIDE'").right == Literal("OUTSIDE")
    assert parse("context.ivrChoice == '1'").right == Literal("1")


def test_and_binds_tighter_than_or_and_parentheses_group():
    a, b, c = (f"context.ivrChoice == '{k}'" for k in "123")
    tree = parse(f"{a} or {b} and {c}")
    assert isinstance(tree, Or) and isinstance(tree.items[1], And)
    tree = parse(f"({a} or {b}) and not {c}")
    assert isinstance(tree, And) and isinstance(tree.items[0], Or) and isinstance(tree.items[1], Not)


def test_icl_literals_and_operators():
    tree = parse("context.ivrChoice not in [1, '2', \"3\"]")
    assert tree == Compare(Path(("context", "ivrChoice")), "in", True, ListValue((Literal(1), Literal("2"), Literal("3"))))
    assert parse("context.x not_matches DURING") == Compare(Path(("context", "x")), "matches", True, Literal("DURING"))
    assert parse("context.x == nil").right == Literal(None)
    assert parse("context.x == 'the system\\'s up'").right == Literal("the system's up")
    assert parse("context.event['key wi:th spaces'].a[0] == true").left == Path(("context", "event", "key wi:th spaces", "a", 0))
    assert context_paths(parse("context.a == 1 or context.b == context.a")) == [Path(("context", "a")), Path(("context", "b"))]


@pytest.mark.parametrize(("text", "error"), [
    ("", "the condition is empty"),
    ("context.a == 1 || context.b == 2", "column 16: `||` is not ICL (ICL writes `or`)"),
    ("!context.a", "column 1: `!` is not ICL (ICL writes `not`)"),
    ("context.a == 1 context.b", "column 16: expected `and`, `or` or the end of the condition, found `context`"),
    ("context.a ==", "column 13: expected a value or a path, found the end of the condition"),
    ("context. == 1", "column 10: expected a field name after `.`, found `==`"),
    ("context.a in [1, 2", "column 19: expected `,` or `]`, found the end of the condition"),
    ("and", "column 1: expected a value or a path, found `and`"),
])
def test_a_syntax_error_names_its_column(text, error):
    with pytest.raises(ConditionError) as info:
        parse(text)
    assert str(info.value) == error


ROUTE = Variable("connectedTarget", {"completed": Other(("-1",)), "no_answer": "-1"})


@pytest.mark.parametrize(("text", "expected"), [
    ("context.connectedTarget == '-1'", ["no_answer"]),
    ("context.connectedTarget != '-1'", ["completed"]),
    ("not context.connectedTarget != -1", ["no_answer"]),
    ("context.connectedTarget == '-1' or context.connectedTarget != '-1'", ["completed", "no_answer"]),
    ("context.connectedTarget in ['-1']", ["no_answer"]),
])
def test_a_condition_holds_for_the_outcomes_it_is_true_for(text, expected):
    assert outcomes(parse(text), ROUTE, "ROUTE_CALL") == expected


def test_and_with_a_false_side_is_false_even_when_the_other_cannot_be_told():
    # completed: '42' cannot be told, but == '-1' is false, so the `and` is false; no_answer: true and false
    with pytest.raises(ConditionError, match="true for none"):
        outcomes(parse("context.connectedTarget == '42' and context.connectedTarget == '-1'"), ROUTE, "ROUTE_CALL")


def test_exact_matches_is_case_sensitive_and_matches_is_not():
    hours = Variable("supportHoursState", {"during": "DURING", "outside": "OUTSIDE"})
    assert outcomes(parse("context.supportHoursState matches 'during'"), hours, "SUPPORT_HOURS") == ["during"]
    with pytest.raises(ConditionError, match="true for none"):
        outcomes(parse("context.supportHoursState exact_matches 'during'"), hours, "SUPPORT_HOURS")
