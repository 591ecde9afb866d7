"""The generation pipelines. No Streamlit: the job runner calls them through the feature
registry (viba.studio.features), each with one Run: the inputs, options, model and prompt per step,
and where to report results.

Two pipelines serve the four features: `derivation` (a text step describes the image, then the
image step makes the variants at once) and `single_image` (one image step over every input).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from typing import Any

from viba.core.errors import UserError
from viba.engine import prompts
from viba.engine.gemini import (
    GeminiConfig,
    GenerationError,
    ImageResult,
    Input,
    TextResult,
    Turn,
    Usage,
    delete_upload,
    generate_image,
    generate_text,
    upload_image,
)
from viba.engine.images import PreparedImage
from viba.engine.prompts import PromptTemplate

log = logging.getLogger(__name__)

DERIVATION_VARIANTS = 4
MAX_AVATAR_PHOTOS = 3


class InvalidOptions(GenerationError):
    kind = "options"


class Cancelled(GenerationError):
    """The job was cancelled: no more calls start (the row says cancelled already)."""

    kind = "cancelled"


def _never() -> bool:
    return False


@dataclass
class Run:
    """One job as a pipeline sees it. Callbacks run on the pipeline's calling thread."""

    config: GeminiConfig
    images: list[PreparedImage]
    options: dict[str, Any]
    models: dict[str, str]  # step id -> model id
    prompts: dict[str, PromptTemplate]  # step id -> template in use
    steps: tuple[str, ...]  # the feature's step ids, in order
    outputs: int  # how many images the feature makes
    on_text: Callable[[str, TextResult], None] = lambda step, result: None
    on_image: Callable[[int, ImageResult], None] = lambda index, result: None  # index from 1
    on_failure: Callable[[int, GenerationError], None] = lambda index, error: None
    # A resumed job (its process died): outputs already kept (by index from 1), and the text
    # step's answer when it was already given; neither is asked of Gemini again.
    done: frozenset[int] = frozenset()
    description: TextResult | None = None
    cancelled: Callable[[], bool] = _never  # asked before each Gemini call starts
    conversation: list[Turn] = field(default_factory=list)  # a refinement's earlier turns
    instruction: str = ""  # a refinement's words

    @property
    def shape(self) -> Shape:
        """The output's aspect ratio and size, as the job recorded them (a generation made
        before they were chosen has neither: 3:4 at the model's default size)."""
        return Shape(
            self.options.get("aspect_ratio") or prompts.ASPECT_RATIO,
            self.options.get("image_size"),
        )


@dataclass(frozen=True)
class Shape:
    """An output image's aspect ratio and size (imageConfig's aspectRatio and imageSize)."""

    aspect_ratio: str = prompts.ASPECT_RATIO
    size: str | None = None


@dataclass(frozen=True)
class VariantFailure:
    index: int
    error: GenerationError


@dataclass
class DerivationResult:
    description: TextResult
    variants: list[ImageResult | None]  # by variant index; None where that variant failed
    failures: list[VariantFailure] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def images(self) -> list[ImageResult]:
        return [v for v in self.variants if v is not None]

    @property
    def usage(self) -> Usage:
        total = self.description.usage
        for image in self.images:
            total = total + image.usage
        return total


def check_derivation_options(creativity: int, skin_tone: str | None) -> None:
    if not isinstance(creativity, int) or not 1 <= creativity <= 10:
        raise InvalidOptions("Creativity must be a whole number from 1 to 10.")
    if skin_tone is not None and skin_tone not in prompts.SKIN_TONES:
        raise InvalidOptions(f"Skin tone must be one of {', '.join(prompts.SKIN_TONES)}.")


def derivation_variant_prompt(
    description: str,
    creativity: int,
    skin_tone: str | None,
    variant: int,
    variants: int = DERIVATION_VARIANTS,
    template: PromptTemplate = prompts.DERIVATION_IMAGE,
    aspect_ratio: str = prompts.ASPECT_RATIO,
) -> str:
    return template.render(
        variant=variant,
        variants=variants,
        description=description,
        creativity=creativity,
        creativity_guidance=prompts.creativity_guidance(creativity),
        skin_tone_instruction=prompts.skin_tone_instruction(skin_tone),
        aspect_ratio=aspect_ratio,
    )


