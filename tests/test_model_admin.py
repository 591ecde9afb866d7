"""Admin > Models: the catalog file with the admins' changes in the database (adopt a model
Google shipped, hide one, retire one with its replacement), on both databases, through the
domain functions and the page; and Gemini's list of the server key as the fake serves it."""

from __future__ import annotations

import threading
import uuid

import pytest
from sqlalchemy import delete, select

from viba.accounts import auth
from viba.accounts.account import NotAllowed
from viba.store import audit
from viba.store.models import AuditEntry, ModelChange
from viba.studio import features, model_admin, preferences

from helpers import PASSWORD, open_page

NEW = "gemini-nano-banana-3"
PAGE = "pages/8_Admin.py"


@pytest.fixture(autouse=True)
def clean_changes(db):
    """Each test starts from the catalog file and leaves it so (one database for the run)."""
    model_admin.forget()
    with db.session() as s:
        s.execute(delete(AuditEntry).where(AuditEntry.action.in_(MODEL_ACTIONS)))
    yield
    with db.session() as s:
        s.execute(delete(ModelChange))
        s.execute(delete(AuditEntry).where(AuditEntry.action.in_(MODEL_ACTIONS)))
    model_admin.forget()


MODEL_ACTIONS = (audit.MODEL_ADOPTED, audit.MODEL_RETIRED, audit.MODEL_HIDDEN)


@pytest.fixture()
def boss(db, admin):
    return auth.get_account(db, admin.id)


def adopt_new(db, actor, model_id=NEW, **kw):
    return model_admin.adopt(
        db,
        actor,
        model_id,
        "image",
        kw.pop("label", "Nano Banana 3"),
        "纳米香蕉 3",
        ["1K", "2K"],
        ["1:1", "3:4", "16:9"],
        {"input": 1.0, "output": 5.0, "image_output": 30.0},
        {"1K": 1120, "2K": 1680},
        **kw,
    )


def entries(db, action):
    with db.session() as s:
        return list(s.scalars(select(AuditEntry).where(AuditEntry.action == action)))


def test_an_adopted_model_is_offered_to_the_steps_of_its_capability(db, boss):
    assert features.catalog().get(NEW) is None
    info = adopt_new(db, boss)
    assert (info.sizes, info.label_in("zh")) == (("1K", "2K"), "纳米香蕉 3")
    catalog = features.catalog()
    assert NEW in [m.id for m in catalog.for_step("avatar")]
    assert NEW not in [m.id for m in catalog.for_step("derivation_text")]
    assert catalog.resolve("swap", NEW).model == NEW  # a user may choose it
    (entry,) = entries(db, audit.MODEL_ADOPTED)
    assert entry.actor_id == boss.id and entry.details["model"] == NEW
    # Another process sees it within REFRESH_SECONDS: here, once it reads the table again.
    model_admin.forget()
    assert features.catalog().get(NEW) is None
    model_admin.refresh(db)
    assert features.catalog().get(NEW).label == "Nano Banana 3"


@pytest.mark.parametrize(
    "model_id, kw, words",
    [
        ("gemini x<script>", {}, "letters, digits, dots and dashes"),
        (NEW, {"label": "   "}, "Give the model a label"),
        (NEW, {"status": "shut_down"}, "current or preview"),
    ],
)
def test_a_change_that_does_not_fit_is_one_sentence_and_changes_nothing(
    db, boss, model_id, kw, words
):
    with pytest.raises(model_admin.ModelAdminError, match=words):
        adopt_new(db, boss, model_id, **kw)
    with pytest.raises(model_admin.ModelAdminError, match="needs sizes"):
        model_admin.adopt(db, boss, NEW, "image", "No sizes")  # an image model without any
    with db.session() as s:
        assert s.scalar(select(ModelChange.model_id)) is None
    assert entries(db, audit.MODEL_ADOPTED) == []


def test_only_admins_change_the_catalog(db, boss):
    member = auth.register(db, f"m-{uuid.uuid4().hex[:8]}@example.com", "Member", PASSWORD)
    with pytest.raises(NotAllowed):
        adopt_new(db, member)
    with pytest.raises(NotAllowed):
        model_admin.hide(db, member, NEW)
    with pytest.raises(NotAllowed):
        model_admin.retire(db, member, "gemini-3-pro-image", "shut_down", "gemini-nano-banana-2.1")
    assert features.catalog().get(NEW) is None


