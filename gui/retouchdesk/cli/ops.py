"""``retouchdesk ops [PROVIDER[.OP]]``: every operation and its parameters, from the schemas."""

from __future__ import annotations

import argparse
from typing import Any

from retouchdesk.cli.common import EXIT_OK


def add_parser(sub: Any) -> None:
    ops = sub.add_parser("ops", help="list operations and their parameters")
    ops.add_argument("target", nargs="?", help="PROVIDER or PROVIDER.OP for details")
    ops.set_defaults(func=cmd_ops)


def cmd_ops(args: argparse.Namespace) -> int:
    from retouchdesk.services.runtime import load_full_catalog

    catalog = load_full_catalog()
    target = args.target or ""
    provider_id, _, op_id = target.partition(".")
    if provider_id:
        prov = catalog.provider(provider_id)
        ops = [catalog.operation(provider_id, op_id)] if op_id else list(prov.operations.values())
        print(f"{prov.name} ({prov.id}, {prov.kind}): {prov.description}")
        for op in ops:
            print()
            print("\n".join(describe_operation(op, detailed=True)))
        return EXIT_OK
    for prov in catalog.providers.values():
        print(f"== {prov.name} ({prov.id}) ==")
        for op in prov.operations.values():
            print("\n".join(describe_operation(op, detailed=False)))
        print()
    return EXIT_OK


def describe_operation(op: Any, *, detailed: bool) -> list[str]:
    """Lines documenting one operation and its parameters (for ``retouchdesk ops``)."""
    head = f"{op.key}  {op.label}"
    if op.category:
        head += f"  [{op.category}]"
    lines = [head]
    if detailed:
        if op.description:
            lines.append(f"  {op.description}")
        lines.append(f"  inputs: {', '.join(op.required_inputs)}; result: {op.result.kind}")
        lim = op.limits
        limit_bits = [f"formats {', '.join(lim.formats)}"]
        if lim.max_side:
            limit_bits.append(f"long side <= {lim.max_side} px")
        if lim.min_side:
            limit_bits.append(f"short side >= {lim.min_side} px")
        if lim.max_bytes:
            limit_bits.append(f"<= {lim.max_bytes / 1e6:g} MB")
        if lim.max_megapixels:
            limit_bits.append(f"<= {lim.max_megapixels:g} MP")
        lines.append(f"  limits: {'; '.join(limit_bits)}")
        if op.cost.text or op.cost.amount is not None:
            amount = (
                f"{op.cost.amount:g} {op.cost.unit}".strip() if op.cost.amount is not None else ""
            )
            lines.append(f"  cost: {op.cost.text or amount}")
    if not op.params:
        lines.append("  (no parameters)")
    for p in op.params:
        bits = [f"  {p.name:<24} {p.kind.value:<6}"]
        if p.default is not None:
            bits.append(f"default {_show(p.default)}")
        bits.append(p.describe_type())
        for ov in p.overrides:
            changes = []
            if ov.min is not None:
                changes.append(f"min {_show(ov.min)}")
            if ov.max is not None:
                changes.append(f"max {_show(ov.max)}")
            if type(ov.default) is not object and ov.default is not None:  # object() = unset
                changes.append(f"default {_show(ov.default)}")
            if changes:
                bits.append(f"when {ov.when}: {', '.join(changes)}")
        if p.required:
            bits.append("required")
        if p.applies_when:
            bits.append(
                f"applies: {p.applies_note}" if p.applies_note else f"applies when {p.applies_when}"
            )
        lines.append("; ".join([bits[0] + " " + bits[1], *bits[2:]]) if len(bits) > 1 else bits[0])
        if detailed:
            if p.values and p.kind.value == "enum":
                labels = ", ".join(
                    f"{c.value} = {c.label}" for c in p.values if c.label != str(c.value)
                )
                if labels:
                    lines.append(f"      values: {labels}")
            if p.help:
                lines.append(f"      {p.help}")
            if p.group:
                lines.append(f"      group: {p.group}{' / ' + p.subgroup if p.subgroup else ''}")
    return lines


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)
