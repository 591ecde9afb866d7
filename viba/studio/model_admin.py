"""The model catalog as the app sees it: the shipped file (viba/engine/model_catalog.toml) with
the admins' changes kept in the database (model_changes), so that a model Google ships can be
adopted, and one it retires marked with its replacement, without a code change or a deploy.

Every process (web and workers) reads the changes again at most every REFRESH_SECONDS
(`refresh`, one small query), and at once after a change it made itself. A user's choice of a
model that goes away maps to its replacement with the notice the app already shows
(Catalog.resolve). Each change is an audit entry; only admins make them (checked here).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select

from viba.accounts import auth
from viba.accounts.account import Account
from viba.core.errors import UserError
from viba.engine.catalog import SIZES, Catalog, CatalogError, ModelInfo
from viba.store import audit
from viba.store.db import Database
from viba.store.models import ModelChange, utcnow
from viba.studio import features

REFRESH_SECONDS = 5.0
RETIRING = ("deprecated", "shut_down")
CATALOG_LOCK = "viba-model-catalog"  # changes are made one at a time (validated as a whole)
MAX_ID = 120


class ModelAdminError(UserError, ValueError):
    """A catalog change that cannot be made; the message is for the admin."""


@dataclass(frozen=True)
class Changes:
    fields: dict[str, dict[str, Any]]  # model id -> fields over the file's
    hidden: frozenset[str]  # listed by Gemini, not to be offered for adoption


_lock = threading.Lock()
_read_at = -1e9
_seen: tuple[Any, ...] | None = None


def forget() -> None:
    """This process forgets the changes it read (tests: each has a database of its own)."""
    global _read_at, _seen
    with _lock:
        _read_at, _seen = -1e9, None
    features.set_changes({})


def load(db: Database) -> Changes:
    with db.session() as s:
        rows = s.scalars(select(ModelChange)).all()
        return Changes(
            {r.model_id: dict(r.fields) for r in rows if r.fields},
            frozenset(r.model_id for r in rows if r.hidden),
        )


def refresh(db: Database, force: bool = False) -> None:
    """Bring this process's catalog (features.catalog()) up to the database's changes: at most
    every REFRESH_SECONDS unless forced, and only reading them all when they changed."""
    global _read_at, _seen
    now = time.monotonic()
    with _lock:
        if not force and now - _read_at < REFRESH_SECONDS:
            return
        _read_at = now
    with db.session() as s:
        mark = tuple(s.execute(select(func.count(), func.max(ModelChange.updated_at))).one())
    with _lock:
        if mark == _seen and not force:
            return
    changes = load(db)
    try:
        features.set_changes(changes.fields)
    except CatalogError:  # a change the file no longer fits (a model removed from it): skip it
        features.set_changes({})
    with _lock:
        _seen = mark


def _checked_id(model_id: str) -> str:
    model_id = model_id.strip().removeprefix("models/")
    if (
        not model_id
        or len(model_id) > MAX_ID
        or not all(c.isalnum() or c in "-._" for c in model_id)
    ):
        raise ModelAdminError(
            "A model id is letters, digits, dots and dashes (as Gemini lists it)."
        )
    return model_id


def _save(
    db: Database,
    actor: Account,
    model_id: str,
    action: str,
    fields: dict[str, Any] | None = None,
    hidden: bool | None = None,
    details: dict[str, Any] | None = None,
) -> Catalog:
    """One change, validated with every other one against the file, one at a time."""
    with db.locked_session(CATALOG_LOCK) as s:
        auth.require_admin(s, actor.id)
        row = s.get(ModelChange, model_id, with_for_update=True)
        current = {r.model_id: dict(r.fields) for r in s.scalars(select(ModelChange)) if r.fields}
        if fields is not None:
            current[model_id] = {**current.get(model_id, {}), **fields}
        try:
            catalog = features.base_catalog().with_changes(current)
        except CatalogError as exc:
            raise ModelAdminError(str(exc)) from None
        if row is None:
            row = ModelChange(model_id=model_id, fields={}, hidden=False)
            s.add(row)
        if fields is not None:
            row.fields = current[model_id]
        if hidden is not None:
            row.hidden = hidden
        row.updated_by, row.updated_at = actor.id, utcnow()
        audit.record(
            s, action, actor_id=actor.id, actor_email=actor.email, model=model_id, **(details or {})
        )
    refresh(db, force=True)
    return catalog


def adopt(
    db: Database,
    actor: Account,
    model_id: str,
    capability: str,
    label: str,
    label_zh: str = "",
    sizes: Sequence[str] = (),
    aspect_ratios: Sequence[str] = (),
    price: dict[str, float] | None = None,
    output_tokens: dict[str, int] | None = None,
    status: str = "current",
) -> ModelInfo:
    """Offer a model the catalog file lacks (or change how a known one is described)."""
    model_id = _checked_id(model_id)
    label = " ".join(label.split())[:80]
    if not label:
        raise ModelAdminError("Give the model a label (how the model lists show it).")
    if status not in ("current", "preview"):
        raise ModelAdminError("An adopted model is current or preview.")
    fields: dict[str, Any] = {
        "capability": capability,
        "label": label,
        "label_zh": " ".join(label_zh.split())[:80] or None,
        "status": status,
        "price": {k: float(v) for k, v in (price or {}).items() if v},
    }
    if capability == "image":
        fields |= {
            "sizes": [s for s in SIZES if s in set(sizes)],
            "aspect_ratios": list(dict.fromkeys(aspect_ratios)),
            "output_tokens": {k: int(v) for k, v in (output_tokens or {}).items() if v},
        }
    known = features.base_catalog().get(model_id)
    if known is None:
        fields.setdefault("sizes", [])
        fields.setdefault("aspect_ratios", [])
    catalog = _save(db, actor, model_id, audit.MODEL_ADOPTED, fields, False, fields)
    info = catalog.get(model_id)
    assert info is not None
    return info


def retire(
    db: Database, actor: Account, model_id: str, status: str, replacement: str | None
) -> ModelInfo:
    """Mark a model deprecated (still offered, marked ⚠) or shut down (never called again:
    stored and chosen names map to the replacement, which a shut-down model needs)."""
    model_id = _checked_id(model_id)
    if status not in RETIRING:
        raise ModelAdminError("A model is retired as deprecated or shut down.")
    catalog = features.catalog()
    if catalog.get(model_id) is None:
        raise ModelAdminError(f"{model_id} is not in the catalog.")
    if status == "shut_down" and not replacement:
        raise ModelAdminError("A shut-down model needs a replacement for the choices that name it.")
    if replacement == model_id:
        raise ModelAdminError("A model cannot replace itself.")
    fields = {
        "status": status,
        "replacement": replacement or None,
        "auto_map": status == "shut_down",
    }
    info = _save(db, actor, model_id, audit.MODEL_RETIRED, fields, None, fields).get(model_id)
    assert info is not None
    return info


def hide(db: Database, actor: Account, model_id: str, hidden: bool = True) -> None:
    """Stop (or start again) offering a model Gemini lists for adoption."""
    _save(db, actor, _checked_id(model_id), audit.MODEL_HIDDEN, None, hidden, {"hidden": hidden})


def listed_not_in_catalog(
    listed_ids: Sequence[str], catalog: Catalog, hidden: frozenset[str]
) -> list[str]:
    return sorted(m for m in set(listed_ids) if catalog.get(m) is None and m not in hidden)
