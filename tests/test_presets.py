"""Presets: a feature's full settings and reference images under a name, personal or the
team's (viba.studio.presets), the form started from one (AppTest), on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select

from viba.store.models import GenerationHistory, PromptVersion
from viba.studio import history, presets
from viba.studio.presets import PresetError

from fake_gemini import png_bytes
from helpers import add, open_page, person, wait_until


@pytest.fixture(autouse=True)
def _env(app_environ, admin):
    return app_environ


@pytest.fixture()
def store(app_store):
    """The app's own store: the pages read what the tests put there."""
    return app_store


def made(db, store, owner, type="try_on"):
    inputs = [store.save(png_bytes(f"in {uuid.uuid4()}"), "image/png").key for _ in range(2)]
    out = store.save(png_bytes(f"out {uuid.uuid4()}"), "image/png").key
    gid = add(db, owner, type=type, inputs=inputs, outputs=[out], names=("me.png", "coat.png"))
    with db.session() as s:
        row = s.get(GenerationHistory, gid)
        row.input_params = {
            **row.input_params,
            "options": {"image_size": "2K", "aspect_ratio": "3:4"},
            "prompt_versions": {"try_on": "builtin"},
        }
    return gid, inputs, out


def test_a_preset_keeps_its_images_after_its_generation_is_deleted(db, store):
    owner = person(db)
    gid, inputs, out = made(db, store, owner)
    preset_id = presets.save(db, owner, gid, "  Winter   coat ")
    (found,) = presets.offered(db, owner, "try_on")
    assert (found.name, found.thumb_key, found.team) == ("Winter coat", out, False)
    history.delete_generation(db, store, owner.id, gid)
    assert all(store.exists(k) for k in [*inputs, out])  # kept by the preset
    filled = presets.as_prefill(db, owner, preset_id)
    assert filled.inputs == {"person": [inputs[0]], "garment": [inputs[1]]}
    assert filled.names == {"person": ["me.png"], "garment": ["coat.png"]}
    assert filled.options == {"image_size": "2K", "aspect_ratio": "3:4"}
    assert filled.prompt_versions == {"try_on": "builtin"} and filled.models
    presets.delete_preset(db, store, owner, preset_id)
    assert not any(store.exists(k) for k in [*inputs, out])  # nothing else kept them


def test_personal_presets_are_their_owners_and_team_ones_everyones(db, store, admin):
    owner, other = person(db), person(db, "Otto")
    gid, _, out = made(db, store, owner)
    mine = presets.save(db, owner, gid, "Mine")
    assert presets.offered(db, other, "try_on") == [] and presets.offered(db, owner, "avatar") == []
    for action in (
        lambda: presets.as_prefill(db, other, mine),
        lambda: presets.delete_preset(db, store, other, mine),
    ):
        with pytest.raises(PresetError):
            action()
    with pytest.raises(PresetError, match="^That generation does not exist"):
        presets.save(db, other, gid, "Stolen")
    with pytest.raises(PresetError, match="^Only admins make team presets.$"):
        presets.save(db, owner, gid, "For all", team=True)
    with pytest.raises(PresetError, match="^You already have a preset named Mine.$"):
        presets.save(db, owner, gid, "Mine")
    with pytest.raises(PresetError, match="^Give the preset a name.$"):
        presets.save(db, owner, gid, "  ")
    agid, _, _ = made(db, store, admin)
    team = presets.save(db, admin, agid, "House style", team=True)
    assert [p.id for p in presets.offered(db, other, "try_on")] == [team]
    assert presets.as_prefill(db, other, team).feature == "try_on"
    with pytest.raises(PresetError):
        presets.delete_preset(db, store, other, team)
    presets.delete_preset(db, store, admin, team)  # a team preset shows on every page test after


def test_start_a_form_from_a_preset_and_it_runs_with_its_settings(
    db, store, fake_gemini, clean_prompts
):
    owner = person(db)
    with db.session() as s:
        version = PromptVersion(
            step="try_on", system="Be exact.", template="Dress the person in the garment, exactly."
        )
        s.add(version)
        s.flush()
        version_id = version.id
    gid, inputs, out = made(db, store, owner)
    with db.session() as s:
        row = s.get(GenerationHistory, gid)
        row.input_params = {**row.input_params, "prompt_versions": {"try_on": version_id}}
    detail = open_page("pages/5_History.py", owner, {"id": str(gid)})
    detail.text_input(key=f"preset_name_{gid}").input("Coat look")
    detail.button(key=f"preset_save_{gid}").click().run()
    assert [t.value for t in detail.toast] == ["Saved as the preset Coat look."]
    (preset,) = [p for p in presets.offered(db, owner, "try_on") if not p.team]

    at = open_page("pages/3_Try_On.py", owner)
    assert not at.exception and "Coat look" in [t.value for t in at.text]
    at.button(key=f"preset_use_{preset.id}").click().run()
    assert [t.value for t in at.toast] == ["The form is filled in from the preset."]
    assert not at.get("file_uploader")  # both slots come from the preset
    next(b for b in at.button if b.label == "Generate").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]

    def job():
        with db.session() as s:
            rows = s.scalars(
                select(GenerationHistory).where(
                    GenerationHistory.user_id == owner.id, GenerationHistory.id != gid
                )
            ).all()
            return rows[0] if rows else None

    row = wait_until(job, timeout=15)
    assert row.input_keys == inputs
    assert row.input_params["options"]["image_size"] == "2K"
    assert row.input_params["options"]["aspect_ratio"] == "3:4"
    assert row.input_params["prompt_versions"]["try_on"] == version_id
    assert "Dress the person in the garment, exactly." in row.input_params["prompt"]


def test_an_action_whose_login_check_meets_a_database_outage_says_so(db, store):
    """The callback's login check is inside the action's own boundary: a database that
    fails right then gives the one sentence on the next run, not an error from Streamlit,
    and nothing is done."""
    from sqlalchemy import event

    owner = person(db, "outage")
    gid, _, _ = made(db, store, owner)
    detail = open_page("pages/5_History.py", owner, {"id": str(gid)})
    detail.text_input(key=f"preset_name_{gid}").input("Mid outage")

    def refuse_once(*_args, **_kwargs):
        event.remove(db.engine, "before_cursor_execute", refuse_once)
        raise db.engine.dialect.dbapi.OperationalError("test outage")

    event.listen(db.engine, "before_cursor_execute", refuse_once)
    try:
        detail.button(key=f"preset_save_{gid}").click().run()
    finally:
        if event.contains(db.engine, "before_cursor_execute", refuse_once):
            event.remove(db.engine, "before_cursor_execute", refuse_once)
    assert not detail.exception
    assert presets.offered(db, owner, "try_on") == []
    assert ["cannot be reached" in x.value for x in detail.toast] == [True]


def test_an_action_after_the_login_ended_elsewhere_does_nothing(db, store):
    """A widget's callback runs before the page's guard: it asks whether the login is still
    live first, and the page then shows the login panel."""
    from viba.accounts import sessions

    owner = person(db, "ended")
    gid, _, _ = made(db, store, owner)
    detail = open_page("pages/5_History.py", owner, {"id": str(gid)})
    detail.text_input(key=f"preset_name_{gid}").input("Too late")
    with db.session() as s:
        sessions.end_all(s, owner.id, "logout")  # as a logout in another browser does
    detail.button(key=f"preset_save_{gid}").click().run()
    assert not detail.exception
    assert presets.offered(db, owner, "try_on") == []
    assert any("session has ended" in i.value for i in detail.info)
