"""The schema expression language: what it evaluates, and everything it refuses to run.

A schema file is data; ``core/expr.py`` promises that no expression in it can call, import,
look up attributes or index. These tests hold it to that with the classic escapes.
"""

from __future__ import annotations

import pytest

from retouchdesk.core.errors import SchemaError
from retouchdesk.core.expr import compile_expr, evaluate, names_in


@pytest.mark.parametrize(
    ("source", "values", "expected"),
    [
        ("mode == 'strong'", {"mode": "strong"}, True),
        ("mode != 'strong'", {"mode": "strong"}, False),
        ("a < b <= c", {"a": 1, "b": 2, "c": 2}, True),
        ("a < b <= c", {"a": 1, "b": 3, "c": 2}, False),
        ("a > 1 and b >= 2", {"a": 2, "b": 2}, True),
        ("a > 1 or b > 1", {"a": 0, "b": 0}, False),
        ("not flag", {"flag": False}, True),
        ("-a", {"a": 3}, -3),
        ("a + b * 2 - c / 4 % 3", {"a": 1, "b": 2, "c": 8}, 1 + 4 - (8 / 4 % 3)),
        ("v in ['x', 'y']", {"v": "y"}, True),
        ("v not in ('x', 'y')", {"v": "z"}, True),
        ("flag == true and other == False", {"flag": True, "other": False}, True),
        ("missing == None", {}, True),
    ],
)
def test_the_whitelisted_language_evaluates(source, values, expected):
    assert evaluate(source, values) == expected


def test_missing_values_never_satisfy_an_ordering_and_make_arithmetic_unknown():
    assert evaluate("size < 3", {}) is False
    assert evaluate("size + 1", {}) is None
    assert evaluate("size + 1 <= 10", {}) is False


def test_names_in_lists_parameters_but_not_constants():
    assert names_in("a + b > c and flag == true and x == None") == {"a", "b", "c", "flag", "x"}


@pytest.mark.parametrize(
    ("source", "node"),
    [
        ("__import__('os').system('true')", "Call|Attribute"),
        ("open('/etc/passwd')", "Call"),
        ("a.__class__", "Attribute"),
        ("a[0]", "Subscript"),
        ("(lambda: 1)()", "Call|Lambda"),
        ("[x for x in a]", "ListComp"),
        ("{'k': 1}", "Dict"),
        ("{1, 2}", "Set"),
        ("a if b else c", "IfExp"),
        ("(y := 3)", "NamedExpr"),
        ("f'{a}'", "JoinedStr"),
        ("a ** 100000", "Pow"),
        ("a // 2", "FloorDiv"),
        ("a << 2", "LShift"),
        ("a is None", "Is"),
        ("~a", "Invert"),
        ("+a", "UAdd"),
    ],
)
def test_everything_else_is_refused_when_the_schema_loads(source, node):
    with pytest.raises(SchemaError, match=rf"^Expression .* uses ({node}), not allowed$"):
        compile_expr(source)


@pytest.mark.parametrize("source", ["a ==", "mode = 'x'", "import os", ""])
def test_syntax_errors_are_schema_errors(source):
    with pytest.raises(SchemaError, match=r"^Invalid expression "):
        compile_expr(source)


def test_a_refused_expression_is_refused_again_not_served_from_the_cache():
    for _ in range(2):
        with pytest.raises(SchemaError):
            compile_expr("a.b")
