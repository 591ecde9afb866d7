"""Refinements: a new generation from one output of an earlier one and a few words ("darker
background"), made by the image model with the whole conversation so far, as multi-turn
editing requires: the first round's inputs and prompt, then each image the model made (with
the thought signature it came with) and each instruction after it.

A refinement is a generation of its own (same feature, one image), chained to its parent by
generation_history.parent_id; any step of a chain can be refined again, up to MAX_ROUNDS.
"""

from __future__ import annotations

import uuid
from typing import Any

from viba.core.errors import UserError
from viba.engine import pipelines
from viba.engine.gemini import Turn
from viba.engine.images import PreparedImage
from viba.store.db import Database
from viba.store.image_store import ImageStore, mime_for
from viba.studio import budget, features, generations, prompt_store
from viba.studio.generations import GenerationView

MAX_ROUNDS = 10
MAX_INSTRUCTION = 2000
# Earlier rounds sent back with a refinement, at most: each is a whole image in the request
# (memory here, and Gemini takes 20 MB inline per request); an older start goes as the image
# to edit.
CONTEXT_ROUNDS = 3


class RefineError(UserError, ValueError):
    pass


def chain(db: Database, view: GenerationView) -> list[GenerationView]:
    """The generation and the ones it refines, first round first (at most MAX_ROUNDS + 1)."""
    found = [view]
    while found[0].parent_id is not None and len(found) <= MAX_ROUNDS:
        parent = generations.find(db, view.user_id, found[0].parent_id)
        if parent is None:  # deleted: the chain starts here
            break
        found.insert(0, parent)
    return found


def plan(
    db: Database,
    store: ImageStore,
    user_id: uuid.UUID,
    parent_id: uuid.UUID,
    output_key: str,
    instruction: str,
) -> tuple[GenerationView, PreparedImage, dict[str, Any]]:
    """Check a refinement and what its row keeps: (parent, the image refined, params)."""
    words = " ".join((instruction or "").split())
    if not words:
        raise RefineError("Say what to change, for example “a darker background”.")
    if len(words) > MAX_INSTRUCTION:
        raise RefineError(f"Keep it under {MAX_INSTRUCTION} characters.")
    parent = generations.find(db, user_id, parent_id)
    if parent is None:
        raise RefineError("That generation does not exist (or is not yours).")
    if output_key not in parent.output_keys:
        raise RefineError("That image is not one of this generation's results.")
    if len(chain(db, parent)) > MAX_ROUNDS:
        raise RefineError(f"A chain of refinements stops at {MAX_ROUNDS} rounds: start anew.")
    feature = features.get(parent.type)
    step = feature.image_step
    used = parent.input_params
    model = features.catalog().resolve(step, (used.get("models") or {}).get(step)).model
    kept = used.get("options") or {}
    options = {k: kept[k] for k in ("image_size", "aspect_ratio") if kept.get(k)}
    image = generations.stored_image(
        store, output_key, f"viba-{parent.type}-{parent.id.hex[:8]}.{mime_for(output_key)[6:]}"
    )
    refinement = one_image_step(feature, pipelines.refine)
    params = {
        "options": options,
        "models": {step: model},
        "prompt_versions": {
            step: (used.get("prompt_versions") or {}).get(step, prompt_store.BUILTIN)
        },
        "input_names": [image.name],
        "prompt": words,
        "refine": {"parent": str(parent.id), "output": output_key, "instruction": words},
        "estimate_usd": budget.estimate(refinement, {step: model}, options, 1),
    }
    return parent, image, params


def one_image_step(feature: features.Feature, pipeline: Any) -> features.Feature:
    """The feature as a one-image job of its image step alone (a refinement, a region
    edit), for its cost estimate."""
    return features.Feature(
        feature.key, feature.page, feature.icon, feature.intro_key, (feature.steps[-1],),
        feature.slots, 1, pipeline,
    )  # fmt: skip


def conversation(db: Database, store: ImageStore, view: GenerationView) -> list[Turn]:
    """The turns before a refinement's own words: the first round's inputs and prompt, then
    for each round the image the next one refined (with its signature) and that round's
    instruction; only the last CONTEXT_ROUNDS rounds of a long chain."""
    rounds = chain(db, view)[:-1]  # the ones before it, first round first
    if not rounds:
        raise RefineError("The generation this refines is gone: use Run again instead.")
    if len(rounds) > CONTEXT_ROUNDS:
        # A long chain starts at the image its last rounds began from, with those words.
        rounds = rounds[-CONTEXT_ROUNDS:]
        first = rounds[0]  # a refinement: its input is the image it refined
        words = str((first.refinement or {}).get("instruction") or "")
        start = generations.load_inputs(store, first)
        turns = [Turn("user", f"This is the image to edit.\n{words}", start)]
    else:
        first = rounds[0]
        refined = str(((rounds[1:] or [view])[0].refinement or {}).get("output") or "")
        prompt = _first_prompt(db, first, refined)
        turns = [Turn("user", prompt, generations.load_inputs(store, first))]
    following = [*rounds[1:], view]
    for made, next_round in zip(rounds, following):
        key = (next_round.refinement or {}).get("output")
        if not key or key not in made.output_keys:
            raise RefineError("An image of this conversation is gone: use Run again instead.")
        meta = (made.details.get("outputs") or {}).get(key) or {}
        signature = str(meta.get("signature") or "")
        if signature:
            turns.append(
                Turn("model", image=store.load(key), mime_type=mime_for(key), signature=signature)
            )
        else:
            # Made before signatures were kept (or by a model that sends none): Gemini 3
            # refuses a model image without one, so it goes back as the user's image to edit.
            image = generations.stored_image(store, key, "image to edit")
            turns.append(Turn("user", "This is the image to edit.", [image]))
        if next_round is not view:
            turns.append(Turn("user", str((next_round.refinement or {}).get("instruction"))))
    return turns


def _first_prompt(db: Database, view: GenerationView, refined_key: str) -> str:
    """What the first round asked of the image model: a single-image feature's prompt as
    stored; a Derivation's prompt for the variant that was refined, made again from its
    description and options with the prompt version it was made with (an admin may have
    changed the prompt since)."""
    spec = features.get(view.type)
    if not spec.describes_first:
        return str(view.input_params.get("prompt") or "")
    options = view.input_params.get("options") or {}
    versions = view.input_params.get("prompt_versions") or {}
    meta = (view.details.get("outputs") or {}).get(refined_key) or {}
    return pipelines.derivation_variant_prompt(
        str(view.details.get("description") or ""),
        int(options.get("creativity") or 5),
        options.get("skin_tone"),
        int(meta.get("variant") or 1),
        spec.outputs,
        prompt_store.templates_for(db, versions)[spec.image_step],
        str(options.get("aspect_ratio") or "3:4"),
    )
