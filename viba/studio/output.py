"""An output image's size and aspect ratio: what a feature makes by default, what the chosen
image model can make (the catalog says), and the aspect ratio nearest to an input's.

A choice is checked before any Gemini call: a size or ratio the model cannot make is refused
with a sentence, never sent. "auto" (the default where a feature's output follows one of its
inputs) becomes the model's ratio nearest to that input's shape when the job is submitted, so
a generation always records the ratio it asked for.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from viba.core.errors import UserError
from viba.engine.catalog import SIZES, ModelInfo
from viba.engine.images import PreparedImage
from viba.studio.features import Feature

AUTO = "auto"  # the aspect ratio of the input the feature follows
FALLBACK_RATIO = "3:4"  # where there is no input to follow (a portrait)
SIZE_OPTION = "image_size"  # their names among a generation's options
RATIO_OPTION = "aspect_ratio"


class OutputError(UserError, ValueError):
    """A size or aspect ratio the model cannot make; the message is for the user."""


def _value(ratio: str) -> float:
    width, height = ratio.split(":")
    return int(width) / int(height)


def nearest_ratio(width: int, height: int, supported: Sequence[str]) -> str:
    """The supported ratio closest to width:height (compared as logarithms, so 2:1 and 1:2 are
    as far from 1:1)."""
    shape = math.log(max(width, 1) / max(height, 1))
    return min(supported, key=lambda r: abs(math.log(_value(r)) - shape))


def sizes_for(model: ModelInfo | None) -> tuple[str, ...]:
    return model.sizes if model and model.sizes else SIZES


def ratios_for(model: ModelInfo | None) -> tuple[str, ...]:
    if model and model.aspect_ratios:
        return model.aspect_ratios
    return ("1:1", "2:3", "3:2", "3:4", "4:3", "4:5", "5:4", "9:16", "16:9", "21:9")


def defaults(feature: Feature, model: ModelInfo | None) -> dict[str, str]:
    """The feature's default size (or the model's nearest one below it) and ratio."""
    sizes = sizes_for(model)
    wanted = SIZES.index(feature.default_size)
    size = next((s for s in reversed(sizes) if SIZES.index(s) <= wanted), sizes[0])
    ratio = AUTO if feature.ratio_from else _fallback(model)
    return {SIZE_OPTION: size, RATIO_OPTION: ratio}


def _fallback(model: ModelInfo | None) -> str:
    ratios = ratios_for(model)
    return FALLBACK_RATIO if FALLBACK_RATIO in ratios else ratios[0]


def _model_name(model: ModelInfo | None, model_id: str) -> str:
    return model.label.split(" (")[0] if model else model_id


def choose(
    feature: Feature,
    requested: dict[str, Any],
    model: ModelInfo | None,
    model_id: str,
    images: Sequence[PreparedImage],
) -> dict[str, str]:
    """The size and ratio a job asks Gemini for: the requested ones (or the feature's
    defaults), checked against the model; "auto" resolved from the input the feature follows.
    Raises OutputError with a sentence for a choice the model cannot make."""
    chosen = defaults(feature, model)
    size = requested.get(SIZE_OPTION) or chosen[SIZE_OPTION]
    ratio = requested.get(RATIO_OPTION) or chosen[RATIO_OPTION]
    name = _model_name(model, model_id)
    sizes, ratios = sizes_for(model), ratios_for(model)
    if size not in sizes:
        raise OutputError(
            f"{name} makes images of {', '.join(sizes)}, not {str(size)[:10]!r}: "
            "choose one of those sizes."
        )
    if ratio == AUTO:
        follow = _followed(feature, images)
        ratio = nearest_ratio(follow.width, follow.height, ratios) if follow else _fallback(model)
    elif ratio not in ratios:
        raise OutputError(
            f"{name} cannot make the aspect ratio {str(ratio)[:10]!r}: choose one of "
            f"{', '.join(ratios)}."
        )
    return {SIZE_OPTION: size, RATIO_OPTION: ratio}


def nearest_output(model: ModelInfo, size: str | None, ratio: str | None) -> dict[str, str]:
    """The size and ratio a model makes nearest to those asked: the largest size not above
    the one asked (else its smallest), the ratio closest in shape."""
    sizes = sizes_for(model)
    wanted = SIZES.index(size) if size in SIZES else len(SIZES)
    below = [s for s in sizes if SIZES.index(s) <= wanted]
    chosen = {SIZE_OPTION: below[-1] if below else sizes[0]}
    if ratio:
        width, height = (int(x) for x in ratio.split(":"))
        chosen[RATIO_OPTION] = nearest_ratio(width, height, ratios_for(model))
    return chosen


def _followed(feature: Feature, images: Sequence[PreparedImage]) -> PreparedImage | None:
    """The input whose shape the output follows (slot `feature.ratio_from`), if any."""
    if not feature.ratio_from:
        return None
    position = 0  # the slots before it each give a fixed number of images
    for slot in feature.slots:
        if slot.role == feature.ratio_from:
            return images[position] if position < len(images) else None
        if not slot.batch and slot.min != slot.max:
            return None
        position += 1 if slot.batch else slot.max
    return None
