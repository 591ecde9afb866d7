"""The feature registry: every generation feature in one entry.

An entry says what the feature is called, which page shows it, its steps (the ids that model
choices, prompts and usage rows use, each with its capability and built-in prompt), its input
slots, how many images it makes, its options with their validation, and its pipeline. The job
runner, the catalog's defaults, the prompt store, the System Prompts page, the studio forms,
Home, the sidebar and the History and Admin filters all read it, so adding a feature is one
entry here, one prompt in viba.engine.prompts and one page file.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from viba.core.errors import UserError
from viba.engine import pipelines, prompts
from viba.engine.catalog import Capability, Catalog, load_catalog
from viba.engine.prompts import PromptTemplate


class InputError(UserError, ValueError):
    """The inputs or options do not fit the feature; the message is for the user."""


@dataclass(frozen=True)
class Step:
    id: str
    capability: Capability
    prompt: PromptTemplate  # the built-in text (admins may save newer versions)


@dataclass(frozen=True)
class Slot:
    """One input of a feature: an uploader on its form."""

    role: str  # person, garment, ... (also the file-name prefix in downloads)
    label_key: str  # viba.i18n key
    min: int = 1
    max: int = 1
    batch: bool = False  # several files at once, one job per file
    # the key of a feature whose finished output may stand in for the upload (an avatar)
    outputs_of: str | None = None


@dataclass(frozen=True)
class IntOption:
    name: str
    label_key: str
    low: int
    high: int
    default: int
    help_key: str | None = None

    def check(self, value: Any) -> int:
        if (
            isinstance(value, bool)
            or not isinstance(value, int)
            or not self.low <= value <= self.high
        ):
            raise InputError(
                f"{self.name.capitalize()} must be a whole number from {self.low} to {self.high}."
            )
        return value


@dataclass(frozen=True)
class ChoiceOption:
    """One of `choices`, or None (shown with `none_key`)."""

    name: str
    label_key: str
    choices: tuple[str, ...]
    none_key: str
    default: str | None = None

    def check(self, value: Any) -> str | None:
        if value in (None, ""):
            return None
        if value not in self.choices:
            raise InputError(
                f"{self.name.replace('_', ' ').capitalize()} must be one of "
                f"{', '.join(self.choices)}."
            )
        return str(value)


Option = IntOption | ChoiceOption


@dataclass(frozen=True)
class Feature:
    key: str  # generation_history.type, and the i18n key of its name
    page: str  # the page file, e.g. pages/1_Derivation.py
    icon: str
    intro_key: str
    steps: tuple[Step, ...]
    slots: tuple[Slot, ...]
    outputs: int
    pipeline: Callable[[pipelines.Run], None]
    options: tuple[Option, ...] = ()
    default_size: str = "1K"  # of the output image (viba.studio.output)
    ratio_from: str | None = None  # the slot whose shape the output follows; None: 3:4

    @property
    def step_ids(self) -> tuple[str, ...]:
        return tuple(step.id for step in self.steps)

    def slot(self, role: str) -> Slot:
        return next(s for s in self.slots if s.role == role)

    @property
    def describes_first(self) -> bool:
        """Its first step describes the input in words (a text model), and the image prompts
        are made from that description, one per variant (Derivation)."""
        return self.steps[0].capability == "text"

    @property
    def image_step(self) -> str:
        """The step whose calls make the output images (the last one)."""
        return self.steps[-1].id

    @property
    def input_range(self) -> tuple[int, int]:
        """How many input images one job takes (a batch slot gives one per job)."""
        return (
            sum(slot.min for slot in self.slots),
            sum(1 if slot.batch else slot.max for slot in self.slots),
        )

    def check_inputs(self, count: int) -> None:
        low, high = self.input_range
        if not low <= count <= high:
            raise InputError(
                f"This needs {low} to {high} images."
                if low != high
                else f"This needs {low} image{'s' if low > 1 else ''}."
            )

    def check_options(self, options: dict[str, Any]) -> dict[str, Any]:
        """The options to store: each known one checked (or its default); others dropped."""
        return {o.name: o.check(options.get(o.name, o.default)) for o in self.options}

    def first_prompt(
        self,
        templates: dict[str, PromptTemplate],
        image_count: int,
        aspect_ratio: str = prompts.ASPECT_RATIO,
    ) -> str:
        """The first step's prompt as sent (a derivation's image prompts add the description)."""
        template = templates[self.steps[0].id]
        return template.render(**prompts.render_values(image_count, aspect_ratio))


_DERIVATION = Feature(
    key="derivation",
    page="pages/1_Derivation.py",
    icon=":material/auto_awesome:",
    intro_key="derivation_intro",
    steps=(
        Step("derivation_text", "text", prompts.DERIVATION_TEXT),
        Step("derivation_image", "image", prompts.DERIVATION_IMAGE),
    ),
    slots=(Slot("image", "images_to_derive", batch=True),),
    outputs=pipelines.DERIVATION_VARIANTS,
    options=(
        IntOption("creativity", "creativity", 1, 10, 5, "creativity_help"),
        ChoiceOption("skin_tone", "skin_tone", prompts.SKIN_TONES, "keep_skin"),
    ),
    pipeline=pipelines.derivation,
    ratio_from="image",
)
_AVATAR = Feature(
    key="avatar",
    page="pages/2_Avatar.py",
    icon=":material/face:",
    intro_key="avatar_intro",
    steps=(Step("avatar", "image", prompts.AVATAR),),
    slots=(Slot("photo", "reference_photos", 1, pipelines.MAX_AVATAR_PHOTOS),),
    outputs=1,
    pipeline=pipelines.single_image,
    default_size="4K",  # the original product's studio portraits
)
_TRY_ON = Feature(
    key="try_on",
    page="pages/3_Try_On.py",
    icon=":material/checkroom:",
    intro_key="try_on_intro",
    steps=(Step("try_on", "image", prompts.TRY_ON),),
    slots=(Slot("person", "person"), Slot("garment", "garment")),
    outputs=1,
    pipeline=pipelines.single_image,
    default_size="2K",
    ratio_from="person",
)
_SWAP = Feature(
    key="swap",
    page="pages/4_Swap.py",
    icon=":material/swap_horiz:",
    intro_key="swap_intro",
    steps=(Step("swap", "image", prompts.SWAP),),
    slots=(Slot("person", "person", outputs_of="avatar"), Slot("scene", "scene")),
    outputs=1,
    pipeline=pipelines.single_image,
    default_size="2K",
    ratio_from="scene",
)

_registry: dict[str, Feature] = {f.key: f for f in (_DERIVATION, _AVATAR, _TRY_ON, _SWAP)}
_lock = threading.Lock()


def all_features() -> tuple[Feature, ...]:
    """Every feature, in the order the studio lists them."""
    return tuple(_registry.values())


def keys() -> tuple[str, ...]:
    return tuple(_registry)


def get(key: str) -> Feature:
    try:
        return _registry[key]
    except KeyError:
        raise InputError(f"Unknown feature {key!r}.") from None


def steps() -> dict[str, Step]:
    """Every step of every feature by id (a step id is unique across features)."""
    return {step.id: step for feature in _registry.values() for step in feature.steps}


def step_capabilities() -> dict[str, Capability]:
    return {step_id: step.capability for step_id, step in steps().items()}


def base_catalog() -> Catalog:
    """The model catalog file, for the registry's steps."""
    return load_catalog(step_capabilities())


