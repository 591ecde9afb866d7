"""Check the real Gemini service with a real key: every feature once, at the smallest size
each image model makes, on each configured model; one PASS or FAIL line per model and feature,
with the tokens and the estimated cost it spent, and the total.

    GEMINI_API_KEY=... python -m viba.commands.live_check
    GEMINI_API_KEY=... python -m viba.commands.live_check \
        --models gemini-nano-banana-2.1 --features avatar

Configured models: the catalog's usable image models, each running Derivation, Avatar, Try-On
and Swap through the same pipelines as the studio (Derivation's text step on the default text
model), and its usable text models, each describing the test photo once. The inputs are drawn
here (a figure, a shirt, a street), so nothing personal is sent. It exits 1 when any line
fails. Then a NEW line for each model the key's list offers that the catalog does not know
(Google shipped it: adopt it), and a GONE line for each usable catalog model the list lacks.
GEMINI_BASE_URL points it elsewhere (the tests point it at the fake).
"""

from __future__ import annotations

import argparse
import io
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from PIL import Image, ImageDraw

from viba.core.config import get_settings
from viba.core.errors import UserError
from viba.engine import prompts
from viba.engine.catalog import SIZES, Catalog, ModelInfo
from viba.engine.gemini import (
    GeminiConfig,
    ImageResult,
    TextResult,
    Usage,
    generate_text,
    list_models,
)
from viba.engine.images import PreparedImage, prepare_image
from viba.engine.pipelines import Run
from viba.studio import features, output


@dataclass(frozen=True)
class Line:
    ok: bool
    feature: str
    model: str
    detail: str  # what came back, or why it failed
    seconds: float
    tokens: int
    cost: float | None  # USD; None where the catalog has no price

    def __str__(self) -> str:
        cost = f"${self.cost:.4f}" if self.cost is not None else "price not in the catalog"
        return (
            f"{'PASS' if self.ok else 'FAIL'}  {self.feature:<10} {self.model:<28} "
            f"{self.seconds:6.1f} s  {self.tokens:>6} tokens  {cost:<12}  {self.detail}"
        )


def test_images() -> dict[str, PreparedImage]:
    """A person, a garment and a scene, drawn (nothing personal is sent)."""

    def drawn(size: tuple[int, int], paint: Callable[[ImageDraw.ImageDraw], None]) -> bytes:
        img = Image.new("RGB", size, (236, 232, 226))
        paint(ImageDraw.Draw(img))
        out = io.BytesIO()
        img.save(out, format="PNG")
        return out.getvalue()

    def person(d: ImageDraw.ImageDraw) -> None:
        d.ellipse((220, 80, 380, 260), fill=(224, 172, 140))  # head
        d.rectangle((200, 270, 400, 620), fill=(70, 90, 160))  # body
        d.rectangle((220, 620, 290, 780), fill=(40, 40, 50))  # legs
        d.rectangle((310, 620, 380, 780), fill=(40, 40, 50))

    def shirt(d: ImageDraw.ImageDraw) -> None:
        d.polygon(
            [(180, 120), (420, 120), (520, 260), (450, 300), (430, 260), (430, 620)]
            + [(170, 620), (170, 260), (150, 300), (80, 260)],
            fill=(200, 40, 60),
        )

    def street(d: ImageDraw.ImageDraw) -> None:
        d.rectangle((0, 0, 960, 300), fill=(150, 190, 230))  # sky
        d.rectangle((0, 300, 960, 540), fill=(110, 110, 115))  # road
        for x in range(40, 960, 200):
            d.rectangle((x, 120, x + 120, 300), fill=(180, 150, 120))  # houses

    return {
        "person": prepare_image(drawn((600, 800), person), "person.png"),
        "garment": prepare_image(drawn((600, 700), shirt), "garment.png"),
        "scene": prepare_image(drawn((960, 540), street), "scene.png"),
    }


def _inputs(feature: features.Feature, images: dict[str, PreparedImage]) -> list[PreparedImage]:
    by_role = {"image": images["person"], "photo": images["person"], **images}
    return [by_role[slot.role] for slot in feature.slots]


def _smallest(model: ModelInfo) -> str:
    return min(output.sizes_for(model), key=SIZES.index)


def _cost(parts: Sequence[tuple[ModelInfo | None, Usage]]) -> float | None:
    costs = [info.cost(usage) if info else None for info, usage in parts]
    return None if any(c is None for c in costs) else sum(c or 0.0 for c in costs)


