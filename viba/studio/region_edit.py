"""Region edits: change one part of an output in words ("make the sky stormy"), nothing
outside it. The part is a box or brush strokes painted over the output. The crop (the part's
bounds and a margin of context) is the job's input; the model's answer is pasted back inside
the part with a soft edge (viba.engine.region), so the output is the whole picture with only
that part changed. A region edit is a generation of its own, of
one image, that names the output it edits.
"""

from __future__ import annotations

import io
import uuid
from typing import Any

from PIL import Image

from viba.core.errors import UserError
from viba.engine import pipelines, region
from viba.engine.gemini import ImageResult
from viba.engine.images import PreparedImage, holding, prepare_image
from viba.store.image_store import ImageStore
from viba.studio import budget, features, output, prompt_store
from viba.studio.generations import GenerationView
from viba.studio.refine import MAX_INSTRUCTION, one_image_step


class RegionEditError(UserError, ValueError):
    pass


def plan(
    store: ImageStore,
    parent: GenerationView | None,
    output_key: str,
    mark: tuple[float, float, float, float] | region.Brush,
    instruction: str,
) -> tuple[PreparedImage, dict[str, Any]]:
    """Check a region edit of the user's own generation (`parent`, None when it is not
    theirs or gone) and what its row keeps: (the crop to send, params)."""
    words = " ".join((instruction or "").split())
    if not words:
        raise RegionEditError("Say what to change there, for example “a stormy sky”.")
    if len(words) > MAX_INSTRUCTION:
        raise RegionEditError(f"Keep it under {MAX_INSTRUCTION} characters.")
    if parent is None:
        raise RegionEditError("That generation does not exist (or is not yours).")
    if output_key not in parent.output_keys:
        raise RegionEditError("That image is not one of this generation's results.")
    with holding():  # the output decoded whole, in the process that submits: a few at a time
        original = store.load(output_key)
        with Image.open(io.BytesIO(original)) as probe:
            size = probe.size
        cut = region.plan(size, mark)
        crop = prepare_image(region.cropped(original, cut), f"region-{parent.id.hex[:8]}.png")
        del original
    feature = features.get(parent.type)
    step = feature.image_step
    used = parent.input_params
    model = features.catalog().resolve(step, (used.get("models") or {}).get(step)).model
    info = features.catalog().get(model)
    width, height = cut.crop[2] - cut.crop[0], cut.crop[3] - cut.crop[1]
    size_asked = (used.get("options") or {}).get(output.SIZE_OPTION)
    options = {
        **output.nearest_output(info, size_asked, None),
        output.RATIO_OPTION: output.nearest_ratio(width, height, output.ratios_for(info)),
    } if info else {}  # fmt: skip
    one_step = one_image_step(feature, pipelines.region_edit)
    params = {
        "options": options,
        "models": {step: model},
        "prompt_versions": {
            step: (used.get("prompt_versions") or {}).get(step, prompt_store.BUILTIN)
        },
        "input_names": [crop.name],
        "prompt": words,
        "region": {
            "parent": str(parent.id),
            "output": output_key,
            "box": list(cut.box),
            "crop": list(cut.crop),
            **(
                {"strokes": [[r, [list(p) for p in points]] for r, points in cut.strokes]}
                if cut.strokes
                else {}
            ),
            "instruction": words,
        },
        "estimate_usd": budget.estimate(one_step, {step: model}, options, 1),
    }
    return crop, params


def pasted_result(store: ImageStore, view: GenerationView, answer: ImageResult) -> ImageResult:
    """The model's answer for a region edit, as the job's output: the edited output it names
    with the answer inside the region (PNG; no thought signature: it is not the model's
    image)."""
    found = view.region or {}
    strokes = tuple(
        (int(r), tuple((int(x), int(y)) for x, y in points))
        for r, points in found.get("strokes") or ()
    )
    cut = region.Plan(tuple(found["box"]), tuple(found["crop"]), strokes)
    with holding():  # a decoded 4K picture is large: a few at a time per process
        data = region.pasted(store.load(str(found["output"])), answer.data, cut)
    return ImageResult(
        data, "image/png", answer.model, answer.usage, answer.seconds, answer.thoughts
    )


def parent_of(view: GenerationView) -> uuid.UUID | None:
    try:
        return uuid.UUID(str((view.region or {}).get("parent")))
    except ValueError:
        return None
