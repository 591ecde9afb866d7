"""The page context (settings, database, image store, job runner, account, language) and the
account's choices kept in the browser session. The parts come from the composition root
(viba.services); this module only hands them to a page run."""

from __future__ import annotations

import functools
import logging
import uuid
from dataclasses import dataclass
from typing import Any

import streamlit as st

from viba.accounts import keyvault
from viba.accounts.account import Account
from viba.core.config import Settings, get_settings
from viba.core.errors import UserError
from viba.core.text import md_escape
from viba.engine.gemini import GeminiConfig
from viba.jobs.runner import JobRunner
from viba.services import Services, configure, services
from viba.store.db import Database
from viba.store.image_store import ImageStore
from viba.studio import boards, features, model_rights, preferences
from viba.web.boundary import fail
from viba.web.browser_session import session
from viba.web.language import t

log = logging.getLogger(__name__)


def boot() -> tuple[Settings, Services]:
    """The settings and the process's parts for them (viba.services: a migrated database, the image
    store, the job runner), or a clear message on the page and a stop. The first run in a
    process also starts the job runner, which picks up the jobs a previous process left
    unfinished; a failed start is logged and tried again by the next run, and the studio pages
    say why when they need the runner (the rest work on)."""
    try:
        settings = get_settings()
        configure(settings)
        settings.check_production()
        found = services(settings)
    except UserError as exc:
        fail(str(exc))
    try:
        found.start_runner()
    except Exception:
        log.exception("the job runner could not start")
    return settings, found


@dataclass(frozen=True)
class PageContext:
    """What a page and its view modules work with, for one script run."""

    settings: Settings  # this run's (the process's parts were built from equal ones)
    services: Services
    account: Account
    language: str

    @property
    def db(self) -> Database:
        return self.services.db

    @property
    def store(self) -> ImageStore:
        """The process-wide image store (VIBA_STORAGE)."""
        return self.services.store

    @property
    def runner(self) -> JobRunner:
        """The process-wide job runner (started by the process's first page run)."""
        return self.services.runner

    def gemini_config(self) -> GeminiConfig:
        """The engine configuration for this session (the user's own key first); raises
        MissingApiKey when there is no key at all."""
        return GeminiConfig.from_settings(self.settings, user_gemini_key(self.db, self.settings))

    def model_choices(self) -> dict[str, str]:
        """The account's model per step, each one it may pick (a choice an admin took away
        shows the first model of the step it may pick, until it chooses another)."""
        chosen = model_choices(self.db, self.account)
        permitted = self.permitted_models
        if permitted is None:
            return chosen
        catalog = features.catalog()
        for step, model in chosen.items():
            if model not in permitted:
                offered = [m.id for m in catalog.for_step(step) if m.id in permitted]
                if offered:
                    chosen[step] = offered[0]
        return chosen

    @functools.cached_property
    def permitted_models(self) -> frozenset[str] | None:
        """The models this account may pick (None: any), read once per run."""
        return model_rights.allowed(self.db, self.account.id)

    @functools.cached_property
    def boards_to_add_to(self) -> list[boards.BoardView]:
        """The boards this user adds to (read once per run, for every card's control)."""
        return boards.editable(self.db, self.account)


def model_choices(db: Database, account: Account) -> dict[str, str]:
    """The account's model per step: kept in the session, loaded (and migrated) from the row
    on first use after login."""
    box = session()
    if box.model_choices is not None:
        # Kept for the session, but checked against the catalog as it is now: a model an
        # admin retired since maps to its replacement here too (the row on the next login).
        catalog = features.catalog()
        kept = dict(box.model_choices)
        fresh = {step: catalog.resolve(step, model) for step, model in kept.items()}
        if all(r.model == kept[step] for step, r in fresh.items()):
            return kept
        box.model_choices = {step: r.model for step, r in fresh.items()}
        notes = [r.note for r in fresh.values() if r.note]
        if notes:
            st.toast("  \n".join(md_escape(t(n)) for n in notes), icon=":material/swap_horiz:")
        return dict(box.model_choices)
    choices, notes = preferences.load_model_choices(db, account.id)
    box.model_choices = dict(choices)
    if notes:  # one notice, a line per step (the names come from the database: escaped)
        st.toast("  \n".join(md_escape(t(note)) for note in notes), icon=":material/swap_horiz:")
    return choices


def feature_options(db: Database, account: Account) -> dict[str, dict[str, Any]]:
    """The options of the account's last submit of each feature: kept in the session, loaded
    from the row on first use after login."""
    box = session()
    if box.feature_options is None:
        box.feature_options = preferences.load_feature_options(db, account.id)
    return box.feature_options


def remember_feature_options(
    db: Database, account: Account, feature: str, options: dict[str, Any]
) -> None:
    box = session()
    box.feature_options = preferences.remember_feature_options(db, account.id, feature, options)


def user_gemini_key(db: Database, settings: Settings) -> str | None:
    """The user's own key: set in this session, else remembered on their row."""
    box = session()
    if box.user_id and not box.key_loaded:
        key, unreadable = keyvault.load(db, settings.resolved_cookie_key(), uuid.UUID(box.user_id))
        box.gemini_key, box.key_remembered, box.key_unreadable = key, key is not None, unreadable
        box.key_loaded = True
    return box.gemini_key
