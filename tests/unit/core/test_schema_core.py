"""The schema loader and validator on the Enhancor and CodeFormer files."""

from __future__ import annotations

import pytest

from retouchdesk.core.errors import ParameterError
from retouchdesk.core.schema import Inapplicable, load_catalog


@pytest.fixture(scope="module")
def catalog():
    return load_catalog()


def test_conditional_default_and_range_follow_model_version(catalog):
    op = catalog.operation("enhancor", "realistic_skin")
    assert op.validate({})["skin_realism_Level"] == 1.7
    v3 = op.validate({"model_version": "enhancorv3"})
    assert v3["skin_realism_Level"] == 0.1
    with pytest.raises(ParameterError, match="from 0 to 3"):
        op.validate({"model_version": "enhancorv3", "skin_realism_Level": "4"})
    assert op.validate({"skin_realism_Level": "4"})["skin_realism_Level"] == 4.0


def test_inapplicable_fields_are_not_serialised(catalog):
    op = catalog.operation("enhancor", "realistic_skin")
    v1 = op.serialize(op.validate({}))
    assert "output_resolution" not in v1 and "mask_expand" not in v1
    assert "portrait_depth" not in v1
    heavy = op.serialize(op.validate({"enhancementMode": "heavy"}))
    assert heavy["portrait_depth"] == 0.2
    v3 = op.serialize(op.validate({"model_version": "enhancorv3"}))
    assert "enhancementMode" not in v3 and v3["output_resolution"] == 2048


def test_inapplicable_value_is_an_error_or_dropped(catalog):
    op = catalog.operation("enhancor", "realistic_skin")
    with pytest.raises(ParameterError, match="only for model v3"):
        op.validate({"output_resolution": 1500})
    assert "output_resolution" not in op.validate(
        {"output_resolution": 1500}, inapplicable=Inapplicable.DROP
    )


def test_errors_name_parameter_and_allowed_values(catalog):
    op = catalog.operation("codeformer", "restore")
    with pytest.raises(ParameterError, match=r"upscale must be one of: 1, 2, 4"):
        op.validate({"upscale": "3"})
    with pytest.raises(ParameterError, match=r"Unknown parameter 'strength'.*fidelity"):
        op.validate({"strength": 1})
    with pytest.raises(ParameterError, match="fidelity must be a number from 0 to 1"):
        op.validate({"fidelity": "1.5"})
    assert op.validate({"upscale": "4", "background_enhance": "yes"})["upscale"] == 4
