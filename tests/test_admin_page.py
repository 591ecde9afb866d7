"""The Admin page through AppTest: each section draws from the real database, account
actions change the row, filters and paging work, any generation opens."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import timedelta

import pytest

from viba.accounts import auth, sessions
from viba.accounts.account import AuthError
from viba.store.models import ModelUsage, utcnow
from viba.studio import admin_reports

from helpers import PASSWORD, T0, add, open_page

PAGE = "pages/8_Admin.py"


@pytest.fixture(autouse=True)
def _env(app_environ):
    return app_environ


def table(at, index=0):
    return at.dataframe[index].value


def test_users_section_finds_a_user_and_every_action_changes_the_row(db, admin, user):
    at = open_page(PAGE, admin)
    assert not at.exception and not at.error
    at.text_input(key="au_text").input(user.email).run()
    assert list(table(at)["email"]) == [user.email]
    sessions.start(db, user.id, timedelta(days=1))
    for button, check in [
        ("au_end_sessions", lambda: sessions.live(db, user.id) == []),
        ("au_grant", lambda: auth.get_account(db, user.id).is_admin),
        ("au_revoke", lambda: not auth.get_account(db, user.id).is_admin),
        ("au_verify", lambda: auth.get_account(db, user.id).is_verified),
        ("au_deactivate", lambda: auth.get_account(db, user.id) is None),
        ("au_reactivate", lambda: auth.get_account(db, user.id) is not None),
    ]:
        at.button(key=button).click().run()
        assert not at.exception and check(), button
        assert at.toast, button  # the outcome is shown
    assert at.button(key="au_unlock").disabled  # not locked
    for _ in range(auth.MAX_FAILED_LOGINS):
        with pytest.raises(AuthError):
            auth.authenticate(db, user.email, "wrong-password-1")
    at.run()
    assert list(table(at)["locked"]) == [True]
    at.button(key="au_unlock").click().run()
    assert auth.authenticate(db, user.email, PASSWORD).id == user.id


def test_admin_cannot_deactivate_themselves_from_the_page(db, admin):
    at = open_page(PAGE, admin)
    at.text_input(key="au_text").input(admin.email).run()
    at.button(key="au_deactivate").click().run()
    assert not at.exception
    assert [t.value for t in at.toast] == ["You cannot deactivate your own account."]
    assert auth.get_account(db, admin.id) is not None


def test_generations_section_filters_pages_and_opens_any_generation(db, admin):
    owner = auth.register(db, f"g-{uuid.uuid4().hex[:8]}@example.com", "Gail", PASSWORD)
    ids = [
        add(db, owner, type="swap", at=T0 + timedelta(minutes=i), description=f"scene {i}")
        for i in range(55)
    ]
    at = open_page(PAGE, admin)
    at.radio(key="admin_section").set_value("Generations").run()
    assert not at.exception and not at.error
    at.text_input(key="ag_user").input(owner.email).run()
    assert list(table(at)["id"]) == [str(i) for i in reversed(ids)][:50]
    assert "Rows 1–50 of 55" in [c.value for c in at.caption]
    at.button(key="admin_generations_offset_next").click().run()
    assert list(table(at)["id"]) == [str(i) for i in reversed(ids)][50:]
    at.selectbox(key="ag_sort").set_value("created")
    at.toggle(key="ag_desc").set_value(False).run()  # new sorting starts again at row 0
    assert list(table(at)["id"])[:2] == [str(ids[0]), str(ids[1])]
    at.selectbox(key="ag_pick").select_index(0)  # the first row of the page
    at.button(key="ag_open").click().run()
    assert at.query_params["gen"] == str(ids[0]) and not at.exception
    at.button(key="admin_back").click().run()
    assert "gen" not in at.query_params
    at.multiselect(key="ag_statuses").set_value(["failed"]).run()
    assert table(at).empty
    # Open one: the admin sees someone else's generation, read-only.
    link = open_page(PAGE, admin, {"gen": str(ids[3])})
    assert not link.exception and not link.error
    assert "scene 3" in [t.value for t in link.text]
    assert f"Owner: {owner.email}" in [t.value for t in link.text]  # plain text, not markdown
    assert not [b for b in link.button if b.key and b.key.startswith("delete_")]


def test_usage_and_audit_sections_show_the_figures(db, admin, user):
    with pytest.raises(AuthError):
        auth.authenticate(db, user.email, "wrong-password-1")
    at = open_page(PAGE, admin)
    at.radio(key="admin_section").set_value("Audit log").run()
    assert not at.exception and not at.error
    at.text_input(key="aa_email").input(user.email).run()
    assert list(table(at)["action"]) == ["login_failed", "register"]
    at.multiselect(key="aa_actions").set_value(["register"]).run()
    assert list(table(at)["action"]) == ["register"]
    gid = add(db, user, at=utcnow())
    with db.session() as s:
        s.add(
            ModelUsage(
                user_id=user.id,
                generation_id=gid,
                feature="avatar",
                step="avatar",
                model="img-usage-test",
                tokens=4321,
                images=1,
                created_at=utcnow(),
            )
        )
    at.radio(key="admin_section").set_value("Usage").run()
    assert not at.exception and not at.error
    per_user, per_model = table(at, 0), table(at, 1)
    mine = per_user[per_user["email"] == user.email].iloc[0]
    assert (mine["generations"], mine["images"], mine["tokens"]) == (1, 1, 4321)
    model = per_model[per_model["model"] == "img-usage-test"].iloc[0]
    assert (model["calls"], model["tokens"]) == (1, 4321)
    assert at.get("arrow_vega_lite_chart") or at.get("vega_lite_chart")  # the chart


def test_csv_export_matches_the_filtered_rows(db, admin):
    owner = auth.register(db, f"c-{uuid.uuid4().hex[:8]}@example.com", "Cy", PASSWORD)
    ids = [add(db, owner, at=T0 + timedelta(minutes=i)) for i in range(3)]
    data = admin_reports.generations_csv(
        db, admin, admin_reports.GenerationFilter(user=owner.email)
    )
    rows = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))
    assert [r["id"] for r in rows] == [str(i) for i in reversed(ids)]


def test_limits_section_sets_everyones_and_one_accounts_limits(db, admin, user):
    from viba.studio import budget

    at = open_page(PAGE, admin)
    at.radio(key="admin_section").set_value("Limits").run()
    assert not at.exception and not at.error
    everyone = [n for n in at.number_input if n.label == "Monthly budget (USD)"]
    daily = [n for n in at.number_input if n.label == "Generations per day"]
    everyone[0].set_value(25.0)
    daily[0].set_value(40)
    next(b for b in at.button if b.label == "Save for everyone").click().run()
    try:
        assert not at.exception
        with db.session() as s:
            assert budget.team_limits(s) == budget.Limits(25.0, 40)
        at.selectbox(key="al_pick").set_value(
            next(o for o in at.selectbox(key="al_pick").options if o == user.email)
        ).run()
        at.number_input(key=f"al_daily_{user.id}").set_value(3)
        next(b for b in at.button if b.label == "Save for this account").click().run()
        assert not at.exception
        with db.session() as s:
            assert budget.limits_for(s, user.id) == budget.Limits(25.0, 3)
        row = next(r for r in table(at).to_dict("records") if r["email"] == user.email)
        assert row["generations left today"] == 3 and row["budget left (USD)"] == 25.0
    finally:
        budget.set_team_limits(db, admin, None, None)
        budget.set_user_limits(db, admin, user.id, None, None)
