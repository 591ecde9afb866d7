"""Accounts: registration, login with lockout, password change and reset, admin flags.

Pure functions over a viba.store.db.Database; no Streamlit. Every change is one short transaction
with atomic UPDATEs, so several sessions and app processes can use the same rows at once.
Errors raised here carry a message that can be shown to the user as it is.
"""

from __future__ import annotations

import hashlib
import logging
import re
import unicodedata
import uuid
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

import bcrypt
import jwt
from sqlalchemy import and_, case, exists, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from viba.accounts import sessions
from viba.accounts.account import GENERIC_LOGIN_ERROR, Account, AccountLocked, AuthError, NotAllowed
from viba.accounts.mailer import MailError, send_email
from viba.core.config import Settings
from viba.i18n import LANGUAGES, t
from viba.store import audit
from viba.store.db import Database, rowcount, serialize, sqlite_write_lock
from viba.store.models import User, utcnow

log = logging.getLogger(__name__)

MAX_FAILED_LOGINS = 5
LOCK_DURATION = timedelta(minutes=15)
LOCKED_NOW = (
    f"Too many wrong passwords in a row: the account is locked for "
    f"{int(LOCK_DURATION.total_seconds() // 60)} minutes from the last one, logins included."
)
RESET_TOKEN_LIFETIME = timedelta(minutes=30)
MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_BYTES = 72  # bcrypt reads no further
PASSWORD_POLICY = (
    f"At least {MIN_PASSWORD_LENGTH} characters with at least one letter and one digit "
    f"(at most {MAX_PASSWORD_BYTES} bytes)."
)
# The one answer to every refused login: it does not tell whether the email has an account or
# whether that account is locked.
# A plain address: letters, digits and . _ % + ' - before the @, a dotted domain name after it
# (no brackets, parentheses, colons, spaces or markup can hide in one).
_EMAIL_RE = re.compile(
    r"^[a-z0-9._%+'-]+@[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)+$"
)


def normalise_email(email: str) -> str:
    email = (email or "").strip().lower()
    if not _EMAIL_RE.match(email) or len(email) > 320:
        raise AuthError("Enter a valid email address.")
    return email


def clean_name(full_name: str) -> str:
    """A person's name as given, without surrounding spaces; control characters (newlines, NUL,
    bidi overrides) are refused."""
    full_name = (full_name or "").strip()
    if any(unicodedata.category(c).startswith("C") for c in full_name):
        raise AuthError("A name cannot contain control characters or line breaks.")
    return full_name


def check_password_policy(password: str) -> None:
    problems = []
    if len(password) < MIN_PASSWORD_LENGTH:
        problems.append(f"at least {MIN_PASSWORD_LENGTH} characters")
    if not re.search(r"[^\W\d_]", password):
        problems.append("a letter")
    if not re.search(r"\d", password):
        problems.append("a digit")
    if problems:
        raise AuthError("Password needs " + ", ".join(problems) + ".")
    if len(password.encode()) > MAX_PASSWORD_BYTES:
        raise AuthError(f"Password is too long (at most {MAX_PASSWORD_BYTES} bytes).")


_bcrypt_rounds = 12


def set_bcrypt_rounds(rounds: int) -> None:
    """The bcrypt cost of new hashes in this process (VIBA_BCRYPT_ROUNDS, set by
    viba.services.configure; 12 by default, the tests use 4)."""
    global _bcrypt_rounds
    _bcrypt_rounds = rounds


def bcrypt_rounds() -> int:
    return _bcrypt_rounds


def hash_password(password: str) -> str:
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=bcrypt_rounds())).decode()


@lru_cache(maxsize=4)
def _dummy_hash(rounds: int) -> str:
    return bcrypt.hashpw(b"viba-dummy-password", bcrypt.gensalt(rounds=rounds)).decode()


def _check_nobody(password: str) -> None:
    """Spend what a real password check costs, when there is no account to check against, so
    that the answer's timing does not tell whether the email has an account."""
    verify_password(password, _dummy_hash(bcrypt_rounds()))


def verify_password(password: str, password_hash: str) -> bool:
    try:
        return bcrypt.checkpw(password.encode()[:MAX_PASSWORD_BYTES], password_hash.encode())
    except ValueError:
        return False


