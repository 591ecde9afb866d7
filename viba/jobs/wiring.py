"""What the app process gives its job runner: how a job finds its Gemini key, and its chores."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable

from viba.accounts import keyvault
from viba.core.config import Settings
from viba.engine.gemini import GeminiConfig, MissingApiKey
from viba.jobs.runner import ConfigFor
from viba.store import audit
from viba.store.db import Database

log = logging.getLogger(__name__)


def resume_config(settings: Settings, db: Database) -> ConfigFor:
    """config_for for the app: the user's remembered own key when the job was made with their
    own key (a key given for one session only is gone), else the server's GEMINI_API_KEY."""

    def config_for(user_id: uuid.UUID, own_key: bool) -> GeminiConfig:
        key = None
        if own_key:
            key, _unreadable = keyvault.load(db, settings.resolved_cookie_key(), user_id)
            if key is None:
                raise MissingApiKey(
                    "it was made with your own Gemini key, which was kept for that session only"
                )
        return GeminiConfig.from_settings(settings, key)

    return config_for


def audit_pruning(db: Database, days: int) -> Callable[[], int]:
    def prune() -> int:
        count = audit.prune(db, days)
        if count:
            log.info("pruned %s audit entries older than %s days", count, days)
        return count

    return prune
