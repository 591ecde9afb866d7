"""The model catalog (viba/model_catalog.toml): which Gemini models fit which feature step,
which are retired, and what replaces them."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Literal

CATALOG_FILE = Path(__file__).with_name("model_catalog.toml")

Capability = Literal["text", "image"]
STEPS: dict[str, Capability] = {
    "derivation_text": "text",
    "derivation_image": "image",
    "avatar": "image",
    "try_on": "image",
    "swap": "image",
}
STATUSES = ("current", "preview", "deprecated", "shut_down", "never_existed")
UNUSABLE = ("shut_down", "never_existed")


class CatalogError(ValueError):
    pass


@dataclass(frozen=True)
class ModelInfo:
    id: str
    capability: Capability
    label: str
    status: str
    replacement: str | None = None
    auto_map: bool = False

    @property
    def usable(self) -> bool:
        return self.status not in UNUSABLE


@dataclass(frozen=True)
class Resolved:
    """The model to call for a step, and a note when it is not the one asked for."""

    model: str
    note: str | None = None


class Catalog:
    def __init__(self, models: list[ModelInfo], defaults: dict[str, str]) -> None:
        self.models = {m.id: m for m in models}
        self.defaults = defaults
        self._validate()

    def _validate(self) -> None:
        for m in self.models.values():
            if m.capability not in ("text", "image"):
                raise CatalogError(f"{m.id}: capability must be text or image")
            if m.status not in STATUSES:
                raise CatalogError(f"{m.id}: status must be one of {', '.join(STATUSES)}")
            if m.replacement is not None:
                target = self.models.get(m.replacement)
                if target is None or not target.usable or target.capability != m.capability:
                    raise CatalogError(f"{m.id}: replacement {m.replacement} is not a usable "
                                       f"{m.capability} model in the catalog")
            if m.auto_map and m.replacement is None:
                raise CatalogError(f"{m.id}: auto_map needs a replacement")
        for step, capability in STEPS.items():
            model = self.models.get(self.defaults.get(step, ""))
            if model is None or not model.usable or model.capability != capability:
                raise CatalogError(f"default for {step} must be a usable {capability} model")

    def get(self, model_id: str) -> ModelInfo | None:
        return self.models.get(model_id)

    def for_step(self, step: str) -> list[ModelInfo]:
        """The usable models that fit a step, current ones first."""
        capability = STEPS[step]
        fits = [m for m in self.models.values() if m.capability == capability and m.usable]
        return sorted(fits, key=lambda m: STATUSES.index(m.status))

    def replacement_for(self, model_id: str) -> str | None:
        info = self.models.get(model_id)
        return info.replacement if info else None

    def resolve(self, step: str, model_id: str | None) -> Resolved:
        """The model to use for a step given a choice (possibly stored long ago)."""
        default = self.defaults[step]
        if not model_id:
            return Resolved(default)
        info = self.models.get(model_id)
        if info is None:
            return Resolved(default, f"{model_id} is not a known model; using {default}.")
        if info.capability != STEPS[step]:
            return Resolved(default, f"{model_id} cannot do this step; using {default}.")
        if info.auto_map and info.replacement:
            why = "never existed" if info.status == "never_existed" else "is retired"
            return Resolved(info.replacement, f"{model_id} {why}; using {info.replacement} instead.")
        if not info.usable:
            return Resolved(default, f"{model_id} is retired; using {default}.")
        return Resolved(model_id)

    def resolve_preferences(self, preferences: dict[str, str] | None) -> dict[str, Resolved]:
        preferences = preferences or {}
        return {step: self.resolve(step, preferences.get(step)) for step in STEPS}


def parse_catalog(text: str) -> Catalog:
    try:
        data = tomllib.loads(text)
        models = [ModelInfo(**entry) for entry in data.get("models", [])]
    except (tomllib.TOMLDecodeError, TypeError) as exc:
        raise CatalogError(f"model catalog is malformed: {exc}") from None
    return Catalog(models, dict(data.get("defaults", {})))


@lru_cache(maxsize=4)
def load_catalog(path: Path = CATALOG_FILE) -> Catalog:
    return parse_catalog(path.read_text())
