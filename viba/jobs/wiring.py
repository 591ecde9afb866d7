"""What the app's processes give the job runner: how a job finds its Gemini key, how a user's
own key travels through the queue, and the periodic chores."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable

from viba.accounts import keyvault
from viba.core.config import Settings
from viba.engine.gemini import GeminiConfig, MissingApiKey
from viba.jobs.runner import Chore, ConfigFor, Seal
from viba.store import audit
from viba.store.db import Database

log = logging.getLogger(__name__)


def resume_config(settings: Settings, db: Database) -> ConfigFor:
    """config_for for a worker: the key sealed into the job (a user's own key given for one
    session), else the user's remembered own key when the job was made with their own key,
    else the server's GEMINI_API_KEY."""

    def config_for(user_id: uuid.UUID, own_key: bool, sealed: str | None) -> GeminiConfig:
        key = None
        if own_key:
            if sealed:
                key = keyvault.decrypt(settings.resolved_cookie_key(), sealed)
            if key is None:
                key, _unreadable = keyvault.load(db, settings.resolved_cookie_key(), user_id)
            if key is None:
                raise MissingApiKey(
                    "it was made with your own Gemini key, which was kept for that session only"
                )
        return GeminiConfig.from_settings(settings, key)

    return config_for


def sealer(settings: Settings) -> Seal:
    """A user's own key, encrypted with the app's secret (VIBA_COOKIE_KEY) for the job's
    arguments: the workers open it, the database alone does not."""
    secret = settings.resolved_cookie_key()
    return lambda api_key: keyvault.encrypt(secret, api_key)


def audit_pruning(db: Database, days: int) -> Callable[[], int]:
    def prune() -> int:
        count = audit.prune(db, days)
        if count:
            log.info("pruned %s audit entries older than %s days", count, days)
        return count

    return prune


def chores(settings: Settings, db: Database) -> list[Chore]:
    """The periodic tasks every worker schedules (the queue runs each once per due time)."""
    return [("viba.prune_audit", "17 * * * *", audit_pruning(db, settings.audit_retention_days))]