def check_feature(
    config: GeminiConfig,
    catalog: Catalog,
    feature: features.Feature,
    model: ModelInfo,
    images: dict[str, PreparedImage],
) -> Line:
    """One run of a feature through its registry pipeline, as a job runs it."""
    inputs = _inputs(feature, images)
    models = {step.id: catalog.default_for(step.id) for step in feature.steps}
    models[feature.image_step] = model.id
    texts: list[TextResult] = []
    made: dict[int, ImageResult] = {}
    failures: list[str] = []
    started = time.perf_counter()
    try:
        shape = output.choose(
            feature, {output.SIZE_OPTION: _smallest(model)}, model, model.id, inputs
        )
        feature.pipeline(
            Run(
                config=config,
                images=inputs,
                options=shape,
                models=models,
                prompts=features.builtin_prompts(),
                steps=feature.step_ids,
                outputs=feature.outputs,
                on_text=lambda step, text: texts.append(text),
                on_image=lambda index, image: made.__setitem__(index, image),
                on_failure=lambda index, error: failures.append(f"image {index}: {error}"),
            )
        )
    except UserError as exc:
        failures.append(str(exc))
    seconds = time.perf_counter() - started
    parts = [(catalog.get(t.model), t.usage) for t in texts]
    parts += [(model, image.usage) for image in made.values()]
    tokens = sum(usage.total_tokens for _, usage in parts)
    if len(made) < feature.outputs and not failures:
        failures.append(f"{len(made)} of {feature.outputs} images came back")
    if failures:
        detail = "; ".join(failures)
    else:
        sizes = sorted({_pixels(image) for image in made.values()})
        detail = (
            f"{len(made)} image(s) {', '.join(sizes)} at {shape[output.SIZE_OPTION]} "
            f"{shape[output.RATIO_OPTION]}"
        )
    return Line(not failures, feature.key, model.id, detail, seconds, tokens, _cost(parts))


def _pixels(image: ImageResult) -> str:
    with Image.open(io.BytesIO(image.data)) as img:
        return f"{img.width}x{img.height} {image.mime_type.removeprefix('image/')}"


def check_text(config: GeminiConfig, model: ModelInfo, image: PreparedImage) -> Line:
    template = prompts.DERIVATION_TEXT
    started = time.perf_counter()
    try:
        result = generate_text(config, model.id, [image], template.render(), template.system)
    except UserError as exc:
        return Line(False, "describe", model.id, str(exc), time.perf_counter() - started, 0, None)
    words = len(result.text.split())
    return Line(
        True,
        "describe",
        model.id,
        f"{words} words",
        result.seconds,
        result.usage.total_tokens,
        model.cost(result.usage),
    )


def run_checks(
    config: GeminiConfig,
    catalog: Catalog,
    models: Sequence[str] = (),
    feature_keys: Sequence[str] = (),
    report: Callable[[Line], None] = print,
) -> list[Line]:
    usable = [m for m in catalog.models.values() if m.usable and (not models or m.id in models)]
    chosen = [features.get(k) for k in feature_keys] if feature_keys else features.all_features()
    images = test_images()
    lines = []

    def record(line: Line) -> None:
        report(line)
        lines.append(line)

    for model in usable:
        if model.capability == "image":
            for feature in chosen:
                record(check_feature(config, catalog, feature, model, images))
        elif any(f.describes_first for f in chosen):  # the features' describing step
            record(check_text(config, model, images["person"]))
    return lines


def unknown_models(config: GeminiConfig, catalog: Catalog) -> list[str]:
    """Lines for the models the key's list offers that the catalog does not know (new ones
    Google shipped: adopt them on Admin > Models, or in the catalog file), and the catalog's
    usable models the list lacks. A list that cannot be read is one line too."""
    try:
        listed = list_models(config)
    except UserError as exc:
        return [f"LIST   the key's model list could not be read: {exc}"]
    lines = []
    for m in sorted(listed, key=lambda m: m.id):
        if catalog.get(m.id) is None:
            limits = (
                f"; input {m.input_token_limit} / output {m.output_token_limit} tokens"
                if m.input_token_limit and m.output_token_limit
                else ""
            )
            about = f" ({m.description})" if m.description else ""
            lines.append(
                f"NEW    {m.id}: “{m.display_name or m.id}”{about}{limits}; "
                "listed by this key, not in the catalog"
            )
    ids = {m.id for m in listed}
    for model in sorted(catalog.models.values(), key=lambda m: m.id):
        if model.usable and model.id not in ids:
            lines.append(f"GONE   {model.id}: in the catalog, not listed by this key")
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m viba.commands.live_check",
        description="Run every feature once against Gemini with GEMINI_API_KEY.",
    )
    parser.add_argument("--models", default="", help="comma-separated model ids (default: all)")
    parser.add_argument("--features", default="", help="comma-separated feature keys")
    args = parser.parse_args(argv)
    try:
        config = GeminiConfig.from_settings(get_settings())
        catalog = features.catalog()
        wanted = [m for m in args.models.split(",") if m]
        unknown = [m for m in wanted if catalog.get(m) is None]
        if unknown:
            raise UserError(f"Not in the model catalog: {', '.join(unknown)}.")
        keys = [k for k in args.features.split(",") if k]
        for key in keys:
            features.get(key)
    except UserError as exc:
        print(exc, file=sys.stderr)
        return 2
    where = config.base_url or "Gemini"
    print(f"Checking {where} with key …{config.api_key[-4:]} ({time.strftime('%Y-%m-%d %H:%M')})")
    lines = run_checks(config, catalog, wanted, keys, lambda line: print(line, flush=True))
    failed = sum(not line.ok for line in lines)
    costs = [line.cost for line in lines if line.cost is not None]
    unpriced = sum(line.cost is None and line.tokens > 0 for line in lines)
    for line in unknown_models(config, catalog):
        print(line)
    print(
        f"{len(lines) - failed} passed, {failed} failed; estimated cost ${sum(costs):.4f}"
        + (f" (+{unpriced} runs without a price)" if unpriced else "")
    )
    return 1 if failed or not lines else 0


if __name__ == "__main__":
    sys.exit(main())
