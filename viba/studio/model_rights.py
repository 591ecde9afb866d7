"""Model rights: admins choose which models everyone may pick, and per person over that.

A person's own list, when an admin set one, is what they may pick; else everyone's list;
with neither, every model of the catalog. The checks are made here, from the database as it
is now, where a choice is saved (preferences), where a job is submitted (JobRunner.submit)
and where a job falls back to another model (it only falls back to one its owner may use).
Each change is an audit entry.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import select

from viba.accounts import auth
from viba.accounts.account import Account
from viba.core.errors import UserError
from viba.store import audit
from viba.store.db import Database
from viba.store.models import ModelRight, User, utcnow
from viba.studio import features

EVERYONE = "everyone"


class RightsError(UserError, ValueError):
    """A model this person may not pick, or a change that cannot be made."""


def _scope(user_id: uuid.UUID | None) -> str:
    return EVERYONE if user_id is None else str(user_id)


def allowed(db: Database, user_id: uuid.UUID) -> frozenset[str] | None:
    """The models this person may pick (None: any)."""
    with db.session() as s:
        rows = dict(
            s.execute(
                select(ModelRight.scope, ModelRight.models).where(
                    ModelRight.scope.in_([str(user_id), EVERYONE])
                )
            ).all()
        )
    found = rows.get(str(user_id), rows.get(EVERYONE))
    return None if found is None else frozenset(found)


def rights(db: Database) -> dict[str, list[str]]:
    """Every list set: scope ("everyone" or an account id) -> models."""
    with db.session() as s:
        return {r.scope: list(r.models) for r in s.scalars(select(ModelRight))}


def described(db: Database) -> list[tuple[str, str, list[str]]]:
    """Every list set, for Admin: (scope, the account's email or "", models), everyone's
    first."""
    with db.session() as s:
        rows = s.scalars(select(ModelRight)).all()
        ids = [uuid.UUID(r.scope) for r in rows if r.scope != EVERYONE]
        emails = {
            str(i): e for i, e in s.execute(select(User.id, User.email).where(User.id.in_(ids)))
        }
        found = [(r.scope, emails.get(r.scope, ""), list(r.models)) for r in rows]
    return sorted(found, key=lambda f: (f[0] != EVERYONE, f[1]))


def may_use(permitted: frozenset[str] | None, model: str) -> bool:
    return permitted is None or model in permitted


def check(db: Database, user_id: uuid.UUID, models: dict[str, str]) -> None:
    """Refuse a job or a choice with a model this person may not pick."""
    permitted = allowed(db, user_id)
    for model in models.values():
        if not may_use(permitted, model):
            info = features.catalog().get(model)
            name = info.label if info else model
            raise RightsError(
                f"You may not use {name}: an admin chooses the models each person may pick."
            )


def set_rights(
    db: Database, admin: Account, user_id: uuid.UUID | None, models: Sequence[str] | None
) -> None:
    """An admin sets the models everyone (user_id None) or one person may pick; None removes
    the list (everyone: every model; a person: everyone's list)."""
    with db.session() as s:  # who asks, first
        auth.require_admin(s, admin.id)
    known = set(features.catalog().models)
    if models is not None:
        unknown = [m for m in models if m not in known]
        if unknown:
            raise RightsError(f"Not in the catalog: {', '.join(sorted(unknown))}.")
        capabilities = {features.catalog().models[m].capability for m in models}
        if not {"text", "image"} <= capabilities:
            raise RightsError("Leave at least one text model and one image model.")
    scope = _scope(user_id)
    with db.session() as s:
        auth.require_admin(s, admin.id)
        if user_id is not None and s.get(User, user_id) is None:
            raise RightsError("That account does not exist.")
        row = s.get(ModelRight, scope, with_for_update=True)
        if models is None:
            if row is not None:
                s.delete(row)
        elif row is None:
            s.add(ModelRight(scope=scope, models=sorted(set(models)), updated_by=admin.id))
        else:
            row.models = sorted(set(models))
            row.updated_by, row.updated_at = admin.id, utcnow()
        audit.record(
            s,
            audit.MODEL_RIGHTS_SET,
            actor_id=admin.id,
            actor_email=admin.email,
            target_user_id=user_id,
            models=None if models is None else sorted(set(models)),
        )
