"""Which models an API key can call: Gemini's models.list, asked at most once an hour per key
(or when a user asks again), and what the System Prompts page offers per step from it: the
catalog's usable models of the step's capability that the key lists, and the others with the
reason they cannot be picked.

A failed list (a network error, a refused key) is kept for a minute only, and the page then
offers the whole catalog, as it would without the list.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

from viba.engine.catalog import Catalog, ModelInfo
from viba.engine.gemini import GeminiConfig, GenerationError, ListedModel, list_models

CACHE_SECONDS = 3600.0
FAILURE_CACHE_SECONDS = 60.0
NOT_LISTED = "not offered to this API key (Gemini's model list)"


@dataclass(frozen=True)
class Availability:
    models: frozenset[str] | None  # None: not known (the list failed)
    problem: str | None = None  # why not, for the user
    checked_at: float = 0.0  # monotonic
    missing: frozenset[str] = frozenset()  # answered 404 NOT_FOUND since the list was read
    listed: tuple[ListedModel, ...] = ()  # what the list says of each model

    def can_call(self, model_id: str) -> bool:
        if model_id in self.missing:
            return False
        return self.models is None or model_id in self.models


@dataclass(frozen=True)
class Offer:
    """A step's selectbox: the models to offer (ids), and those of its capability that are
    not offered, with the reason."""

    models: list[str]
    unavailable: list[tuple[ModelInfo, str]]


_cache: dict[str, Availability] = {}
_locks: dict[str, threading.Lock] = {}
_guard = threading.Lock()


def _key(config: GeminiConfig) -> str:
    return hashlib.sha256(f"{config.api_key}\n{config.base_url}".encode()).hexdigest()


def for_config(
    config: GeminiConfig, refresh: bool = False, clock: Callable[[], float] = time.monotonic
) -> Availability:
    """The key's models, from the cache while it is fresh. Two pages asking at once for the
    same key make one call (the second waits for the first's answer)."""
    key = _key(config)
    with _guard:
        lock = _locks.setdefault(key, threading.Lock())
    with lock:
        hit = _cache.get(key)
        if hit is not None and not refresh:
            ttl = CACHE_SECONDS if hit.models is not None else FAILURE_CACHE_SECONDS
            if clock() - hit.checked_at < ttl:
                return hit
        try:
            listed = tuple(list_models(config))
            found = Availability(frozenset(m.id for m in listed), None, clock(), listed=listed)
        except GenerationError as exc:
            found = Availability(None, str(exc), clock())
        _cache[key] = found
        return found


def mark_missing(config: GeminiConfig, model_id: str) -> Availability:
    """A model the key's list named (or that was not known) answered 404 NOT_FOUND: until the
    list is read again, it counts as not callable for this key."""
    key = _key(config)
    with _guard:
        lock = _locks.setdefault(key, threading.Lock())
    with lock:
        hit = _cache.get(key) or Availability(None, None, time.monotonic())
        found = replace(hit, missing=hit.missing | {model_id})
        _cache[key] = found
        return found


def forget() -> None:
    """Drop every cached list (tests; a changed key is a new entry anyway)."""
    with _guard:
        _cache.clear()


def offer(catalog: Catalog, step: str, availability: Availability | None, current: str) -> Offer:
    """What a step's selectbox offers. The user's current choice stays in the list even when
    the key cannot call it (marked by the page), so that the box shows the truth."""
    fitting = catalog.for_step(step)
    if availability is None:
        return Offer([m.id for m in fitting], [])
    models = [m.id for m in fitting if availability.can_call(m.id) or m.id == current]
    unavailable = [(m, NOT_LISTED) for m in fitting if not availability.can_call(m.id)]
    return Offer(models, unavailable)
