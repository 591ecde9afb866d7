"""The System Prompts page through AppTest."""

from __future__ import annotations

import pytest
from sqlalchemy import update

from viba.engine import prompts
from viba.store.models import User
from viba.studio import features, prompt_store
from viba.web import browser_session

from helpers import open_page, stored_prefs

PAGE = "pages/6_System_Prompts.py"


@pytest.fixture(autouse=True)
def _env(app_environ):
    return app_environ


def test_every_step_shows_its_prompt_and_fitting_models(user, clean_prompts):
    at = open_page(PAGE, user)
    assert not at.exception
    catalog = features.catalog()
    for step in features.step_capabilities():
        box = at.selectbox(key=f"model_{step}")
        assert box.value == catalog.defaults[step]
        assert box.options == [
            ("⚠ " if m.status == "deprecated" else "") + f"{m.label} · {m.id}"
            for m in catalog.for_step(step)
        ]
    codes = [c.value for c in at.code]
    for template in features.builtin_prompts().values():
        assert template.template in codes and template.system in codes
    assert not at.expander  # no editing for users
    assert not [b for b in at.button if b.key and b.key.startswith("restore")]


def test_select_is_kept_in_session_and_row_and_restored_in_a_new_session(db, user):
    at = open_page(PAGE, user)
    at.selectbox(key="model_avatar").select("gemini-3-pro-image").run()
    assert not at.exception
    assert (
        at.session_state[browser_session.SESSION_KEY].model_choices["avatar"]
        == "gemini-3-pro-image"
    )
    assert stored_prefs(db, user) == {"avatar": "gemini-3-pro-image"}
    assert "Saved: gemini-3-pro-image" in at.toast[0].value
    fresh = open_page(PAGE, user)  # a new session: loaded from the row
    assert fresh.selectbox(key="model_avatar").value == "gemini-3-pro-image"
    assert fresh.selectbox(key="model_swap").value == features.catalog().defaults["swap"]
    fresh.button[0].click().run()  # Reset models to defaults
    assert fresh.selectbox(key="model_avatar").value == features.catalog().defaults["avatar"]
    assert stored_prefs(db, user) == {}


def test_retired_names_in_the_row_are_migrated_on_open(db, user):
    with db.session() as s:
        s.execute(
            update(User)
            .where(User.id == user.id)
            .values(
                model_preferences={
                    "derivation_text": "gemini-3-pro-preview",
                    "avatar": "gemini-2.5-flash-image",
                    "swap": "gemini-2.5-flash-image",
                }
            )
        )
    at = open_page(PAGE, user)
    assert at.selectbox(key="model_derivation_text").value == "gemini-3.1-pro-preview"
    assert stored_prefs(db, user)["derivation_text"] == "gemini-3.1-pro-preview"
    # One notice, a line per step that names it (the same old name in two steps: two lines).
    (notice,) = at.toast
    lines = notice.value.split("  \n")
    assert len(lines) == 3
    assert lines[0].startswith("Derivation, step 1: describe the image: gemini-3-pro-preview")
    assert any(line.startswith("Avatar: studio character portrait: ") for line in lines)
    assert any(line.startswith("Swap: person composed into the scene: ") for line in lines)


def test_admin_edits_a_prompt_and_restores_an_old_version(db, admin, clean_prompts):
    at = open_page(PAGE, admin)
    at.text_area(key="template_swap").input("Composite the person, {aspect_ratio}.")
    at.text_input(key="note_swap").input("shorter")
    at.button(key="FormSubmitter:edit_swap-Save as new version").click().run()
    assert not at.exception and not at.error
    active = prompt_store.active_prompts(db)["swap"]
    assert active.template.template == "Composite the person, {aspect_ratio}."
    assert "Composite the person, {aspect_ratio}." in [c.value for c in at.code]
    assert f"Prompt: version {active.version}" in [c.value for c in at.caption]
    # A bad edit is refused with a message and changes nothing.
    at.text_area(key="template_swap").input("Composite {nobody}.")
    at.button(key="FormSubmitter:edit_swap-Save as new version").click().run()
    assert "Unknown placeholder {nobody}" in at.error[0].value
    assert prompt_store.active_prompts(db)["swap"].version == active.version
    at.button(key="restore_builtin_swap").click().run()
    assert prompt_store.active_prompts(db)["swap"].template.template == prompts.SWAP.template
    assert at.text_area(key="template_swap").value == prompts.SWAP.template
    at.button(key=f"restore_{active.version}").click().run()
    assert prompt_store.active_prompts(db)["swap"].template.template.startswith("Composite the")
    assert len(prompt_store.list_versions(db, "swap")) == 3


def test_the_model_list_is_the_keys_asked_once_an_hour_and_refreshed_on_demand(
    monkeypatch, user, fake_gemini
):
    from viba.core.config import get_settings
    from viba.engine import availability

    monkeypatch.setenv("GEMINI_API_KEY", "server-key-for-the-list")
    monkeypatch.setenv("GEMINI_RETRY_ATTEMPTS", "1")
    get_settings.cache_clear()
    availability.forget()
    fake_gemini.models = ["gemini-nano-banana-2.1", "gemini-3.1-pro-preview", "gemini-2.5-pro"]
    fake_gemini.list_page_size = 2  # the SDK follows nextPageToken
    try:
        at = open_page(PAGE, user)
        assert not at.exception and not at.warning
        avatar = at.selectbox(key="model_avatar")
        assert avatar.options == [
            "Nano Banana 2.1 (fast) · gemini-nano-banana-2.1"
        ]  # gemini-3-pro-image is not on this key's list: not offered, and said why
        said = " ".join(c.value for c in at.caption if "Not offered to your key:" in c.value)
        assert "Gemini 3 Pro Image (highest quality) · gemini-3-pro-image" in said
        assert "gemini-3.1-flash-lite-image" in said
        text = at.selectbox(key="model_derivation_text").options
        # Listed by the key but retired (2026-12-01): never offered.
        assert text and not any("gemini-2.5-pro" in o for o in text)
        lists = [r for r in fake_gemini.requests if r.method == "GET"]
        assert len(lists) == 2  # 4 models (an embedding one among them), 2 per page
        assert lists[0].headers["x-goog-api-key"] == "server-key-for-the-list"
        # The next page run (any session) uses the list it has; Refresh asks again.
        fake_gemini.models.append("gemini-3-pro-image")
        at = open_page(PAGE, user)
        assert len([r for r in fake_gemini.requests if r.method == "GET"]) == 2
        next(b for b in at.button if b.label == "Refresh the model list").click().run()
        assert len([r for r in fake_gemini.requests if r.method == "GET"]) == 2 + 3
        assert len(at.selectbox(key="model_avatar").options) == 2  # + gemini-3-pro-image
    finally:
        availability.forget()
        monkeypatch.undo()
        get_settings.cache_clear()


def test_without_a_key_every_catalog_model_is_offered_and_the_page_says_why(monkeypatch, user):
    from viba.core.config import get_settings

    monkeypatch.setenv("GEMINI_API_KEY", "")
    get_settings.cache_clear()
    try:
        at = open_page(PAGE, user)
        assert "No Gemini API key" in at.warning[0].value
        assert len(at.selectbox(key="model_avatar").options) == 3  # the catalog's image models
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()
