"""Accounts against the real database: registration, login, lockout, password changes."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from viba import auth
from viba.db import Database
from viba.models import User, utcnow

from helpers import PASSWORD


def row(db: Database, email: str) -> User:
    with db.session() as s:
        return s.scalars(select(User).where(User.email == email)).one()


def test_register_stores_a_bcrypt_hash_and_lowercased_email(db, admin, email):
    account = auth.register(db, "  " + email.upper() + " ", "Uma User", PASSWORD)
    stored = row(db, email)
    assert account.email == email == stored.email
    assert stored.password_hash.startswith("$2b$") and PASSWORD not in stored.password_hash
    assert auth.verify_password(PASSWORD, stored.password_hash)
    assert stored.is_admin is False and stored.is_verified is False
    assert stored.model_preferences == {} and stored.failed_logins == 0
    assert stored.created_at.tzinfo is not None


def test_duplicate_email_is_refused_whatever_the_case(db, user):
    with pytest.raises(auth.AuthError, match="already exists"):
        auth.register(db, user.email.upper(), "Other", PASSWORD)


@pytest.mark.parametrize(
    "password, problem",
    [
        ("short1", "at least 8"),
        ("onlyletters", "a digit"),
        ("1234567890", "a letter"),
        ("a1" + "é" * 40, "too long"),
    ],
)
def test_password_policy(db, admin, email, password, problem):
    with pytest.raises(auth.AuthError, match=problem):
        auth.register(db, email, "Uma", password)
    with db.session() as s:
        assert s.scalar(select(User).where(User.email == email)) is None


@pytest.mark.parametrize("bad", ["", "not-an-email", "a@b", "two@@example.com"])
def test_bad_email_is_refused(db, bad):
    with pytest.raises(auth.AuthError, match="valid email"):
        auth.register(db, bad, "Uma", PASSWORD)


def test_register_logout_login_then_five_wrong_passwords_lock_the_account(db, user):
    assert auth.authenticate(db, user.email, PASSWORD).id == user.id
    assert row(db, user.email).last_login_at is not None
    for attempt in range(1, 5):
        with pytest.raises(auth.AuthError, match="incorrect") as info:
            auth.authenticate(db, user.email, "wrong-password-1")
        assert not isinstance(info.value, auth.AccountLocked)
        assert row(db, user.email).failed_logins == attempt
    with pytest.raises(auth.AccountLocked, match="locked for 15 more minutes"):
        auth.authenticate(db, user.email, "wrong-password-1")
    locked = row(db, user.email)
    assert locked.failed_logins == 5
    assert timedelta(minutes=14) < locked.locked_until - utcnow() <= timedelta(minutes=15)
    # Even the right password is refused while the lock holds, and does not extend it.
    with pytest.raises(auth.AccountLocked):
        auth.authenticate(db, user.email, PASSWORD)
    assert row(db, user.email).locked_until == locked.locked_until


def test_lock_expires_and_a_success_resets_the_count(db, user):
    with db.session() as s:
        s.execute(
            update(User)
            .where(User.id == user.id)
            .values(failed_logins=5, locked_until=utcnow() - timedelta(seconds=1))
        )
    with pytest.raises(auth.AuthError, match="incorrect"):
        auth.authenticate(db, user.email, "wrong-password-1")
    assert row(db, user.email).failed_logins == 1  # a fresh count after the lock ran out
    auth.authenticate(db, user.email, PASSWORD)
    stored = row(db, user.email)
    assert stored.failed_logins == 0 and stored.locked_until is None


def test_unknown_email_and_wrong_password_get_the_same_answer(db, user):
    with pytest.raises(auth.AuthError) as unknown:
        auth.authenticate(db, "nobody@example.com", PASSWORD)
    with pytest.raises(auth.AuthError) as wrong:
        auth.authenticate(db, user.email, "wrong-password-1")
    assert str(unknown.value) == str(wrong.value) == auth.GENERIC_LOGIN_ERROR


def test_first_account_is_admin_and_admin_emails_are_admins(empty_database_url):
    db = Database(empty_database_url)
    try:
        first = auth.register(db, "first@example.com", "First", PASSWORD)
        second = auth.register(db, "second@example.com", "Second", PASSWORD)
        listed = auth.register(
            db, "Boss@Example.com", "Boss", PASSWORD, admin_emails=frozenset({"boss@example.com"})
        )
        assert (first.is_admin, second.is_admin, listed.is_admin) == (True, False, True)
        # Adding an email to VIBA_ADMIN_EMAILS later promotes the account at its next login.
        promoted = auth.authenticate(
            db, "second@example.com", PASSWORD, admin_emails=frozenset({"second@example.com"})
        )
        assert promoted.is_admin and row(db, "second@example.com").is_admin
    finally:
        db.dispose()


def test_change_password(db, user):
    with pytest.raises(auth.AuthError, match="current password"):
        auth.change_password(db, user.id, "wrong-password-1", "new-password-77")
    with pytest.raises(auth.AuthError, match="a digit"):
        auth.change_password(db, user.id, PASSWORD, "no-digits-here")
    before = row(db, user.email).password_changed_at
    auth.change_password(db, user.id, PASSWORD, "new-password-77")
    assert row(db, user.email).password_changed_at > before
    with pytest.raises(auth.AuthError):
        auth.authenticate(db, user.email, PASSWORD)
    assert auth.authenticate(db, user.email, "new-password-77").id == user.id


def test_admin_sets_a_temporary_password_and_unlocks(db, admin, user):
    with db.session() as s:
        s.execute(
            update(User)
            .where(User.id == user.id)
            .values(failed_logins=5, locked_until=utcnow() + timedelta(minutes=10))
        )
    with pytest.raises(auth.AuthError, match="Only admins"):
        auth.set_temporary_password(db, user, user.email, "temporary-pass-1")
    auth.set_temporary_password(db, admin, user.email, "temporary-pass-1")
    assert auth.authenticate(db, user.email, "temporary-pass-1").id == user.id


def test_reset_token_is_single_use_and_bound_to_its_secret(db, user):
    secret = "s" * 40
    assert auth.make_reset_token(db, secret, "nobody@example.com") is None
    token = auth.make_reset_token(db, secret, user.email)
    assert token
    with pytest.raises(auth.AuthError, match="invalid or has expired"):
        auth.reset_password_with_token(db, "another-secret-" + "x" * 30, token, "reset-pass-123")
    with pytest.raises(auth.AuthError, match="invalid or has expired"):
        auth.reset_password_with_token(db, secret, token[:-4] + "AAAA", "reset-pass-123")
    account = auth.reset_password_with_token(db, secret, token, "reset-pass-123")
    assert account.is_verified
    assert auth.authenticate(db, user.email, "reset-pass-123").id == user.id
    with pytest.raises(auth.AuthError, match="invalid or has expired"):
        auth.reset_password_with_token(db, secret, token, "reset-pass-456")


def test_profile_name_update(db, user):
    assert auth.update_profile(db, user.id, "  Uma Renamed ").full_name == "Uma Renamed"
    with pytest.raises(auth.AuthError):
        auth.update_profile(db, user.id, "   ")
    assert row(db, user.email).full_name == "Uma Renamed"


def test_deactivated_account_cannot_log_in(db, user):
    with db.session() as s:
        s.execute(update(User).where(User.id == user.id).values(is_active=False))
    with pytest.raises(auth.AuthError, match="incorrect"):
        auth.authenticate(db, user.email, PASSWORD)
    assert auth.get_account(db, user.id) is None


def test_concurrent_wrong_passwords_all_count(db, user):
    """Failures from several sessions at once are counted by the database, not lost."""
    from concurrent.futures import ThreadPoolExecutor

    def attempt(_):
        try:
            auth.authenticate(db, user.email, "wrong-password-1")
        except auth.AuthError as exc:
            return type(exc).__name__

    with ThreadPoolExecutor(max_workers=4) as pool:
        outcomes = list(pool.map(attempt, range(4)))
    assert outcomes == ["AuthError"] * 4
    assert row(db, user.email).failed_logins == 4
    with pytest.raises(auth.AccountLocked):
        auth.authenticate(db, user.email, "wrong-password-1")
