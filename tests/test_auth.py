"""Accounts against the real database: registration, login, lockout, password changes."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from viba.accounts import auth
from viba.accounts.account import AccountLocked, AuthError
from viba.accounts.auth import (
    GENERIC_LOGIN_ERROR,
    MAX_FAILED_LOGINS,
    authenticate,
    change_password,
    get_account,
    make_reset_token,
    register,
    reset_password_with_token,
    set_temporary_password,
    update_profile,
    verify_password,
)
from viba.store import audit
from viba.store.db import Database
from viba.store.models import AuditEntry, User, utcnow

from helpers import PASSWORD, at_once


def row(db: Database, email: str) -> User:
    with db.session() as s:
        return s.scalars(select(User).where(User.email == email)).one()


def test_register_stores_a_bcrypt_hash_and_lowercased_email(db, admin, email):
    account = register(db, "  " + email.upper() + " ", "Uma User", PASSWORD)
    stored = row(db, email)
    assert account.email == email == stored.email
    assert stored.password_hash.startswith("$2b$") and PASSWORD not in stored.password_hash
    assert verify_password(PASSWORD, stored.password_hash)
    assert stored.is_admin is False and stored.is_verified is False
    assert stored.model_preferences == {} and stored.failed_logins == 0
    assert stored.created_at.tzinfo is not None


@pytest.mark.parametrize("name", ["Eve\nAdmin", "Eve\x00", "Eve\u202eevil"])
def test_names_with_control_characters_are_refused(db, name):
    with pytest.raises(AuthError, match="control characters"):
        register(db, f"n-{uuid.uuid4().hex[:8]}@example.com", name, PASSWORD)


def test_duplicate_email_is_refused_whatever_the_case(db, user):
    with pytest.raises(AuthError, match="already exists"):
        register(db, user.email.upper(), "Other", PASSWORD)


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
    with pytest.raises(AuthError, match=problem):
        register(db, email, "Uma", password)
    with db.session() as s:
        assert s.scalar(select(User).where(User.email == email)) is None


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "not-an-email",
        "a@b",
        "two@@example.com",
        "a b@example.com",
        "x@-bad.com",
        "[relogin](http://host/phish)![x](http://host/x.gif)@ex.com",
        "<b>x</b>@ex.com",
        "x@ex.com\nBcc: y@ex.com",
        "x@ex..com",
        "x:y@ex.com",
    ],
)
def test_bad_email_is_refused(db, bad):
    with pytest.raises(AuthError, match="valid email"):
        register(db, bad, "Uma", PASSWORD)


def test_register_logout_login_then_five_wrong_passwords_lock_the_account(db, user):
    assert authenticate(db, user.email, PASSWORD).id == user.id
    assert row(db, user.email).last_login_at is not None
    for attempt in range(1, 5):
        with pytest.raises(AuthError, match="incorrect") as info:
            authenticate(db, user.email, "wrong-password-1")
        assert not isinstance(info.value, AccountLocked)
        assert row(db, user.email).failed_logins == attempt
    with pytest.raises(AccountLocked, match="locked for 15 minutes"):
        authenticate(db, user.email, "wrong-password-1")
    locked = row(db, user.email)
    assert locked.failed_logins == 5
    assert timedelta(minutes=14) < locked.locked_until - utcnow() <= timedelta(minutes=15)
    # Even the right password is refused while the lock holds, and does not extend it.
    with pytest.raises(AccountLocked):
        authenticate(db, user.email, PASSWORD)
    assert row(db, user.email).locked_until == locked.locked_until


def test_lock_expires_and_a_success_resets_the_count(db, user):
    with db.session() as s:
        s.execute(
            update(User)
            .where(User.id == user.id)
            .values(failed_logins=5, locked_until=utcnow() - timedelta(seconds=1))
        )
    with pytest.raises(AuthError, match="incorrect"):
        authenticate(db, user.email, "wrong-password-1")
    assert row(db, user.email).failed_logins == 1  # a fresh count after the lock ran out
    authenticate(db, user.email, PASSWORD)
    stored = row(db, user.email)
    assert stored.failed_logins == 0 and stored.locked_until is None


def test_unknown_email_wrong_password_and_locked_account_get_the_same_answer(db, user):
    answers = []
    for email, password in (
        [("nobody@example.com", PASSWORD)] * 7
        + [(user.email, "wrong-password-1")] * 6
        + [(user.email, PASSWORD)]
    ):
        with pytest.raises(AuthError) as refused:
            authenticate(db, email, password)
        answers.append(str(refused.value))
    assert row(db, user.email).locked_until is not None  # the last ones met a lock
    assert set(answers) == {GENERIC_LOGIN_ERROR}


@pytest.fixture()
def checked(db, user, monkeypatch) -> list[str]:
    """The passwords checked against the user's own hash, in order (bcrypt is still run)."""
    stored_hash = row(db, user.email).password_hash
    found: list[str] = []
    real_verify = verify_password

    def counting_verify(password, password_hash):
        if password_hash == stored_hash:
            found.append(password)
        return real_verify(password, password_hash)

    monkeypatch.setattr(auth, "verify_password", counting_verify)
    return found


