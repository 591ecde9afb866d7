"""The audit log gets an entry for each login, failed login, lock, password change and reset,
written with the change itself."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from sqlalchemy import select

from viba.accounts import auth
from viba.accounts.account import AccountLocked, AuthError
from viba.store import audit
from viba.store.models import AuditEntry, utcnow

from helpers import PASSWORD


def actions_for(db, email):
    with db.session() as s:
        rows = s.scalars(
            select(AuditEntry).where(AuditEntry.actor_email == email).order_by(AuditEntry.id)
        ).all()
    return [(r.action, r.details.get("reason")) for r in rows]


def test_logins_failures_and_the_lock_are_recorded(db, user):
    auth.authenticate(db, user.email, PASSWORD)
    for _ in range(auth.MAX_FAILED_LOGINS):
        with pytest.raises(AuthError):
            auth.authenticate(db, user.email, "wrong-password-1")
    with pytest.raises(AccountLocked):
        auth.authenticate(db, user.email, PASSWORD)
    got = actions_for(db, user.email)
    assert got[0] == (audit.REGISTER, None)
    assert got[1] == (audit.LOGIN, None)
    assert got[2:7] == [(audit.LOGIN_FAILED, "wrong password")] * 5
    assert got[7] == (audit.ACCOUNT_LOCKED, None)
    assert got[8] == (audit.LOGIN_FAILED, "locked")


def test_a_failed_login_for_an_unknown_email_is_recorded_with_that_email(db):
    email = f"nobody-{uuid.uuid4().hex[:6]}@example.com"
    with pytest.raises(AuthError):
        auth.authenticate(db, email.upper(), "whatever-123")
    assert actions_for(db, email) == [(audit.LOGIN_FAILED, "no account")]


def test_password_change_reset_and_temporary_password_are_recorded(db, admin, user):
    auth.change_password(db, user.id, PASSWORD, "another-pass-2")
    token = auth.make_reset_token(db, "k" * 40, user.email)
    auth.reset_password_with_token(db, "k" * 40, token, "third-pass-3")
    auth.set_temporary_password(db, admin, user.email, "temporary-4")
    with db.session() as s:
        rows = s.scalars(
            select(AuditEntry).where(AuditEntry.target_user_id == user.id).order_by(AuditEntry.id)
        ).all()
    assert [(r.action, r.actor_id) for r in rows] == [
        (audit.PASSWORD_CHANGED, user.id),
        (audit.PASSWORD_RESET, user.id),
        (audit.TEMPORARY_PASSWORD, admin.id),
    ]
    assert rows[2].actor_email == admin.email


def test_entries_filter_and_page_newest_first(db, user):
    for _ in range(3):
        with pytest.raises(AuthError):
            auth.authenticate(db, user.email, "wrong-password-1")
    only_mine = audit.AuditFilter(actions=(audit.LOGIN_FAILED,), email=user.email.upper())
    later = audit.AuditFilter(email=user.email, since=utcnow() + timedelta(minutes=1))
    with db.session() as s:
        first, total = audit.entries(s, only_mine, limit=2)
        assert total == 3 and len(first) == 2
        rest, _ = audit.entries(s, only_mine, offset=2, limit=2)
        assert len(rest) == 1
        times = [r.created_at for r in first + rest]
        assert times == sorted(times, reverse=True)
        assert audit.entries(s, later) == ([], 0)
        assert len(list(audit.iter_entries(s, only_mine))) == 3


def test_unknown_actions_are_refused(db):
    with db.session() as s, pytest.raises(ValueError):
        audit.record(s, "made_up")


def test_entries_older_than_the_retention_are_pruned_in_batches(db, user):
    from sqlalchemy import update

    marker = f"prune-{uuid.uuid4().hex[:8]}"
    with db.session() as s:
        for age_days in (400, 380, 366, 364, 10):
            audit.record(s, audit.LOGIN, actor_email=marker, age=age_days)
    with db.session() as s:
        for entry in s.scalars(select(AuditEntry).where(AuditEntry.actor_email == marker)):
            s.execute(
                update(AuditEntry)
                .where(AuditEntry.id == entry.id)
                .values(created_at=utcnow() - timedelta(days=entry.details["age"]))
            )
    assert audit.prune(db, 365, batch=2) >= 3
    with db.session() as s:
        left = s.scalars(select(AuditEntry).where(AuditEntry.actor_email == marker)).all()
    assert sorted(e.details["age"] for e in left) == [10, 364]