def _make_variants(
    config: GeminiConfig,
    sent: Input,
    image_model: str,
    description: str,
    creativity: int,
    skin_tone: str | None,
    variants: int,
    todo: list[int],
    image_prompt: PromptTemplate,
    result: DerivationResult,
    on_variant: Callable[[int, ImageResult], None] | None,
    on_failure: Callable[[int, GenerationError], None] | None,
    shape: Shape,
) -> None:
    """Step 2: the variants `todo` at once, each reported as soon as it is done."""
    # Creativity is in the prompt; the temperature stays the model's default (Google recommends
    # 1.0 for Gemini 3 models: lower values can loop or degrade their answers).
    with ThreadPoolExecutor(max_workers=variants, thread_name_prefix="viba-variant") as pool:
        futures = {
            pool.submit(
                generate_image,
                config,
                image_model,
                [sent],
                derivation_variant_prompt(
                    description,
                    creativity,
                    skin_tone,
                    i + 1,
                    variants,
                    image_prompt,
                    shape.aspect_ratio,
                ),
                image_prompt.system,
                None,
                shape.aspect_ratio,
                shape.size,
            ): i
            for i in todo
        }
        for future in as_completed(futures):
            index = futures[future]
            try:
                variant = future.result()
            except GenerationError as exc:
                result.failures.append(VariantFailure(index, exc))
                if on_failure:
                    on_failure(index, exc)
                continue
            except Exception as exc:  # a bug must not lose the other variants
                log.exception("variant %s failed unexpectedly", index)
                error = GenerationError("This variant failed unexpectedly.", image_model)
                error.__cause__ = exc
                result.failures.append(VariantFailure(index, error))
                if on_failure:
                    on_failure(index, error)
                continue
            try:
                if on_variant:
                    on_variant(index, variant)
            except Exception as exc:  # it could not be kept: one failed variant, not the job
                log.warning("variant %s could not be kept: %s", index, exc)
                reason = str(exc) if isinstance(exc, UserError) else "an error on our side"
                error = GenerationError(f"This variant could not be kept ({reason}).", image_model)
                error.__cause__ = exc
                result.failures.append(VariantFailure(index, error))
                if on_failure:
                    on_failure(index, error)
                continue
            result.variants[index] = variant


def run_derivation(
    config: GeminiConfig,
    image: PreparedImage,
    text_model: str,
    image_model: str,
    creativity: int = 5,
    skin_tone: str | None = None,
    variants: int = DERIVATION_VARIANTS,
    on_description: Callable[[TextResult], None] | None = None,
    on_variant: Callable[[int, ImageResult], None] | None = None,
    on_failure: Callable[[int, GenerationError], None] | None = None,
    text_prompt: PromptTemplate = prompts.DERIVATION_TEXT,
    image_prompt: PromptTemplate = prompts.DERIVATION_IMAGE,
    done: frozenset[int] = frozenset(),
    description: TextResult | None = None,
    shape: Shape = Shape(),
    cancelled: Callable[[], bool] = _never,
) -> DerivationResult:
    """Describe the image (step 1), then make the variants concurrently (step 2).

    Callbacks run on the calling thread, each variant as soon as it is done. Failed variants
    are reported and the others kept; when every variant fails the first error is raised.
    Resuming, `description` is step 1's earlier answer and `done` the variant indexes (from 0)
    already kept: only the rest are made.
    """
    check_derivation_options(creativity, skin_tone)
    started = time.perf_counter()
    todo = [i for i in range(variants) if i not in done]
    calls = len(todo) + (description is None)
    # Used by several calls: uploaded once (Files API), referenced by URI in each.
    sent = upload_image(config, image) if calls > 1 else image
    try:
        if description is None:
            _stop_if(cancelled)
            description = generate_text(
                config,
                text_model,
                [sent],
                text_prompt.render(),
                system=text_prompt.system,
            )
            if on_description:
                on_description(description)
        result = DerivationResult(description, [None] * variants)
        _stop_if(cancelled)
        _make_variants(
            config,
            sent,
            image_model,
            description.text,
            creativity,
            skin_tone,
            variants,
            todo,
            image_prompt,
            result,
            on_variant,
            on_failure,
            shape,
        )
    finally:
        delete_upload(config, sent)
    result.failures.sort(key=lambda f: f.index)
    result.seconds = time.perf_counter() - started
    if not result.images and not done:
        raise result.failures[0].error
    return result


