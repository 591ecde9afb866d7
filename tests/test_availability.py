"""The model list per key: cached an hour (a failure a minute), one call for concurrent pages."""

from __future__ import annotations

import dataclasses
import socket
import threading

import pytest

from viba.engine import availability
from viba.studio import features


@pytest.fixture(autouse=True)
def _fresh():
    availability.forget()
    yield
    availability.forget()


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def lists(fake) -> int:
    return len([r for r in fake.requests if r.method == "GET"])


def test_a_list_is_kept_an_hour_per_key(fake_gemini, gemini_config):
    clock = Clock()
    first = availability.for_config(gemini_config, clock=clock)
    assert first.models == frozenset(fake_gemini.models)  # the embedding model is left out
    clock.now += availability.CACHE_SECONDS - 1
    assert availability.for_config(gemini_config, clock=clock) is first
    other_key = dataclasses.replace(gemini_config, api_key="another-key")
    availability.for_config(other_key, clock=clock)
    assert lists(fake_gemini) == 2
    clock.now += 2  # an hour after the first
    availability.for_config(gemini_config, clock=clock)
    assert lists(fake_gemini) == 3


def test_a_failed_list_is_kept_a_minute_and_offers_the_whole_catalog(gemini_config):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    down = dataclasses.replace(
        gemini_config, base_url=f"http://127.0.0.1:{port}/", retry_attempts=1
    )
    clock = Clock()
    failed = availability.for_config(down, clock=clock)
    assert failed.models is None and "could not be reached" in (failed.problem or "")
    clock.now += availability.FAILURE_CACHE_SECONDS - 1
    assert availability.for_config(down, clock=clock) is failed
    clock.now += 2
    assert availability.for_config(down, clock=clock) is not failed
    offer = availability.offer(features.catalog(), "avatar", None, "gemini-3-pro-image")
    assert offer.models == [m.id for m in features.catalog().for_step("avatar")]


def test_pages_asking_at_once_make_one_call(fake_gemini, gemini_config):
    fake_gemini.list_page_size = 1  # a slow list: one request per model
    start = threading.Barrier(8)
    results = []

    def ask():
        start.wait()
        results.append(availability.for_config(gemini_config))

    threads = [threading.Thread(target=ask) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({id(r) for r in results}) == 1
    assert lists(fake_gemini) == len(fake_gemini.models) + 1  # one listing, page by page


def test_the_current_choice_stays_offered_even_when_the_key_cannot_call_it():
    known = availability.Availability(frozenset({"gemini-nano-banana-2.1"}))
    offer = availability.offer(features.catalog(), "avatar", known, "gemini-3-pro-image")
    assert offer.models == ["gemini-nano-banana-2.1", "gemini-3-pro-image"]
    assert [m.id for m, _ in offer.unavailable] == [
        "gemini-3.1-flash-lite-image",
        "gemini-3-pro-image",
    ]