def test_retiring_the_default_maps_every_choice_of_it_to_the_replacement(db, boss, user):
    default = features.catalog().default_for("avatar")
    preferences.set_model_choice(db, user.id, "avatar", default)
    info = model_admin.retire(db, boss, default, "shut_down", "gemini-3-pro-image")
    assert not info.usable and info.auto_map
    catalog = features.catalog()
    assert catalog.default_for("avatar") == "gemini-3-pro-image"  # the default follows
    assert default not in [m.id for m in catalog.for_step("avatar")]
    resolved = catalog.resolve("avatar", default)
    assert resolved.model == "gemini-3-pro-image" and "is retired" in resolved.note
    choices, notes = preferences.load_model_choices(db, user.id)
    assert choices["avatar"] == "gemini-3-pro-image"
    assert any(default in note and "is retired" in note for note in notes)  # said once
    (entry,) = entries(db, audit.MODEL_RETIRED)
    assert entry.details == {
        "model": default,
        "status": "shut_down",
        "replacement": "gemini-3-pro-image",
        "auto_map": True,
    }
    with pytest.raises(model_admin.ModelAdminError, match="needs a replacement"):
        model_admin.retire(db, boss, "gemini-3-pro-image", "shut_down", None)
    with pytest.raises(model_admin.ModelAdminError, match="not a usable image model"):
        model_admin.retire(db, boss, "gemini-3-pro-image", "shut_down", "gemini-3.8-flash")


def test_two_admins_adopting_at_once_leave_one_valid_catalog(db, boss):
    """Changes are validated as a whole, one at a time: two adoptions at the same moment both
    land, and a retirement racing them never leaves a default without a model."""
    start = threading.Barrier(3)
    errors: list[Exception] = []

    def run(work):
        start.wait()
        try:
            work()
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    works = [
        lambda: adopt_new(db, boss, "gemini-nano-banana-3"),
        lambda: adopt_new(db, boss, "gemini-nano-banana-3-lite", label="Lite 3"),
        lambda: model_admin.retire(
            db, boss, "gemini-nano-banana-2.1", "shut_down", "gemini-3-pro-image"
        ),
    ]
    threads = [threading.Thread(target=run, args=(w,)) for w in works]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == []
    model_admin.refresh(db, force=True)
    catalog = features.catalog()
    assert {"gemini-nano-banana-3", "gemini-nano-banana-3-lite"} <= set(catalog.models)
    assert catalog.default_for("avatar") == "gemini-3-pro-image"
    # What mapped to the retired model maps on to its replacement.
    assert catalog.resolve("avatar", "gemini-3.1-flash-image").model == "gemini-3-pro-image"
    with db.session() as s:
        assert len(s.scalars(select(ModelChange)).all()) == 3


def test_the_page_lists_what_gemini_offers_and_adopts_and_hides(
    db, boss, app_environ, fake_gemini, monkeypatch
):
    from viba.core.config import get_settings
    from viba.engine import availability

    monkeypatch.setenv("GEMINI_API_KEY", "server-key-for-models")
    get_settings.cache_clear()
    availability.forget()
    fake_gemini.models += [NEW, "gemini-robot-9"]
    fake_gemini.listed_details[NEW] = {
        "displayName": "Nano Banana 3",
        "description": "**Image** generation <img src=x onerror=alert(1)>",
    }
    try:
        at = open_page(PAGE, boss)
        at.radio(key="admin_section").set_value("Models").run()
        assert not at.exception
        labels = [e.label for e in at.expander]
        assert labels == [f"{NEW} · Nano Banana 3", "gemini-robot-9 · gemini-robot-9"]
        # Google's description as plain text, not markdown or HTML.
        assert "**Image** generation <img src=x onerror=alert(1)>" in [x.value for x in at.text]
        adopt = [b for b in at.button if b.label == "Adopt"]
        assert len(adopt) == 2  # a form per listed model, in the list's order
        adopt[0].click().run()
        assert not at.exception
        assert features.catalog().get(NEW).capability == "image"
        assert [e.label for e in at.expander] == ["gemini-robot-9 · gemini-robot-9"]
        at.button(key="hide_gemini-robot-9").click().run()
        assert [e.label for e in at.expander] == []
        assert model_admin.load(db).hidden == frozenset({"gemini-robot-9"})
        # The System Prompts page offers the adopted model.
        prompts = open_page("pages/6_System_Prompts.py", boss)
        assert any(NEW in o for o in prompts.selectbox(key="model_avatar").options)
    finally:
        availability.forget()
        monkeypatch.undo()
        get_settings.cache_clear()


def test_a_model_marked_deprecated_stays_offered_with_its_mark(db, boss, app_environ):
    model_admin.retire(db, boss, "gemini-3-flash-preview", "deprecated", "gemini-3.8-flash")
    at = open_page("pages/6_System_Prompts.py", boss)
    options = at.selectbox(key="model_derivation_text").options
    assert "⚠ Gemini 3 Flash (preview, fast) · gemini-3-flash-preview" in options
    assert features.catalog().resolve("derivation_text", "gemini-3-flash-preview").note is None
