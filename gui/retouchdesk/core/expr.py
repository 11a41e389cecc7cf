"""A tiny, safe expression language for schema conditions and constraints.

Schemas say when a parameter applies (``model_version == "enhancorv3"``) and which
combinations are valid (``input_x + input_width <= output_width``). These strings are parsed
with :mod:`ast` and only a whitelist of nodes is evaluated: names (parameter values, ``None``
when unknown), literals, lists, comparisons, ``and``/``or``/``not`` and arithmetic. Nothing
else (calls, attributes, subscripts) is accepted, so a schema file can never run code.
"""

from __future__ import annotations

import ast
import operator
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from retouchdesk.core.errors import SchemaError

_COMPARE = {
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
    ast.In: lambda a, b: a in b,
    ast.NotIn: lambda a, b: a not in b,
}
_BINARY = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.Mod: operator.mod,
}
_CONSTANTS = {"true": True, "false": False, "True": True, "False": False, "None": None}


@lru_cache(maxsize=512)
def compile_expr(source: str) -> ast.Expression:
    """Parse ``source`` once and check that it only uses the allowed nodes."""
    try:
        tree = ast.parse(source, mode="eval")
    except SyntaxError as exc:
        raise SchemaError(f"Invalid expression {source!r}: {exc.msg}") from None
    for node in ast.walk(tree):
        allowed = (
            ast.Expression,
            ast.BoolOp,
            ast.And,
            ast.Or,
            ast.UnaryOp,
            ast.Not,
            ast.USub,
            ast.Compare,
            ast.BinOp,
            ast.Name,
            ast.Load,
            ast.Constant,
            ast.List,
            ast.Tuple,
            *_COMPARE,
            *_BINARY,
        )
        if not isinstance(node, allowed):
            raise SchemaError(f"Expression {source!r} uses {type(node).__name__}, not allowed")
    return tree


def names_in(source: str) -> set[str]:
    """Parameter names an expression refers to (for dependency tracking in the UI)."""
    return {
        n.id
        for n in ast.walk(compile_expr(source))
        if isinstance(n, ast.Name) and n.id not in _CONSTANTS
    }


def evaluate(source: str, values: Mapping[str, Any]) -> Any:
    """Evaluate ``source`` against parameter ``values``; unknown names are ``None``."""
    return _eval(compile_expr(source).body, values)


def _eval(node: ast.AST, values: Mapping[str, Any]) -> Any:
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Name):
        if node.id in _CONSTANTS:
            return _CONSTANTS[node.id]
        return values.get(node.id)
    if isinstance(node, ast.List | ast.Tuple):
        return [_eval(e, values) for e in node.elts]
    if isinstance(node, ast.BoolOp):
        if isinstance(node.op, ast.And):
            return all(_eval(v, values) for v in node.values)
        return any(_eval(v, values) for v in node.values)
    if isinstance(node, ast.UnaryOp):
        operand = _eval(node.operand, values)
        return (not operand) if isinstance(node.op, ast.Not) else -operand
    if isinstance(node, ast.BinOp):
        left, right = _eval(node.left, values), _eval(node.right, values)
        if left is None or right is None:
            return None
        return _BINARY[type(node.op)](left, right)
    if isinstance(node, ast.Compare):
        left = _eval(node.left, values)
        for op, comparator in zip(node.ops, node.comparators, strict=True):
            right = _eval(comparator, values)
            try:
                ok = _COMPARE[type(op)](left, right)
            except TypeError:  # None < 3 and the like: a missing value never satisfies
                return False
            if not ok:
                return False
            left = right
        return True
    raise SchemaError(f"Unsupported expression node {type(node).__name__}")  # pragma: no cover
