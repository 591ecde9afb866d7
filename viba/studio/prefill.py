"""A form filled in from earlier work: "Edit and run again" reopens a generation's form with
its inputs, options and models; "Use as input" puts one output into a slot of any feature's
form. The images are the stored ones (by key): nothing is uploaded again."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from viba.studio import features
from viba.studio.generations import GenerationView


@dataclass(frozen=True)
class Prefill:
    feature: str
    inputs: dict[str, list[str]]  # slot role -> stored image keys
    names: dict[str, list[str]] = field(default_factory=dict)  # the same, their file names
    options: dict[str, Any] | None = None  # None: the user's last options
    models: dict[str, str] | None = None  # step -> model; None: the user's choices
    source: uuid.UUID | None = None  # the generation it came from
    prompt_versions: dict[str, Any] | None = None  # step -> version (a preset's); None: active

    def without(self, role: str) -> Prefill | None:
        """The same with one slot emptied (None when nothing is left)."""
        inputs = {r: keys for r, keys in self.inputs.items() if r != role}
        if not inputs and self.options is None:
            return None
        names = {r: n for r, n in self.names.items() if r != role}
        return Prefill(
            self.feature,
            inputs,
            names,
            self.options,
            self.models,
            self.source,
            self.prompt_versions,
        )


def from_generation(view: GenerationView) -> Prefill:
    """Everything a generation was made with, slot by slot (its inputs are in slot order:
    a feature with one slot takes them all, else one each)."""
    feature = features.get(view.type)
    keys, names = list(view.input_keys), list(view.input_names)
    inputs: dict[str, list[str]] = {}
    labels: dict[str, list[str]] = {}
    if len(feature.slots) == 1:
        inputs[feature.slots[0].role], labels[feature.slots[0].role] = keys, names
    else:
        for i, slot in enumerate(feature.slots):
            if i < len(keys):
                inputs[slot.role] = [keys[i]]
                labels[slot.role] = [names[i] if i < len(names) else f"input {i + 1}"]
    params = view.input_params or {}
    return Prefill(
        view.type,
        inputs,
        labels,
        dict(params.get("options") or {}),
        dict(params.get("models") or {}),
        view.id,
    )


def targets() -> list[tuple[str, str]]:
    """Every (feature, slot role) an output can be used as."""
    return [(f.key, slot.role) for f in features.all_features() for slot in f.slots]


def from_output(view: GenerationView, key: str, target: tuple[str, str]) -> Prefill:
    feature, role = target
    if target not in targets():
        raise features.InputError(f"Unknown feature {feature}.")
    name = f"viba-{view.type}-{view.id.hex[:8]}.{key.rsplit('.', 1)[-1]}"
    return Prefill(feature, {role: [key]}, {role: [name]}, None, None, view.id)
