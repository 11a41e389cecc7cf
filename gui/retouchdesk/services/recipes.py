"""Running a recipe's step on a photo, and making a recipe from a chain of finished jobs.

Shared by ``retouchdesk run --recipe`` and the window's Apply recipe: both turn a
:class:`core.recipe.Step` into validated parameters for one input (masks resolved by role,
see :mod:`core.recipe`) and the job option that writes the chain into the result's XMP.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from retouchdesk.core import recipe as core_recipe
from retouchdesk.core.errors import InputError
from retouchdesk.core.jobs import JobRecord
from retouchdesk.core.schema import Catalog, Inapplicable, Operation, ParamKind

RECIPE_OPTION = "recipe"  # the engine's job option (services.results.RECIPE)


def mask_params(op: Operation) -> list[str]:
    return [p.name for p in op.params if p.kind is ParamKind.MASK]


def step_params(
    catalog: Catalog,
    step: core_recipe.Step,
    *,
    photo: Path,
    input_path: Path,
    recipe_dir: Path | None,
    index: int,
) -> dict[str, Any]:
    """Validated parameters of ``step`` for ``input_path`` (a photo or an earlier step's result).

    Raises :class:`InputError` (one sentence) when the step cannot run on this photo.
    """
    from retouchdesk.core import imageio
    from retouchdesk.services.masks import MaskLibrary

    op = catalog.operation(step.provider, step.operation)
    names = mask_params(op)
    raw = {k: v for k, v in step.params.items() if k not in names}
    if not names or step.mask_role == "none":
        return op.validate(raw, inapplicable=Inapplicable.DROP)
    info = imageio.probe(input_path)
    size = (info.width, info.height)
    library = MaskLibrary()
    if step.mask_role == "file":
        if not step.mask:
            raise InputError(f"Step {index + 1} ({op.label}) has mask_role 'file' but no mask")
        mask_file = Path(step.mask).expanduser()
        if not mask_file.is_absolute() and recipe_dir is not None:
            mask_file = recipe_dir / mask_file
        if not mask_file.is_file():
            raise InputError(f"The mask {step.mask} of step {index + 1} ({op.label}) is missing")
        arr = library.for_result(mask_file, size)
    else:
        found = library.load(photo, size)
        if found is None:
            raise InputError(
                f"{photo.name}: step {index + 1} ({op.label}) needs a mask painted on this photo"
            )
        arr = found
    frozen = library.freeze(arr)
    for name in names:
        raw[name] = str(frozen)
    return op.validate(raw, inapplicable=Inapplicable.DROP)


def for_provenance(catalog: Catalog, step: core_recipe.Step) -> core_recipe.Step:
    """``step`` as a result's XMP may show it: file parameters (reference images) by name
    only, a mask by its digest, never a path of this computer."""
    try:
        op = catalog.operation(step.provider, step.operation)
        files = {p.name for p in op.params if p.kind is ParamKind.IMAGE}
    except Exception:
        files = set()
    params = {k: (Path(str(v)).name if k in files and v else v) for k, v in step.params.items()}
    mask = Path(step.mask).stem if step.mask else ""
    return core_recipe.Step(step.provider, step.operation, params, step.mask_role, mask)


def recipe_option(recipe: core_recipe.Recipe) -> dict[str, Any]:
    """The job options that write ``recipe`` (the chain up to this job) into its results."""
    return {RECIPE_OPTION: recipe.as_dict()}


def recipe_of(rec: JobRecord) -> core_recipe.Recipe | None:
    """The chain a finished job recorded (its recipe option), or None."""
    data = rec.options.get(RECIPE_OPTION)
    if not isinstance(data, dict):
        return None
    try:
        return core_recipe.from_dict(data)
    except InputError:
        return None


def step_of(catalog: Catalog, rec: JobRecord) -> core_recipe.Step:
    """One job as a recipe step: parameters without file paths, masks as a role."""
    return step_for(catalog, rec.provider, rec.operation, rec.params)


def step_for(
    catalog: Catalog, provider: str, operation: str, params: dict[str, Any]
) -> core_recipe.Step:
    """A step from a job's parameters; a mask parameter becomes role ``photo`` + its file."""
    try:
        op = catalog.operation(provider, operation)
        names = set(mask_params(op))
    except Exception:  # a provider that is gone: keep what the job recorded
        names = set()
    kept = {k: v for k, v in params.items() if k not in names and v is not None}
    masks = [str(params[n]) for n in names if params.get(n)]
    return core_recipe.Step(
        provider, operation, kept, "photo" if masks else "none", masks[0] if masks else ""
    )


def save_recipe(
    catalog: Catalog, chain: list[JobRecord], destination: Path, *, name: str = ""
) -> core_recipe.Recipe:
    """Write the recipe of ``chain`` (oldest first) as TOML; masks are copied beside it.

    A step's mask becomes ``<recipe stem>.mask<N>.png`` with role ``file``, so the recipe
    runs the same on other photos (the mask resampled to each photo).
    """
    steps = []
    for i, rec in enumerate(chain):
        step = step_of(catalog, rec)
        if step.mask_role == "photo" and step.mask and Path(step.mask).is_file():
            copy = destination.with_name(f"{destination.stem}.mask{i + 1}.png")
            shutil.copyfile(step.mask, copy)
            step.mask_role, step.mask = "file", copy.name
        steps.append(step)
    recipe = core_recipe.Recipe(steps, name=name or destination.stem)
    tmp = destination.with_name(destination.name + ".part")
    tmp.write_text(core_recipe.to_toml(recipe), encoding="utf-8")
    tmp.replace(destination)
    return recipe
