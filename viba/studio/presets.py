"""Presets: a feature's full settings under a name, to start a form from.

A preset is saved from one of the user's generations: its options (size, ratio and the
feature's own), its models and prompt versions, its reference images (slot by slot) and one
of its outputs as the thumbnail. Personal presets are their owner's; a team preset (made by
an admin) is offered to everyone. Its images are kept while it is (preset_images: the image
store's clean-up leaves them), and it is taken up as a Prefill: the form opens with its
images and settings, and the job runs with its models and prompt versions (a prompt version
deleted since falls back to the active prompt, as Run again does).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, delete, func, or_, select

from viba.accounts import auth
from viba.accounts.account import Account
from viba.core.errors import UserError
from viba.store.db import Database
from viba.store.image_store import ImageStore
from viba.store.models import ImageRef, Preset, PresetImage, User
from viba.studio import features, generations, prefill
from viba.studio.boards import clean_name
from viba.studio.prefill import Prefill

MAX_PRESETS = 100  # a person's own
THUMB = "thumb"


class PresetError(UserError, ValueError):
    """A preset that cannot be saved, used or deleted; the message is for the user."""


@dataclass(frozen=True)
class PresetView:
    id: uuid.UUID
    name: str
    feature: str
    team: bool
    owner_id: uuid.UUID
    owner_name: str
    settings: dict[str, Any]
    thumb_key: str | None
    created_at: datetime


def save(
    db: Database, actor: Account, generation_id: uuid.UUID, name: str, team: bool = False
) -> uuid.UUID:
    """A preset from one of the actor's generations (team: only admins make those)."""
    name = clean_name(name, "preset", PresetError)
    view = generations.find(db, actor.id, generation_id)
    if view is None:
        raise PresetError("That generation does not exist (or is not yours).")
    filled = prefill.from_generation(view)
    params = view.input_params or {}
    settings = {
        "options": dict(params.get("options") or {}),
        "models": dict(params.get("models") or {}),
        "prompt_versions": dict(params.get("prompt_versions") or {}),
    }
    images: list[tuple[str, str, str]] = []  # (slot role, key, file name)
    for role, keys in filled.inputs.items():
        names = filled.names.get(role, [])
        images += [(role, key, names[i] if i < len(names) else key) for i, key in enumerate(keys)]
    thumb = view.output_keys[0] if view.output_keys else None
    held = [key for _, key, _ in images] + ([thumb] if thumb else [])
    locks = [generations.image_lock(k) for k in held] + [f"presets:{actor.id}"]
    with db.locked_session(*locks) as s:
        if team and not auth.is_admin_now(s, actor.id):
            raise PresetError("Only admins make team presets.")
        mine = select(func.count()).select_from(Preset).where(Preset.owner_id == actor.id)
        if (s.scalar(mine) or 0) >= MAX_PRESETS:
            raise PresetError(f"You have {MAX_PRESETS} presets, the most one person can have.")
        taken = select(Preset.id).where(
            Preset.owner_id == actor.id, Preset.feature == view.type, Preset.name == name
        )
        if s.scalar(taken) is not None:
            raise PresetError(f"You already have a preset named {name}.")
        # Under the images' locks: the generation still refers to them (nothing deletes them
        # meanwhile), or the preset is refused.
        refs = set(s.scalars(select(ImageRef.key).where(ImageRef.generation_id == view.id)))
        if any(key not in refs for key in held):
            raise PresetError("That generation's images are gone; it cannot be a preset.")
        preset = Preset(
            owner_id=actor.id,
            feature=view.type,
            name=name,
            team=team,
            settings=settings,
            thumb_key=thumb,
        )
        s.add(preset)
        s.flush()
        for position, (role, key, label) in enumerate(images):
            s.add(
                PresetImage(
                    preset_id=preset.id, position=position, key=key, role=role, name=label[:255]
                )
            )
        if thumb:
            s.add(
                PresetImage(
                    preset_id=preset.id, position=len(images), key=thumb, role=THUMB, name=""
                )
            )
        return preset.id


def offered(db: Database, actor: Account, feature: str) -> list[PresetView]:
    """The presets a user may start this feature's form from: their own, then the team's."""
    with db.session() as s:
        rows = s.execute(
            select(Preset, User.full_name)
            .join(User, User.id == Preset.owner_id)
            .where(Preset.feature == feature, or_(Preset.owner_id == actor.id, Preset.team))
            .order_by(Preset.team, Preset.name)
        ).all()
        return [
            PresetView(
                p.id,
                p.name,
                p.feature,
                p.team,
                p.owner_id,
                name,
                dict(p.settings),
                p.thumb_key,
                p.created_at,
            )  # fmt: skip
            for p, name in rows
        ]


def _visible(s, actor: Account, preset_id: uuid.UUID) -> Preset:
    preset = s.get(Preset, preset_id)
    if preset is None or not (preset.team or preset.owner_id == actor.id):
        raise PresetError("That preset does not exist or is not offered to you.")
    return preset


def as_prefill(db: Database, actor: Account, preset_id: uuid.UUID) -> Prefill:
    """The form filled in from a preset: its images slot by slot and all its settings."""
    with db.session() as s:
        preset = _visible(s, actor, preset_id)
        rows = s.scalars(
            select(PresetImage)
            .where(PresetImage.preset_id == preset.id, PresetImage.role != THUMB)
            .order_by(PresetImage.position)
        ).all()
        feature = features.get(preset.feature)
        inputs: dict[str, list[str]] = {}
        names: dict[str, list[str]] = {}
        for row in rows:
            if row.role not in {slot.role for slot in feature.slots}:
                continue  # a slot the feature no longer has
            inputs.setdefault(row.role, []).append(row.key)
            names.setdefault(row.role, []).append(row.name)
        settings = dict(preset.settings)
        return Prefill(
            preset.feature,
            inputs,
            names,
            dict(settings.get("options") or {}),
            dict(settings.get("models") or {}),
            None,
            dict(settings.get("prompt_versions") or {}),
        )


def delete_preset(db: Database, store: ImageStore, actor: Account, preset_id: uuid.UUID) -> None:
    """Its owner's (a team preset: any admin's too); the images only it kept go with it."""
    with db.session() as s:
        preset = s.get(Preset, preset_id)
        allowed = preset is not None and (
            preset.owner_id == actor.id or (preset.team and auth.is_admin_now(s, actor.id))
        )
        if preset is None or not allowed:
            raise PresetError("That preset does not exist or is not yours to delete.")
        keys = list(s.scalars(select(PresetImage.key).where(PresetImage.preset_id == preset.id)))
        s.execute(delete(PresetImage).where(PresetImage.preset_id == preset.id))
        s.delete(preset)
    generations.forget_unreferenced(db, store, keys)


def image_visible(user_id: uuid.UUID, key: str) -> Select[Any]:
    """The rows that let this user see an image: it belongs to a preset offered to them
    (theirs, or the team's)."""
    return (
        select(PresetImage.key)
        .join(Preset, Preset.id == PresetImage.preset_id)
        .where(PresetImage.key == key, or_(Preset.owner_id == user_id, Preset.team))
    )


def may_see_image(db: Database, user_id: uuid.UUID, key: str) -> bool:
    with db.session() as s:
        return s.scalar(image_visible(user_id, key).limit(1)) is not None