def register(
    db: Database,
    email: str,
    full_name: str,
    password: str,
    admin_emails: frozenset[str] = frozenset(),
) -> Account:
    """Create an account. Admin when listed in VIBA_ADMIN_EMAILS or when no admin exists yet."""
    email = normalise_email(email)
    full_name = clean_name(full_name)
    if not full_name:
        raise AuthError("Enter your name.")
    if len(full_name) > 200:
        raise AuthError("Name is too long (at most 200 characters).")
    check_password_policy(password)
    password_hash = hash_password(password)
    with db.session() as s:
        # One registration at a time decides "no admin yet" and adds its row, so several
        # first registrations at once make exactly one admin.
        serialize(s, "viba-register")
        if s.scalar(select(exists().where(User.email == email))):
            raise AuthError("An account with this email already exists. Log in instead.")
        no_admin_yet = not s.scalar(select(exists().where(User.is_admin.is_(True))))
        user = User(
            email=email,
            full_name=full_name,
            password_hash=password_hash,
            is_admin=email in admin_emails or no_admin_yet,
            model_preferences={},
        )
        s.add(user)
        try:
            s.flush()
        except IntegrityError:
            s.rollback()
            raise AuthError("An account with this email already exists. Log in instead.") from None
        audit.record(s, audit.REGISTER, actor_id=user.id, actor_email=email, admin=user.is_admin)
        return Account.of(user)


def authenticate(
    db: Database, email: str, password: str, admin_emails: frozenset[str] = frozenset()
) -> Account:
    """Check a password. Five failures in a row lock the account for 15 minutes (in the row).

    Each attempt is first reserved: one atomic UPDATE counts it as a failure, and only while
    the account is not locked, before the slow password check. So no more than five passwords
    are ever checked per lock window, however many attempts arrive at once; a right password
    then resets the count. Every refusal has the same message and costs one password check,
    whether the email has an account, is locked or not. Every attempt with a well-formed email
    is in the audit log."""
    try:
        email = normalise_email(email)
    except AuthError:
        _check_nobody(password)
        raise AuthError(GENERIC_LOGIN_ERROR) from None
    now = utcnow()
    with db.session() as s:
        user = s.scalar(select(User).where(User.email == email))
        if user is None or not user.is_active:
            reason = "no account" if user is None else "deactivated"
            audit.record(s, audit.LOGIN_FAILED, actor_email=email, reason=reason)
            reserved = False
        else:
            reserved = _reserve_attempt(s, user.id, now)
            if not reserved:
                audit.record(
                    s, audit.LOGIN_FAILED, actor_id=user.id, actor_email=email, reason="locked"
                )
            else:
                s.refresh(user)
    # The reservation (or the refusal's audit entry) is committed before the password check.
    if user is None or not reserved:
        _check_nobody(password)
        if user is not None and user.is_active:
            raise AccountLocked()
        raise AuthError(GENERIC_LOGIN_ERROR)
    if not verify_password(password, user.password_hash):
        _wrong_password(db, user)
        raise AccountLocked() if user.locked_until is not None else AuthError(GENERIC_LOGIN_ERROR)
    with db.session() as s:
        values: dict[str, Any] = {"failed_logins": 0, "locked_until": None, "last_login_at": now}
        if email in admin_emails and not user.is_admin:
            values["is_admin"] = True
        s.execute(update(User).where(User.id == user.id).values(**values))
        audit.record(s, audit.LOGIN, actor_id=user.id, actor_email=email)
        return Account.of(s.get(User, user.id, populate_existing=True))  # type: ignore[arg-type]


def _reserve_attempt(s: Session, user_id: uuid.UUID, now: datetime) -> bool:
    """Count one password attempt as a failure, in one atomic UPDATE, unless the account is
    locked: False when it is. The fifth in a row locks it for LOCK_DURATION (a lock that ran
    out starts a fresh count); a right password then resets the count."""
    lock_ran_out = and_(User.locked_until.is_not(None), User.locked_until <= now)
    count = case((lock_ran_out, 1), else_=User.failed_logins + 1)
    done = s.execute(
        update(User)
        .where(User.id == user_id, or_(User.locked_until.is_(None), User.locked_until <= now))
        .values(
            failed_logins=count,
            locked_until=case((count >= MAX_FAILED_LOGINS, now + LOCK_DURATION), else_=None),
        )
    )
    return bool(rowcount(done))


def _wrong_password(db: Database, user: User, asked_by: str | None = None) -> None:
    """The audit entries of a wrong password (user: its row as the reservation left it)."""
    extra: dict[str, Any] = {"asked_by": asked_by} if asked_by else {}
    with db.session() as s:
        audit.record(
            s,
            audit.LOGIN_FAILED,
            actor_id=user.id,
            actor_email=user.email,
            reason="wrong password",
            failed_logins=user.failed_logins,
            **extra,
        )
        if user.locked_until is not None:
            audit.record(
                s,
                audit.ACCOUNT_LOCKED,
                actor_id=user.id,
                actor_email=user.email,
                until=user.locked_until.isoformat(timespec="seconds"),
            )


