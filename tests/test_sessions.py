"""Server-side login sessions: what ends them, and that a page notices at its next run."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from viba.accounts import auth, sessions
from viba.accounts.account import Account
from viba.store import audit
from viba.store.models import AuditEntry, UserSession, utcnow
from viba.studio import admin_users
from viba.web import browser_session

from helpers import PASSWORD, logged_in_box, open_page

DAY = timedelta(days=1)


def test_a_session_logs_in_until_it_ends_expires_or_its_user_is_deactivated(db, admin, user):
    first, _ = sessions.start(db, user.id, DAY, user_agent="Firefox", ip_address="10.0.0.1")
    assert sessions.check(db, first).id == user.id
    sessions.end(db, first)
    assert sessions.check(db, first) is None  # a copied cookie replayed after logout
    second, _ = sessions.start(db, user.id, DAY)
    with db.session() as s:
        s.execute(
            update(UserSession)
            .where(UserSession.id == second)
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
    assert sessions.check(db, second) is None
    third, _ = sessions.start(db, user.id, DAY)
    admin_users.set_active(db, admin, user.id, False)
    assert sessions.check(db, third) is None
    admin_users.set_active(db, admin, user.id, True)
    assert sessions.check(db, third) is None  # deactivation ended it for good
    assert sessions.live(db, user.id) == []


def test_password_change_keeps_this_browser_and_ends_the_others(db, user):
    here, _ = sessions.start(db, user.id, DAY)
    there, _ = sessions.start(db, user.id, DAY)
    auth.change_password(db, user.id, PASSWORD, "another-pass-7", keep_session=here)
    assert sessions.check(db, here) is not None and sessions.check(db, there) is None
    auth.set_temporary_password(db, _admin(db), user.email, "temporary-pass-8")
    assert sessions.check(db, here) is None  # an admin's reset ends them all


def _admin(db):
    with db.session() as s:
        from viba.store.models import User

        row = s.scalars(select(User).where(User.is_admin.is_(True)).limit(1)).one()
        return Account.of(row)


def test_admins_end_a_users_sessions_and_it_is_audited(db, admin, user):
    live, _ = sessions.start(db, user.id, DAY)
    with pytest.raises(admin_users.NotAllowed):
        admin_users.end_sessions(db, user, admin.id)
    admin_users.end_sessions(db, admin, user.id)
    assert sessions.check(db, live) is None
    with db.session() as s:
        actions = s.scalars(
            select(AuditEntry.action).where(
                AuditEntry.target_user_id == user.id, AuditEntry.actor_id == admin.id
            )
        ).all()
    assert audit.SESSIONS_ENDED in actions


def test_another_open_browser_is_logged_out_at_its_next_click(db, user, app_environ):
    mine = open_page("pages/7_Profile.py", user)
    other = open_page("pages/1_Derivation.py", user)
    assert not other.exception and other.title[0].value == "Derivation"
    _change_password(mine, PASSWORD, "changed-pass-3")
    assert "Password changed" in mine.success[0].value
    other.run()  # its next click
    assert [t.value for t in other.title] == ["Viba Studio"]
    assert any("session has ended" in i.value for i in other.info)
    mine.run()  # the browser that changed it stays in
    assert mine.title[0].value == "Profile"


def _change_password(at, current: str, new: str) -> None:
    inputs = {t.label: t for t in at.text_input}
    inputs["Current password"].input(current)
    inputs["New password"].input(new)
    inputs["Repeat new password"].input(new)
    next(b for b in at.button if b.label == "Change password").click().run()


def test_profile_lists_sessions_and_logs_out_everywhere(db, user, app_environ):
    elsewhere, _ = sessions.start(db, user.id, DAY, user_agent="Phone browser")
    at = open_page("pages/7_Profile.py", user)
    listed = at.dataframe[0].value
    assert len(listed) == 2 and "Phone browser" in list(listed["browser"])
    assert list(listed["this browser"]).count("✓") == 1
    at.button(key="logout_everywhere").click().run()
    assert [t.value for t in at.title] == ["Viba Studio"]
    assert sessions.check(db, elsewhere) is None and sessions.live(db, user.id) == []


def test_a_box_without_a_live_session_is_logged_out(db, user, app_environ):
    box = logged_in_box(user)
    sessions.end(db, box.session_id)
    at = open_page()
    at.session_state[browser_session.SESSION_KEY] = box
    at.run()
    assert [t.value for t in at.title] == ["Viba Studio"]
