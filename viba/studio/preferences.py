"""Each user's model choice per feature step (users.model_preferences), and the options of
their last submit of each feature (users.feature_options: size, aspect ratio, creativity...)."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import update

from viba.core.errors import UserError
from viba.engine.catalog import Catalog
from viba.i18n import LANGUAGES
from viba.store.db import Database
from viba.store.models import User
from viba.studio import features, model_rights
from viba.studio.features import steps as feature_steps


class PreferenceError(UserError, ValueError):
    pass


def load_model_choices(
    db: Database, user_id: uuid.UUID, catalog: Catalog | None = None
) -> tuple[dict[str, str], list[str]]:
    """The model per step for this user, and one note per step whose stored name was mapped
    (naming the step).

    Stored names that are retired, unknown or unfit are replaced (auto-mapped ones by their
    catalog replacement, the rest by the step's default) and the row is saved back, so the
    mapping happens once.
    """
    catalog = catalog or features.catalog()
    with db.session() as s:
        user = s.get(User, user_id)
        stored = dict(user.model_preferences or {}) if user else {}
    choices: dict[str, str] = {}
    notes: list[str] = []
    changed = False
    titles = {step_id: step.prompt.title for step_id, step in feature_steps().items()}
    for step in features.step_capabilities():
        resolved = catalog.resolve(step, stored.get(step))
        choices[step] = resolved.model
        if stored.get(step) and stored[step] != resolved.model:
            changed = True
            if resolved.note:
                notes.append(f"{titles[step]}: {resolved.note}")
    if changed:
        _write(db, user_id, {**stored, **{k: v for k, v in choices.items() if k in stored}})
    return choices, notes


def set_model_choice(
    db: Database, user_id: uuid.UUID, step: str, model: str, catalog: Catalog | None = None
) -> dict[str, str]:
    catalog = catalog or features.catalog()
    if step not in features.step_capabilities():
        raise PreferenceError(f"Unknown step {step}.")
    if model not in {m.id for m in catalog.for_step(step)}:
        raise PreferenceError(f"{model} cannot be used for this step.")
    model_rights.check(db, user_id, {step: model})
    with db.session() as s:
        # Row lock on PostgreSQL, so two tabs changing two steps at once both keep theirs.
        user = s.get(User, user_id, with_for_update=True)
        if user is None:
            raise PreferenceError("Unknown user.")
        stored = {**(user.model_preferences or {}), step: model}
        # Assign a new dict: SQLAlchemy saves a JSON column only when it is replaced.
        user.model_preferences = stored
    return stored


def reset_model_choices(db: Database, user_id: uuid.UUID) -> None:
    _write(db, user_id, {})


def _write(db: Database, user_id: uuid.UUID, preferences: dict[str, str]) -> None:
    with db.session() as s:
        s.execute(update(User).where(User.id == user_id).values(model_preferences=preferences))


def load_feature_options(db: Database, user_id: uuid.UUID) -> dict[str, dict[str, Any]]:
    """feature key -> the options of the user's last submit of it (as the form sent them)."""
    with db.session() as s:
        user = s.get(User, user_id)
        stored = (user.feature_options or {}) if user else {}
    return {k: dict(v) for k, v in stored.items() if isinstance(v, dict)}


def remember_feature_options(
    db: Database, user_id: uuid.UUID, feature: str, options: dict[str, Any]
) -> dict[str, dict[str, Any]]:
    """Keep a feature's options for the user's next visit (other features' stay as they are,
    however many tabs submit at once)."""
    with db.session() as s:
        user = s.get(User, user_id, with_for_update=True)  # row lock on PostgreSQL
        if user is None:
            raise PreferenceError("Unknown user.")
        stored = {**(user.feature_options or {}), feature: dict(options)}
        user.feature_options = stored  # a new dict: SQLAlchemy saves a replaced JSON value
    return stored


def set_language(db: Database, user_id: uuid.UUID, language: str) -> None:
    if language not in LANGUAGES:
        raise PreferenceError(f"Unknown language {language!r}.")
    with db.session() as s:
        s.execute(update(User).where(User.id == user_id).values(language=language))