def confirm_password(
    db: Database, user_id: uuid.UUID, password: str, wrong: str, doing: str
) -> None:
    """A logged-in person's password, asked again before a change that needs it (the
    password itself, linking or unlinking a sign-in provider). Counted like a login attempt,
    so a browser left logged in cannot be used to guess it: five wrong ones in a row lock
    the account, logins included. Raises AuthError: `wrong`, or LOCKED_NOW (the person is
    logged in: the lock is no secret to them)."""
    now = utcnow()
    with db.session() as s:
        reserved = _reserve_attempt(s, user_id, now)
        user = s.get(User, user_id)  # as the reservation left it
        if user is not None and user.is_active and not reserved:  # as a login's refusal is
            audit.record(
                s,
                audit.LOGIN_FAILED,
                actor_id=user.id,
                actor_email=user.email,
                reason="locked",
                asked_by=doing,
            )
    if user is None or not user.is_active:
        _check_nobody(password)
        raise AuthError(wrong)
    if not reserved:
        _check_nobody(password)
        raise AuthError(LOCKED_NOW)
    if not verify_password(password, user.password_hash):
        _wrong_password(db, user, asked_by=doing)
        raise AuthError(LOCKED_NOW if user.locked_until is not None else wrong)
    with db.session() as s:
        s.execute(update(User).where(User.id == user_id).values(failed_logins=0, locked_until=None))


def get_account(db: Database, user_id: uuid.UUID | str) -> Account | None:
    """The account for a session, or None when it was deleted or deactivated."""
    try:
        uid = user_id if isinstance(user_id, uuid.UUID) else uuid.UUID(str(user_id))
    except ValueError:
        return None
    with db.session() as s:
        user = s.get(User, uid)
        if user is None or not user.is_active:
            return None
        return Account.of(user)


def get_account_by_email(db: Database, email: str) -> Account | None:
    try:
        email = normalise_email(email)
    except AuthError:
        return None
    with db.session() as s:
        user = s.scalar(select(User).where(User.email == email, User.is_active.is_(True)))
        return Account.of(user) if user else None


def _write_password(
    s: Session,
    user_id: uuid.UUID,
    new_hash: str,
    action: str,
    actor: Account | None = None,
    keep_session: uuid.UUID | None = None,
    **extra: Any,
) -> None:
    """Set a password hash in the caller's transaction: it ends every login session of the
    account (but keep_session, the browser that changed it), unlocks the account, and is in
    the audit log."""
    sessions.end_all(s, user_id, action, keep=keep_session)
    s.execute(
        update(User)
        .where(User.id == user_id)
        .values(
            password_hash=new_hash,
            password_changed_at=utcnow(),
            failed_logins=0,
            locked_until=None,
            **extra,
        )
    )
    email = s.scalar(select(User.email).where(User.id == user_id))
    audit.record(
        s,
        action,
        actor_id=actor.id if actor else user_id,
        actor_email=actor.email if actor else email,
        target_user_id=user_id,
    )


def _set_password(
    db: Database, user_id: uuid.UUID, new_password: str, action: str, **extra: Any
) -> None:
    check_password_policy(new_password)
    new_hash = hash_password(new_password)
    with db.session() as s:
        _write_password(s, user_id, new_hash, action, **extra)


def change_password(
    db: Database,
    user_id: uuid.UUID,
    current_password: str,
    new_password: str,
    keep_session: uuid.UUID | None = None,
) -> None:
    """Change your own password; every other browser logged in as you is logged out. The
    current password counts toward the lock like a login (confirm_password)."""
    if current_password == new_password:
        raise AuthError("The new password must be different from the current one.")
    check_password_policy(new_password)
    confirm_password(
        db, user_id, current_password, "The current password is not correct.", "change password"
    )
    _set_password(db, user_id, new_password, audit.PASSWORD_CHANGED, keep_session=keep_session)


def is_admin_now(s: Session, user_id: uuid.UUID) -> bool:
    """Whether the user is an active admin as the database has it now, read in the caller's
    transaction (an Account a page holds may be stale)."""
    query = select(User.id).where(
        User.id == user_id, User.is_admin.is_(True), User.is_active.is_(True)
    )
    return s.scalar(query) is not None


def require_admin(s: Session, actor_id: uuid.UUID, *, lock_admins: bool = False) -> None:
    """Refuse unless the actor is an active admin as the database has it now, read in the
    caller's transaction (an Account a page holds may be stale: a revoked admin loses these
    powers at once). lock_admins: lock every admin row first (in id order, so two admins
    acting at once queue instead of deadlocking) for changes to accounts: two admins demoting
    each other at the same moment leave one admin."""
    admin_now = (User.is_admin.is_(True), User.is_active.is_(True))
    if lock_admins:
        sqlite_write_lock(s)
        admins = s.scalars(
            select(User.id).where(*admin_now).order_by(User.id).with_for_update()
        ).all()
        allowed = actor_id in admins
    else:
        allowed = is_admin_now(s, actor_id)
    if not allowed:
        raise NotAllowed("Only admins can do this.")


