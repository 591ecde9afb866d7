"""Model rights (issue 27.7): admins choose which models everyone, or one person, may pick;
checked where a choice is saved, where a job is submitted and where it falls back."""

from __future__ import annotations

import re
import uuid

import pytest
from sqlalchemy import delete, select
from test_jobs import submit

from viba.accounts import auth
from viba.accounts.account import NotAllowed
from viba.jobs.runner import JobError
from viba.store.models import AuditEntry, ModelRight
from viba.studio import features, model_rights, preferences
from viba.studio.model_rights import RightsError

from helpers import open_page, person


@pytest.fixture(autouse=True)
def clean_rights(db, admin):
    with db.session() as s:
        s.execute(delete(ModelRight))
    yield
    with db.session() as s:
        s.execute(delete(ModelRight))


@pytest.fixture()
def boss(db, admin):
    return auth.get_account(db, admin.id)


def image_models():
    return [m.id for m in features.catalog().for_step("avatar")]


def text_models():
    return [m.id for m in features.catalog().models.values() if m.usable and m.capability == "text"]


def test_everyones_list_and_a_persons_own_decide_what_they_may_pick(db, boss):
    one, two = person(db), person(db, "Tom")
    first, second = image_models()[:2]
    assert model_rights.allowed(db, one.id) is None  # no list: every model
    model_rights.set_rights(db, boss, None, [first, *text_models()])
    model_rights.set_rights(db, boss, two.id, [second, *text_models()])
    assert first in model_rights.allowed(db, one.id) and second not in model_rights.allowed(
        db, one.id
    )
    assert model_rights.allowed(db, two.id) == frozenset([second, *text_models()])
    with pytest.raises(RightsError, match="^You may not use .*: an admin chooses"):
        preferences.set_model_choice(db, one.id, "avatar", second)
    preferences.set_model_choice(db, two.id, "avatar", second)
    # Removing one's own list: everyone's applies again; removing everyone's: any model.
    model_rights.set_rights(db, boss, two.id, None)
    assert model_rights.allowed(db, two.id) == model_rights.allowed(db, one.id)
    model_rights.set_rights(db, boss, None, None)
    assert model_rights.allowed(db, one.id) is None
    with db.session() as s:
        actions = s.scalars(
            select(AuditEntry.action).where(AuditEntry.action == "admin_model_rights_set")
        ).all()
    assert len(actions) >= 4


def test_only_admins_set_rights_and_a_list_keeps_one_model_of_each_kind(db, boss):
    someone = person(db)
    with pytest.raises(NotAllowed):
        model_rights.set_rights(db, someone, None, image_models()[:1])
    with pytest.raises(RightsError, match="^Leave at least one text model and one image model.$"):
        model_rights.set_rights(db, boss, None, image_models()[:1])
    with pytest.raises(RightsError, match="^Not in the catalog: gemini-made-up.$"):
        model_rights.set_rights(db, boss, None, ["gemini-made-up", *image_models()])
    with pytest.raises(RightsError, match="^That account does not exist.$"):
        model_rights.set_rights(db, boss, uuid.uuid4(), [*image_models(), *text_models()])


def test_a_job_with_a_model_taken_away_is_refused_before_any_call(
    runner, db, boss, member, gemini_config, fake_gemini
):
    default = features.catalog().default_for("avatar")
    others = [m for m in image_models() if m != default]
    model_rights.set_rights(db, boss, member.id, [others[0], *text_models()])
    fake_gemini.requests.clear()
    with pytest.raises(JobError, match="an admin chooses the models each person may pick"):
        submit(runner, db, member, "avatar", 1, gemini_config)  # the default model
    assert fake_gemini.generate_calls() == []


def test_the_pages_offer_only_the_models_one_may_pick(db, boss, app_environ):
    member = person(db, "Page")
    allowed = image_models()[-1]
    model_rights.set_rights(db, boss, member.id, [allowed, *text_models()])
    prompts = open_page("pages/6_System_Prompts.py", member)
    assert not prompts.exception
    box = prompts.selectbox(key="model_avatar")
    assert box.value == allowed and len(box.options) == 1
    form = open_page("pages/2_Avatar.py", member)
    assert not form.exception
    assert all(k.key != "avatar_compare" for k in form.get("multiselect"))  # nothing to add
    # Admin > Models: the list, set from the page for everyone.
    at = open_page("pages/8_Admin.py", boss)
    at.radio(key="admin_section").set_value("Models").run()
    assert any(member.email in t.value for t in at.text)
    at.multiselect(key="rights_models_everyone").set_value(image_models()[:1] + text_models())
    at.button(key="rights_save").click().run()
    assert not at.exception
    assert model_rights.rights(db)["everyone"] == sorted(image_models()[:1] + text_models())


def test_a_fallback_goes_only_to_a_model_its_owner_may_pick(
    runner, db, boss, member, gemini_config, fake_gemini
):
    """The job's model is not listed by the key: the step's default would be next, but the
    owner may not pick it; the fallback is the one allowed model of that kind."""
    from test_jobs import row, submit_with

    from viba.engine import availability

    availability.forget()
    try:
        default = features.catalog().default_for("avatar")
        gone, allowed = [m for m in image_models() if m != default][:2]
        model_rights.set_rights(db, boss, member.id, [gone, allowed, *text_models()])
        fake_gemini.models = [m for m in fake_gemini.models if m != gone]
        job_id = submit_with(runner, db, member, "avatar", gemini_config, {"avatar": gone})
        runner.wait(job_id)
        r = row(db, job_id)
        assert r.status == "completed", r.error_message
        assert r.details["model_fallbacks"][0]["used"] == allowed
        assert {c.model for c in fake_gemini.generate_calls()} == {allowed}
    finally:
        availability.forget()


@pytest.mark.browser
def test_a_person_is_offered_only_their_models_in_the_browser(page, streamlit_server, db, boss):
    from playwright.sync_api import expect

    from helpers import main, open_logged_in, settled

    allowed = features.catalog().get(image_models()[-1])
    assert allowed is not None and image_models()[0] != allowed.id
    member = person(db, "Brow")
    model_rights.set_rights(db, boss, member.id, [allowed.id, *text_models()])
    free = person(db, "Free")  # no list of their own: every model
    for who, page_ in ((member, page), (free, page.context.browser.new_context().new_page())):
        open_logged_in(page_, streamlit_server, who, "System_Prompts")
        shown = main(page_).locator(".st-key-model_avatar").get_by_role("combobox")
        if who is member:  # the one model they may pick, in place of the default
            expect(shown).to_have_value(re.compile(re.escape(allowed.id)))
        else:
            expect(shown).not_to_have_value(re.compile(re.escape(allowed.id)))
        page_.goto(f"{streamlit_server.url}/Avatar")
        expect(main(page_).get_by_role("heading", name="Avatar", level=1)).to_be_visible()
        settled(page_)
        compare = main(page_).locator(".st-key-avatar_compare")
        # Comparing needs a second image model to pick.
        expect(compare).to_have_count(0 if who is member else 1)
        if page_ is not page:
            page_.context.close()