@pytest.mark.parametrize("right_at", [0, 4, 5, 17, 29])
def test_a_burst_of_guesses_gets_at_most_five_passwords_checked(db, user, checked, right_at):
    """30 logins at once, one of them with the right password: the lock holds whatever the
    concurrency (each attempt is reserved before its password is checked)."""
    import threading

    passwords = ["wrong-password-1"] * 30
    passwords[right_at] = PASSWORD
    barrier = threading.Barrier(len(passwords))
    outcomes: dict[int, str] = {}

    def attempt(i: int) -> None:
        barrier.wait()
        try:
            authenticate(db, user.email, passwords[i])
            outcomes[i] = "in"
        except AuthError:
            outcomes[i] = "refused"

    threads = [threading.Thread(target=attempt, args=(i,)) for i in range(len(passwords))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(outcomes) == 30 and list(outcomes.values()).count("in") <= 1
    if PASSWORD in checked:  # among the first five checked: in (a success resets the count)
        assert checked.index(PASSWORD) < MAX_FAILED_LOGINS
        assert outcomes[right_at] == "in"
    else:  # five wrong ones locked the account before it was checked
        assert len(checked) == MAX_FAILED_LOGINS
        assert outcomes[right_at] == "refused"
        assert row(db, user.email).locked_until is not None


@pytest.mark.parametrize("round_", range(5))
def test_simultaneous_first_registrations_make_exactly_one_admin(empty_database_url, round_):
    import threading

    db = Database(empty_database_url)
    try:
        db.migrate()
        barrier = threading.Barrier(8)
        made: list = []

        def sign_up(i: int) -> None:
            barrier.wait()
            made.append(register(db, f"first-{i}@example.com", f"F{i}", PASSWORD))

        threads = [threading.Thread(target=sign_up, args=(i,)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert len(made) == 8
        assert sum(a.is_admin for a in made) == 1
        with db.session() as s:
            assert s.scalar(select(func.count()).where(User.is_admin.is_(True))) == 1
    finally:
        db.dispose()


def test_first_account_is_admin_and_admin_emails_are_admins(empty_database_url):
    db = Database(empty_database_url)
    try:
        first = register(db, "first@example.com", "First", PASSWORD)
        second = register(db, "second@example.com", "Second", PASSWORD)
        listed = register(
            db, "Boss@Example.com", "Boss", PASSWORD, admin_emails=frozenset({"boss@example.com"})
        )
        assert (first.is_admin, second.is_admin, listed.is_admin) == (True, False, True)
        # Adding an email to VIBA_ADMIN_EMAILS later promotes the account at its next login.
        promoted = authenticate(
            db, "second@example.com", PASSWORD, admin_emails=frozenset({"second@example.com"})
        )
        assert promoted.is_admin and row(db, "second@example.com").is_admin
    finally:
        db.dispose()


def test_change_password(db, user):
    with pytest.raises(AuthError, match="current password"):
        change_password(db, user.id, "wrong-password-1", "new-password-77")
    with pytest.raises(AuthError, match="a digit"):
        change_password(db, user.id, PASSWORD, "no-digits-here")
    before = row(db, user.email).password_changed_at
    change_password(db, user.id, PASSWORD, "new-password-77")
    assert row(db, user.email).password_changed_at > before
    with pytest.raises(AuthError):
        authenticate(db, user.email, PASSWORD)
    assert authenticate(db, user.email, "new-password-77").id == user.id


def test_wrong_current_passwords_count_toward_the_lock_like_logins(db, user):
    """A browser left logged in cannot be used to guess the password: Change password's
    current password counts as a login attempt, and the lock it sets holds logins too."""
    for _ in range(MAX_FAILED_LOGINS - 1):
        with pytest.raises(AuthError, match="^The current password is not correct.$"):
            change_password(db, user.id, "wrong-password-1", "new-password-77")
    with pytest.raises(AuthError, match="^Too many wrong passwords"):
        change_password(db, user.id, "wrong-password-1", "new-password-77")
    locked = row(db, user.email)
    assert locked.failed_logins == MAX_FAILED_LOGINS and locked.locked_until is not None
    with pytest.raises(AuthError, match="^Too many wrong passwords"):  # even the right one
        change_password(db, user.id, PASSWORD, "new-password-77")
    with pytest.raises(AccountLocked):
        authenticate(db, user.email, PASSWORD)
    assert verify_password(PASSWORD, row(db, user.email).password_hash)  # unchanged
    with db.session() as s:
        asked = s.scalars(
            select(AuditEntry.details)
            .where(AuditEntry.actor_id == user.id, AuditEntry.action == audit.LOGIN_FAILED)
            .order_by(AuditEntry.id)
        ).all()
    wrong = [d.get("asked_by") for d in asked if d.get("reason") == "wrong password"]
    assert wrong == ["change password"] * MAX_FAILED_LOGINS
    refused = [d.get("asked_by") for d in asked if d.get("reason") == "locked"]
    assert refused == ["change password", None]  # the right one while locked, then the login


def test_a_right_current_password_resets_the_count(db, user):
    for _ in range(MAX_FAILED_LOGINS - 1):
        with pytest.raises(AuthError):
            authenticate(db, user.email, "wrong-password-1")
    change_password(db, user.id, PASSWORD, "new-password-77")
    assert row(db, user.email).failed_logins == 0


def test_wrong_current_passwords_at_once_get_at_most_five_checked(db, user, checked):
    """Each confirmation is reserved before its password is checked, as a login is: 12 at
    once check five passwords and lock the account."""
    calls = [lambda: change_password(db, user.id, "wrong-password-1", "new-password-77")] * 12
    results, sentences = at_once(calls, AuthError)
    assert results == [] and len(sentences) == 12
    assert len(checked) == MAX_FAILED_LOGINS
    assert sentences.count("The current password is not correct.") == MAX_FAILED_LOGINS - 1
    assert row(db, user.email).locked_until is not None


def test_admin_sets_a_temporary_password_and_unlocks(db, admin, user):
    with db.session() as s:
        s.execute(
            update(User)
            .where(User.id == user.id)
            .values(failed_logins=5, locked_until=utcnow() + timedelta(minutes=10))
        )
    with pytest.raises(AuthError, match="Only admins"):
        set_temporary_password(db, user, user.email, "temporary-pass-1")
    set_temporary_password(db, admin, user.email, "temporary-pass-1")
    assert authenticate(db, user.email, "temporary-pass-1").id == user.id


def test_reset_token_is_single_use_and_bound_to_its_secret(db, user):
    secret = "s" * 40
    assert make_reset_token(db, secret, "nobody@example.com") is None
    token = make_reset_token(db, secret, user.email)
    assert token
    with pytest.raises(AuthError, match="invalid or has expired"):
        reset_password_with_token(db, "another-secret-" + "x" * 30, token, "reset-pass-123")
    with pytest.raises(AuthError, match="invalid or has expired"):
        reset_password_with_token(db, secret, token[:-4] + "AAAA", "reset-pass-123")
    account = reset_password_with_token(db, secret, token, "reset-pass-123")
    assert account.is_verified
    assert authenticate(db, user.email, "reset-pass-123").id == user.id
    with pytest.raises(AuthError, match="invalid or has expired"):
        reset_password_with_token(db, secret, token, "reset-pass-456")


def test_profile_name_update(db, user):
    assert update_profile(db, user.id, "  Uma Renamed ").full_name == "Uma Renamed"
    with pytest.raises(AuthError):
        update_profile(db, user.id, "   ")
    assert row(db, user.email).full_name == "Uma Renamed"


def test_deactivated_account_cannot_log_in(db, user):
    with db.session() as s:
        s.execute(update(User).where(User.id == user.id).values(is_active=False))
    with pytest.raises(AuthError, match="incorrect"):
        authenticate(db, user.email, PASSWORD)
    assert get_account(db, user.id) is None


def test_concurrent_wrong_passwords_all_count(db, user):
    """Failures from several sessions at once are counted by the database, not lost."""
    from concurrent.futures import ThreadPoolExecutor

    def attempt(_):
        try:
            authenticate(db, user.email, "wrong-password-1")
        except AuthError as exc:
            return type(exc).__name__

    with ThreadPoolExecutor(max_workers=4) as pool:
        outcomes = list(pool.map(attempt, range(4)))
    assert outcomes == ["AuthError"] * 4
    assert row(db, user.email).failed_logins == 4
    with pytest.raises(AccountLocked):
        authenticate(db, user.email, "wrong-password-1")
