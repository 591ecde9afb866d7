"""The model catalog (model_catalog.toml beside this file): which Gemini models there are, what
each can do (text or image), which are retired and what replaces them, and the default per
capability (a step may override it).

The catalog knows no feature: which steps exist, and what capability each needs, is handed to it
(`load_catalog(steps)`; viba.studio.features.catalog() hands it the registry's). A catalog loaded
without steps answers about models (their info, replacements, prices) and capabilities only."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from viba.core.errors import UserError

CATALOG_FILE = Path(__file__).with_name("model_catalog.toml")

Capability = Literal["text", "image"]
CAPABILITIES: tuple[Capability, ...] = ("text", "image")
STATUSES = ("current", "preview", "deprecated", "shut_down", "never_existed")
SIZES = ("512", "1K", "2K", "4K")  # Gemini's imageSize values, smallest first
UNUSABLE = ("shut_down", "never_existed")


class CatalogError(UserError, ValueError):
    pass


@dataclass(frozen=True)
class ModelInfo:
    id: str
    capability: Capability
    label: str
    status: str
    replacement: str | None = None
    auto_map: bool = False
    # Image models: what they can make (imageSize and aspectRatio values), and the tokens an
    # output image costs at each size.
    sizes: tuple[str, ...] = ()
    aspect_ratios: tuple[str, ...] = ()
    output_tokens: dict[str, int] = field(default_factory=dict, hash=False, compare=False)
    # USD per million tokens: input, output (text and thinking), image_output
    price: dict[str, float] = field(default_factory=dict, hash=False, compare=False)
    label_zh: str | None = None  # the label in 中文 (else the English one)

    def label_in(self, lang: str) -> str:
        return self.label_zh if lang == "zh" and self.label_zh else self.label

    def cost(self, usage: Any) -> float | None:
        """The estimated USD cost of a call's usage (a viba.engine.gemini.Usage), or None without a
        price. Output image tokens at the image price, the rest of the output and the
        thoughts at the text price."""
        if not self.price:
            return None
        text_out = usage.output_tokens - usage.image_tokens + usage.thought_tokens
        return (
            usage.prompt_tokens * self.price.get("input", 0.0)
            + text_out * self.price.get("output", 0.0)
            + usage.image_tokens * self.price.get("image_output", 0.0)
        ) / 1_000_000

    def __post_init__(self) -> None:  # TOML gives lists
        object.__setattr__(self, "sizes", tuple(self.sizes))
        object.__setattr__(self, "aspect_ratios", tuple(self.aspect_ratios))

    @property
    def usable(self) -> bool:
        return self.status not in UNUSABLE


@dataclass(frozen=True)
class Resolved:
    """The model to call for a step, and a note when it is not the one asked for."""

    model: str
    note: str | None = None


class Catalog:
    def __init__(
        self,
        models: list[ModelInfo],
        defaults: dict[str, str],
        steps: Mapping[str, Capability] | None = None,
    ) -> None:
        """steps: every step and the capability it needs (none: a catalog of models only,
        whose per-step defaults are not checked)."""
        self.models = {m.id: m for m in models}
        self._defaults = defaults  # per capability, and optionally per step
        self.steps: dict[str, Capability] = dict(steps or {})
        self._validate(checks_steps=steps is not None)

    @property
    def defaults(self) -> dict[str, str]:
        """The default model of every step."""
        return {step: self.default_for(step) for step in self.steps}

    def default_for(self, step: str) -> str:
        return self._defaults.get(step) or self._defaults[self.steps[step]]

    def _validate(self, checks_steps: bool) -> None:
        for m in self.models.values():
            if m.capability not in ("text", "image"):
                raise CatalogError(f"{m.id}: capability must be text or image")
            if m.status not in STATUSES:
                raise CatalogError(f"{m.id}: status must be one of {', '.join(STATUSES)}")
            if m.replacement is not None:
                target = self.models.get(m.replacement)
                if target is None or not target.usable or target.capability != m.capability:
                    raise CatalogError(
                        f"{m.id}: replacement {m.replacement} is not a usable "
                        f"{m.capability} model in the catalog"
                    )
            if m.auto_map and m.replacement is None:
                raise CatalogError(f"{m.id}: auto_map needs a replacement")
            if set(m.price) - {"input", "output", "image_output"} or any(
                not isinstance(v, int | float) or v < 0 for v in m.price.values()
            ):
                raise CatalogError(f"{m.id}: price takes input, output, image_output (USD/1M)")
            if m.capability == "image" and m.usable:
                if not m.sizes or not m.aspect_ratios or set(m.sizes) - set(SIZES):
                    raise CatalogError(
                        f"{m.id}: an image model needs sizes (of {', '.join(SIZES)}) and "
                        "aspect_ratios"
                    )
                for ratio in m.aspect_ratios:
                    if not re.fullmatch(r"[1-9]\d?:[1-9]\d?", ratio):
                        raise CatalogError(f"{m.id}: aspect ratio {ratio!r} is not like 3:4")
        for key in {*CAPABILITIES, *self._defaults}:
            if key not in CAPABILITIES and not checks_steps:
                continue
            capability = key if key in CAPABILITIES else self.steps.get(key)
            if capability is None:
                raise CatalogError(f"default for {key}: no feature has a step of that name")
            model = self.models.get(self._defaults.get(key, ""))
            if model is None or not model.usable or model.capability != capability:
                raise CatalogError(f"default for {key} must be a usable {capability} model")

    def get(self, model_id: str) -> ModelInfo | None:
        return self.models.get(model_id)

    def for_step(self, step: str) -> list[ModelInfo]:
        """The usable models that fit a step, current ones first."""
        capability = self.steps[step]
        fits = [m for m in self.models.values() if m.capability == capability and m.usable]
        return sorted(fits, key=lambda m: STATUSES.index(m.status))

    def with_changes(self, changes: Mapping[str, Mapping[str, Any]]) -> Catalog:
        """This catalog with an admin's changes (model id -> fields): a known model's fields
        replaced (status, replacement, ...), an unknown one adopted (all of ModelInfo's fields
        but its id). A default whose model is retired becomes its replacement. Raises
        CatalogError, with a sentence, for a result that is not a valid catalog."""
        models = dict(self.models)
        for model_id, fields in changes.items():
            known = models.get(model_id)
            try:
                if known is not None:
                    models[model_id] = replace(known, **dict(fields))
                else:
                    models[model_id] = ModelInfo(id=model_id, **dict(fields))
            except TypeError as exc:
                raise CatalogError(f"{model_id}: {exc}") from None

        def usable_end(model_id: str | None) -> str | None:
            """Where a chain of replacements ends (a model retired in favour of one that was
            retired since maps to that one's replacement)."""
            seen: set[str] = set()
            while model_id is not None and model_id not in seen:
                info = models.get(model_id)
                if info is None or info.usable:
                    return model_id
                seen.add(model_id)
                model_id = info.replacement
            return None

        for model_id, info in list(models.items()):
            if info.replacement is not None:
                end = usable_end(info.replacement)
                if end is not None and end != info.replacement:
                    models[model_id] = replace(info, replacement=end)
        defaults = {key: usable_end(model) or model for key, model in self._defaults.items()}
        return Catalog(list(models.values()), defaults, self.steps if self.steps else None)

    def fallback(
        self,
        step: str,
        model_id: str,
        can_call: Callable[[str], bool],
        fits: Callable[[ModelInfo], bool] = lambda info: True,
    ) -> str | None:
        """What a step uses when model_id cannot be called: the step's default if it can be,
        else the best usable model of the step's capability that can, each first among those
        that fit (can make the job's size and ratio); None when none can be called."""
        default = self.default_for(step)
        candidates = [default] + [m.id for m in self.for_step(step) if m.id != default]
        callable_ = [m for m in candidates if m != model_id and can_call(m)]
        fitting = [m for m in callable_ if fits(self.models[m])]
        found = fitting or callable_
        return found[0] if found else None

    def replacement_for(self, model_id: str) -> str | None:
        info = self.models.get(model_id)
        return info.replacement if info else None

    def resolve(self, step: str, model_id: str | None) -> Resolved:
        """The model to use for a step given a choice (possibly stored long ago)."""
        default = self.default_for(step)
        if not model_id:
            return Resolved(default)
        info = self.models.get(model_id)
        if info is None:
            return Resolved(default, f"{model_id} is not a known model; using {default}.")
        if info.capability != self.steps[step]:
            return Resolved(default, f"{model_id} cannot do this step; using {default}.")
        if info.auto_map and info.replacement:
            why = "never existed" if info.status == "never_existed" else "is retired"
            return Resolved(
                info.replacement, f"{model_id} {why}; using {info.replacement} instead."
            )
        if not info.usable:
            return Resolved(default, f"{model_id} is retired; using {default}.")
        return Resolved(model_id)


def parse_catalog(text: str, steps: Mapping[str, Capability] | None = None) -> Catalog:
    try:
        data = tomllib.loads(text)
        models = [ModelInfo(**entry) for entry in data.get("models", [])]
    except (tomllib.TOMLDecodeError, TypeError) as exc:
        raise CatalogError(f"model catalog is malformed: {exc}") from None
    return Catalog(models, dict(data.get("defaults", {})), steps)


def load_catalog(
    steps: Mapping[str, Capability] | None = None, path: Path = CATALOG_FILE
) -> Catalog:
    """The catalog file, for these steps (read once per set of steps)."""
    return _load(None if steps is None else tuple(sorted(steps.items())), path)


@lru_cache(maxsize=8)
def _load(steps: tuple[tuple[str, Capability], ...] | None, path: Path) -> Catalog:
    return parse_catalog(path.read_text(), None if steps is None else dict(steps))
