"""Prompt versions and model preferences in the database."""

from __future__ import annotations

import pytest
from sqlalchemy import update

from viba.accounts.account import AuthError
from viba.engine import pipelines, prompts
from viba.store.models import User
from viba.studio import features, preferences, prompt_store

from helpers import stored_prefs


def test_builtin_prompts_are_active_until_an_admin_saves_a_version(db, admin, clean_prompts):
    active = prompt_store.active_prompts(db)
    assert {s: a.version for s, a in active.items()} == {
        s: "builtin" for s in features.builtin_prompts()
    }
    v1 = prompt_store.save_version(
        db,
        admin,
        "avatar",
        "Be a painter.",
        "Paint the {photo_count} photos as {aspect_ratio} art.",
        "paint",
    )
    v2 = prompt_store.save_version(
        db, admin, "avatar", "Be a sculptor.", "Sculpt {photo_count} photos."
    )
    active = prompt_store.active_prompts(db)
    assert active["avatar"].version == v2 > v1
    assert active["avatar"].template.system == "Be a sculptor."
    assert active["avatar"].template.render(photo_count=2, aspect_ratio="3:4") == "Sculpt 2 photos."
    assert active["swap"].version == "builtin"
    history = prompt_store.list_versions(db, "avatar")
    assert [(v.id, v.note, v.author) for v in history] == [
        (v2, None, admin.email),
        (v1, "paint", admin.email),
    ]
    v3 = prompt_store.restore_version(db, admin, v1)
    active = prompt_store.active_prompts(db)["avatar"]
    assert active.version == v3 and active.template.system == "Be a painter."
    assert len(prompt_store.list_versions(db, "avatar")) == 3  # nothing was overwritten
    prompt_store.restore_builtin(db, admin, "avatar")
    assert prompt_store.active_prompts(db)["avatar"].template.template == prompts.AVATAR.template


def test_the_engine_sends_the_active_version(db, admin, clean_prompts, fake_gemini, gemini_config):
    from helpers import photo

    prompt_store.save_version(
        db, admin, "swap", "Composite.", "Put person in scene, {aspect_ratio}."
    )
    active = prompt_store.active_prompts(db)["swap"]
    pipelines.run_swap(gemini_config, photo(), photo("blue"), "gemini-3-pro-image", active.template)
    (call,) = fake_gemini.generate_calls()
    assert call.text == "Put person in scene, 3:4." and call.system == "Composite."


@pytest.mark.parametrize(
    "step, template, message",
    [
        ("avatar", "Paint {name}.", "Unknown placeholder {name}"),
        ("avatar", "Paint { photo_count.", "stray brace"),
        (
            "derivation_image",
            "Make a variant, creativity {creativity}.",
            "must contain {description}",
        ),
        ("swap", "   ", "cannot be empty"),
    ],
)
def test_a_prompt_that_would_not_render_is_refused(
    db, admin, clean_prompts, step, template, message
):
    with pytest.raises(prompt_store.PromptError, match=message):
        prompt_store.save_version(db, admin, step, "sys", template)
    assert prompt_store.active_prompts(db)[step].version == "builtin"


def test_non_admins_cannot_edit_prompts(db, user, clean_prompts):
    with pytest.raises(AuthError, match="Only admins"):
        prompt_store.save_version(db, user, "avatar", "x", "y {photo_count}")
    assert prompt_store.list_versions(db, "avatar") == []


def test_model_choice_is_validated_saved_and_reset(db, user):
    catalog = features.catalog()
    choices, notes = preferences.load_model_choices(db, user.id)
    assert choices == catalog.defaults and notes == []
    preferences.set_model_choice(db, user.id, "avatar", "gemini-3-pro-image")
    preferences.set_model_choice(db, user.id, "derivation_text", "gemini-3-flash-preview")
    assert stored_prefs(db, user) == {
        "avatar": "gemini-3-pro-image",
        "derivation_text": "gemini-3-flash-preview",
    }
    for step, model in [
        ("avatar", "gemini-3-flash-preview"),
        ("avatar", "gemini-3-pro-preview"),
        ("lipstick", "gemini-3-pro-image"),
    ]:
        with pytest.raises(preferences.PreferenceError):
            preferences.set_model_choice(db, user.id, step, model)
    assert preferences.load_model_choices(db, user.id)[0]["avatar"] == "gemini-3-pro-image"
    preferences.reset_model_choices(db, user.id)
    assert stored_prefs(db, user) == {}


def test_retired_stored_names_are_mapped_and_saved_back(db, user):
    with db.session() as s:
        s.execute(
            update(User)
            .where(User.id == user.id)
            .values(
                model_preferences={
                    "derivation_text": "gemini-3-pro-preview",
                    "derivation_image": "gemini-3.1-flash-image-preview",
                    "avatar": "gemini-2.5-pro-image",
                    "swap": "gemini-2.5-flash-image",
                    "try_on": "gemini-3-pro-image-preview",
                }
            )
        )
    choices, notes = preferences.load_model_choices(db, user.id)
    assert choices["derivation_text"] == "gemini-3.1-pro-preview"
    assert choices["derivation_image"] == "gemini-nano-banana-2.1"
    assert choices["avatar"] == "gemini-3-pro-image" and choices["swap"] == "gemini-nano-banana-2.1"
    assert choices["try_on"] == "gemini-3-pro-image"  # the original product's name
    assert len(notes) == 5 and any("never existed" in n for n in notes)
    titles = [step.prompt.title for step in features.steps().values()]
    for title in titles:  # each note names its step
        assert sum(n.startswith(title + ": ") for n in notes) == 1
    assert stored_prefs(db, user) == {
        "derivation_text": "gemini-3.1-pro-preview",
        "derivation_image": "gemini-nano-banana-2.1",
        "avatar": "gemini-3-pro-image",
        "swap": "gemini-nano-banana-2.1",
        "try_on": "gemini-3-pro-image",
    }
    assert preferences.load_model_choices(db, user.id)[1] == []  # mapped once, saved