def set_temporary_password(
    db: Database, admin: Account, target: str | uuid.UUID, new_password: str
) -> None:
    """An admin sets a password (target: the account's email or id) for someone who cannot
    receive email; it also unlocks them. One transaction: the role check, the change and its
    audit entry."""
    check_password_policy(new_password)
    new_hash = hash_password(new_password)
    with db.session() as s:
        require_admin(s, admin.id, lock_admins=True)
        if isinstance(target, uuid.UUID):
            where = User.id == target
        else:
            try:
                where = User.email == normalise_email(target)
            except AuthError:
                raise AuthError("No active account has that email.") from None
        user_id = s.scalar(select(User.id).where(where, User.is_active.is_(True)).with_for_update())
        if user_id is None:
            raise AuthError(
                "No active account has that email."
                if not isinstance(target, uuid.UUID)
                else "No such account."
            )
        _write_password(s, user_id, new_hash, audit.TEMPORARY_PASSWORD, actor=admin)


def update_profile(db: Database, user_id: uuid.UUID, full_name: str) -> Account:
    full_name = clean_name(full_name)
    if not full_name or len(full_name) > 200:
        raise AuthError("Enter a name of 1 to 200 characters.")
    with db.session() as s:
        s.execute(update(User).where(User.id == user_id).values(full_name=full_name))
        return Account.of(s.get(User, user_id, populate_existing=True))  # type: ignore[arg-type]


# --- password reset tokens ---------------------------------------------------------------


def _password_fingerprint(password_hash: str) -> str:
    return hashlib.sha256(password_hash.encode()).hexdigest()[:24]


def make_reset_token(db: Database, secret: str, email: str) -> str | None:
    """A signed, 30-minute, single-use token (it dies when the password changes)."""
    try:
        email = normalise_email(email)
    except AuthError:
        return None
    with db.session() as s:
        user = s.scalar(select(User).where(User.email == email, User.is_active.is_(True)))
        if user is None:
            return None
        payload = {
            "sub": str(user.id),
            "purpose": "password_reset",
            "pwd": _password_fingerprint(user.password_hash),
            "exp": utcnow() + RESET_TOKEN_LIFETIME,
        }
    return jwt.encode(payload, secret, algorithm="HS256")


def reset_password_with_token(db: Database, secret: str, token: str, new_password: str) -> Account:
    invalid = AuthError("This reset link is invalid or has expired. Ask for a new one.")
    try:
        payload = jwt.decode(
            token.strip(), secret, algorithms=["HS256"], options={"require": ["exp", "sub"]}
        )
    except jwt.PyJWTError:
        raise invalid from None
    if payload.get("purpose") != "password_reset":
        raise invalid
    try:
        user_id = uuid.UUID(payload["sub"])
    except (ValueError, TypeError):
        raise invalid from None
    with db.session() as s:
        user = s.get(User, user_id)
        if (
            user is None
            or not user.is_active
            or _password_fingerprint(user.password_hash) != payload.get("pwd")
        ):
            raise invalid
    # The user proved they read this mailbox: the address is verified.
    _set_password(db, user_id, new_password, audit.PASSWORD_RESET, is_verified=True)
    account = get_account(db, user_id)
    assert account is not None
    return account


RESET_SENT_MESSAGE = (
    "If an account exists for that email, a reset link is on its way. It is valid for 30 minutes."
)
RESET_ASK_ADMIN_MESSAGE = (
    "Email is not set up on this server: ask an admin to set a temporary password for you, "
    "then change it on your Profile page."
)


RESET_EMAIL_SUBJECT = "Reset your Viba Studio password"
RESET_EMAIL_BODY = (
    "Someone asked to reset the password of your Viba Studio account.\n\n"
    "Open this link within 30 minutes to choose a new password:\n{link}\n\n"
    "Or paste this code on the reset form:\n{token}\n\n"
    "If it was not you, ignore this email; your password stays as it is.\n"
)


def request_password_reset(db: Database, settings: Settings, email: str) -> str:
    """Send a reset link when SMTP is configured. The answer is the same whether or not the
    email has an account."""
    if not settings.smtp_enabled:
        return RESET_ASK_ADMIN_MESSAGE
    token = make_reset_token(db, settings.resolved_cookie_key(), email)
    if token is not None:
        link = f"{settings.public_url.rstrip('/')}/?reset={token}"
        with db.session() as s:  # in the account's language
            lang = s.scalar(select(User.language).where(User.email == normalise_email(email)))
        lang = lang if lang in LANGUAGES else "en"
        body = t(RESET_EMAIL_BODY, lang).format(link=link, token=token)
        subject = t(RESET_EMAIL_SUBJECT, lang)
        try:
            send_email(settings, normalise_email(email), subject, body)
        except MailError:
            log.exception("password reset email to an account could not be sent")
    return RESET_SENT_MESSAGE
