"""The schema-to-widget factory builds a correct control for every parameter of every operation.

The operations come from the installed ``resources/providers/*.toml`` at test time, so a
provider file added later is covered without touching this test.
"""

from __future__ import annotations

import pytest

from retouchdesk.core.schema import Catalog, Operation, ParamKind, load_catalog
from retouchdesk.model.operation import OperationModel
from retouchdesk.resources import resource_path
from retouchdesk.ui.param_controls import (
    ChoiceControl,
    FileControl,
    NumberControl,
    SegmentedControl,
    StyleControl,
    TextControl,
    ToggleControl,
    make_control,
)
from retouchdesk.ui.param_panel import ParamPanel

CATALOG: Catalog = load_catalog(resource_path("providers"))
OPERATIONS: list[Operation] = list(CATALOG.operations())


def test_every_provider_file_is_in_the_catalog():
    files = {p.stem for p in resource_path("providers").glob("*.toml")}
    assert files <= set(CATALOG.providers)
    assert {"enhancor", "codeformer"} <= files


@pytest.mark.parametrize("op", OPERATIONS, ids=[o.key for o in OPERATIONS])
def test_factory_builds_each_parameter_with_range_and_default(qtbot, op):
    values = op.initial_values()
    for p in op.params:
        c = make_control(p)
        qtbot.addWidget(c)
        eff = p.effective(values)
        c.set_effective(eff)
        c.set_value(eff.default)
        kind = p.kind
        if kind is ParamKind.BOOL:
            assert isinstance(c, ToggleControl)
            assert c.value() is bool(eff.default)
            assert c.box.text() == p.label
        elif kind in (ParamKind.INT, ParamKind.FLOAT):
            assert isinstance(c, NumberControl)
            if eff.min is not None:
                assert c.spin.minimum() == pytest.approx(eff.min), p.name
            if eff.max is not None:
                assert c.spin.maximum() == pytest.approx(eff.max), p.name
            assert c.slider.isVisibleTo(c) == (eff.min is not None and eff.max is not None)
            if eff.default is not None:
                assert c.value() == pytest.approx(eff.default), p.name
            if p.ends:
                assert c.ends is not None and p.ends[0] in c.ends[0].text()
            if p.unit:
                assert c.spin.suffix().strip() == p.unit
        elif kind is ParamKind.ENUM:
            assert isinstance(c, SegmentedControl | ChoiceControl)
            if p.widget == "segmented":
                assert isinstance(c, SegmentedControl)
            if isinstance(c, SegmentedControl):
                assert [b.text() for b in c.buttons()] == [ch.label for ch in eff.values]
            else:
                assert [c.combo.itemText(i) for i in range(c.combo.count())] == [
                    ch.label for ch in eff.values
                ]
            assert c.value() == eff.default
        elif kind in (ParamKind.IMAGE, ParamKind.MASK):
            assert isinstance(c, FileControl)
            assert c.value() == (str(eff.default) if eff.default else None)
        elif kind is ParamKind.STYLE:
            assert isinstance(c, StyleControl)
        else:
            assert isinstance(c, TextControl)
            assert c.value() == (eff.default or "")
            if p.max_length and not c.multiline:
                assert c.edit.maxLength() == p.max_length


@pytest.mark.parametrize("op", OPERATIONS, ids=[o.key for o in OPERATIONS])
def test_panel_has_a_control_per_parameter(qtbot, op):
    model = OperationModel(CATALOG)
    model.select(op.key)
    panel = ParamPanel(model)
    qtbot.addWidget(panel)
    assert set(panel.controls) == {p.name for p in op.params}
    for name, c in panel.controls.items():
        assert c.isEnabled() == model.applies(name)


def test_area_toggles_form_a_grouped_grid(qtbot):
    model = OperationModel(CATALOG)
    model.select("enhancor.realistic_skin")
    panel = ParamPanel(model)
    qtbot.addWidget(panel)
    (grid,) = panel.grids
    assert len(grid.controls) == 19
    assert set(grid.heads) == {"face", "accessories", "body"}  # hair has one toggle: no head
    grid.all_button.click()
    assert all(model.value(c.param.name) for c in grid.controls)
    grid.heads["body"].click()  # all body areas on -> the heading turns them off
    assert not any(model.value(c.param.name) for c in grid.controls if c.param.subgroup == "body")