_changes: tuple[dict[str, dict[str, Any]], Catalog | None] = ({}, None)


def set_changes(changes: dict[str, dict[str, Any]]) -> None:
    """The admins' changes over the file (viba.studio.model_admin.refresh keeps them fresh).
    Raises CatalogError when they do not fit the file (nothing changes then)."""
    global _changes
    merged = base_catalog().with_changes(changes) if changes else None
    _changes = (changes, merged)


def catalog() -> Catalog:
    """The model catalog as the app sees it: the file with the admins' changes."""
    changes, merged = _changes
    base = base_catalog()
    if merged is None or not changes:
        return base
    if merged.steps != base.steps:  # a feature registered since (tests): merge again
        merged = base.with_changes(changes)
    return merged


def builtin_prompts() -> dict[str, PromptTemplate]:
    return {step_id: step.prompt for step_id, step in steps().items()}


def register(feature: Feature) -> None:
    """Add a feature (the built-in ones are registered above; tests add throwaway ones)."""
    with _lock:
        taken = steps()
        clash = [s.id for s in feature.steps if s.id in taken]
        if feature.key in _registry or clash:
            raise ValueError(f"feature {feature.key!r} or step {clash} is already registered")
        if not feature.steps or feature.steps[-1].capability != "image" or not feature.slots:
            raise ValueError("a feature needs input slots and ends with an image step")
        if feature.ratio_from not in (None, *(s.role for s in feature.slots)):
            raise ValueError(f"ratio_from {feature.ratio_from!r} is not one of its slots")
        _registry[feature.key] = feature


def unregister(key: str) -> None:
    with _lock:
        _registry.pop(key, None)