def _stop_if(cancelled: Callable[[], bool]) -> None:
    if cancelled():
        raise Cancelled("Cancelled.")


def avatar_prompt(photo_count: int, template: PromptTemplate = prompts.AVATAR) -> str:
    return template.render(**prompts.render_values(photo_count))


def _one_image(
    config: GeminiConfig,
    model: str,
    images: Sequence[PreparedImage],
    template: PromptTemplate,
    shape: Shape = Shape(),
) -> ImageResult:
    return generate_image(
        config,
        model,
        images,
        template.render(**prompts.render_values(len(images), shape.aspect_ratio)),
        system=template.system,
        aspect_ratio=shape.aspect_ratio,
        image_size=shape.size,
    )


def run_avatar(
    config: GeminiConfig,
    photos: Sequence[PreparedImage],
    model: str,
    template: PromptTemplate = prompts.AVATAR,
) -> ImageResult:
    if not 1 <= len(photos) <= MAX_AVATAR_PHOTOS:
        raise InvalidOptions(f"Give 1 to {MAX_AVATAR_PHOTOS} reference photos.")
    return _one_image(config, model, photos, template)


def run_try_on(
    config: GeminiConfig,
    person: PreparedImage,
    garment: PreparedImage,
    model: str,
    template: PromptTemplate = prompts.TRY_ON,
) -> ImageResult:
    return _one_image(config, model, [person, garment], template)


def run_swap(
    config: GeminiConfig,
    person: PreparedImage,
    scene: PreparedImage,
    model: str,
    template: PromptTemplate = prompts.SWAP,
) -> ImageResult:
    return _one_image(config, model, [person, scene], template)


# --- the pipelines the feature registry names ----------------------------------------------


def derivation(run: Run) -> None:
    """Step 1 describes the one input, step 2 makes `run.outputs` variants of it."""
    text_step, image_step = run.steps
    run_derivation(
        run.config,
        run.images[0],
        run.models[text_step],
        run.models[image_step],
        creativity=run.options.get("creativity", 5),
        skin_tone=run.options.get("skin_tone"),
        variants=run.outputs,
        on_description=lambda text: run.on_text(text_step, text),
        on_variant=lambda index, image: run.on_image(index + 1, image),
        on_failure=lambda index, error: run.on_failure(index + 1, error),
        text_prompt=run.prompts[text_step],
        image_prompt=run.prompts[image_step],
        done=frozenset(index - 1 for index in run.done),
        description=run.description,
        shape=run.shape,
        cancelled=run.cancelled,
    )


def refine(run: Run) -> None:
    """A refinement: the conversation so far (its last turn the image refined, with its
    thought signature), then the user's words; one image at the job's size and ratio."""
    _one_edit(run, [], prompts.refine_instruction, run.conversation)


def region_edit(run: Run) -> None:
    """A region edit: the crop of the part to change (the job's one input) and the user's
    words; one image, which the app pastes back inside the box (viba.engine.region)."""
    _one_edit(run, run.images, prompts.region_instruction)


def _one_edit(
    run: Run,
    images: Sequence[PreparedImage],
    instruction: Callable[[str, str], str],
    history: Sequence[Turn] = (),
) -> None:
    """One image from the user's words (`instruction` makes the turn's text from them and the
    ratio), with the images and the conversation given, at the job's size and ratio."""
    step = run.steps[-1]
    if 1 in run.done:
        return
    _stop_if(run.cancelled)
    template = run.prompts[step]
    shape = run.shape
    run.on_image(
        1,
        generate_image(
            run.config,
            run.models[step],
            images,
            instruction(run.instruction, shape.aspect_ratio),
            system=template.system,
            aspect_ratio=shape.aspect_ratio,
            image_size=shape.size,
            history=history,
        ),
    )


def single_image(run: Run) -> None:
    """The feature's one step makes one image from all its inputs."""
    step = run.steps[-1]
    if 1 in run.done:
        return
    _stop_if(run.cancelled)
    run.on_image(
        1, _one_image(run.config, run.models[step], run.images, run.prompts[step], run.shape)
    )
