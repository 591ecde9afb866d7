"""Sign in with Google Workspace (or any OIDC provider) beside the password login.

Streamlit's st.login does the OIDC exchange and hands the page the provider's verified
claims; here they become an account of this app, on the same server-side sessions, lockout
and audit as a password login:

- only an email the provider says it verified, in a domain of VIBA_SSO_DOMAINS;
- the account is found by the identity (issuer, subject), never by email alone: an existing
  password account with the same email is not taken over (its owner logs in with the
  password); the first sign-in of a new email creates the account (no usable password);
- a deactivated account, or one locked after wrong passwords, is refused like a password
  login; every sign-in and every refusal is an audit entry;
- a password account links the identity from Profile: its password first (begin_link marks
  that login session for a few minutes), then the provider's sign-in, which that same session
  finishes (finish_link); an identity links to one account only. unlink needs the password.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from sqlalchemy import exists, select, update
from sqlalchemy.exc import IntegrityError

from viba.accounts.account import GENERIC_LOGIN_ERROR, Account, AuthError
from viba.accounts.auth import clean_name, confirm_password, hash_password, normalise_email
from viba.store import audit
from viba.store.db import Database, rowcount, serialize
from viba.store.models import User, UserSession, utcnow

EXISTING = (
    "An account with this email already exists: log in with its password, then link Google "
    "sign-in in Profile. (Signing in with Google never takes over an account made with a "
    "password.)"
)
LINK_TIME = timedelta(minutes=10)  # from the password to the provider's answer
WRONG_PASSWORD = "The password is not correct."
ALREADY_LINKED = "This account already signs in with Google."
IDENTITY_TAKEN = "That Google account already signs in to another account here."
SESSION_GONE = "Your session has ended. Log in again."


class _Refused(Exception):
    def __init__(self, reason: str, sentence: str) -> None:
        super().__init__(sentence)
        self.reason, self.sentence = reason, sentence


def _identity(claims: Mapping[str, Any], allowed: frozenset[str]) -> tuple[str, str, str]:
    """(issuer, subject, email) of claims that qualify: a verified email of an allowed
    domain; _Refused otherwise. The email is "" when it is not one."""
    issuer, subject = str(claims.get("iss") or ""), str(claims.get("sub") or "")
    email = _claimed_email(claims) or ""
    if not issuer or not subject or not email:
        raise _Refused("incomplete claims", "The sign-in did not say who you are; try again.")
    if claims.get("email_verified") is not True:
        raise _Refused("email not verified", "Your provider has not verified that email address.")
    if email.rsplit("@", 1)[1] not in allowed:
        raise _Refused("domain not allowed", "Accounts of that email domain cannot sign in here.")
    return issuer, subject, email


def _claimed_email(claims: Mapping[str, Any]) -> str | None:
    try:
        return normalise_email(str(claims.get("email") or ""))
    except AuthError:
        return None


def sign_in(
    db: Database,
    claims: Mapping[str, Any],
    allowed: frozenset[str],
    admin_emails: frozenset[str] = frozenset(),
) -> Account:
    """The account for a provider's verified claims (iss, sub, email, email_verified, name),
    made on the first sign-in; AuthError with one sentence otherwise."""
    email = _claimed_email(claims) or ""
    try:
        issuer, subject, email = _identity(claims, allowed)
    except _Refused as exc:
        with db.session() as s:
            audit.record(s, audit.SSO_REFUSED, actor_email=email or None, reason=exc.reason)
        raise AuthError(exc.sentence) from None
    refusal: tuple[str, str, Any] | None = None  # (reason, sentence, account id)
    with db.session() as s:
        serialize(s, "viba-register")  # one first sign-in at a time decides "new account"
        user = s.scalar(select(User).where(User.sso_issuer == issuer, User.sso_subject == subject))
        if user is None and s.scalar(select(exists().where(User.email == email))):
            refusal = ("email taken", EXISTING, None)
        elif user is None:
            name = clean_name(str(claims.get("name") or "")) or email.split("@")[0]
            no_admin_yet = not s.scalar(select(exists().where(User.is_admin.is_(True))))
            user = User(
                email=email,
                full_name=name[:200],
                # No password: a random one nobody knows (a reset can set one later).
                password_hash=hash_password(secrets.token_urlsafe(32)),
                is_verified=True,
                is_admin=email in admin_emails or no_admin_yet,
                model_preferences={},
                sso_issuer=issuer,
                sso_subject=subject,
            )
            s.add(user)
            try:
                s.flush()
            except IntegrityError:  # the same identity signing in twice at once
                s.rollback()
                raise AuthError("The sign-in did not finish; try again.") from None
            audit.record(s, audit.REGISTER, actor_id=user.id, actor_email=email, via="sso")
        if user is not None and refusal is None:
            if not user.is_active:
                refusal = ("deactivated", GENERIC_LOGIN_ERROR, user.id)
            elif user.locked_until is not None and user.locked_until > utcnow():
                refusal = ("locked", GENERIC_LOGIN_ERROR, user.id)
            else:
                user.last_login_at = utcnow()
                audit.record(
                    s, audit.SSO_LOGIN, actor_id=user.id, actor_email=user.email, issuer=issuer
                )
                return Account.of(user)
    assert refusal is not None
    reason, sentence, account_id = refusal
    with db.session() as s:
        audit.record(s, audit.SSO_REFUSED, actor_id=account_id, actor_email=email, reason=reason)
    raise AuthError(sentence)


def begin_link(db: Database, user_id: uuid.UUID, session_id: uuid.UUID, password: str) -> None:
    """Profile > link Google sign-in, the first half: the account's password, then this login
    session may finish a link (finish_link) for LINK_TIME."""
    confirm_password(db, user_id, password, WRONG_PASSWORD, "link sign-in")
    with db.session() as s:
        user = s.get(User, user_id)
        if user is None:
            raise AuthError(WRONG_PASSWORD)
        if user.sso_subject is not None:
            raise AuthError(ALREADY_LINKED)
        marked = s.execute(
            update(UserSession)
            .where(
                UserSession.id == session_id,
                UserSession.user_id == user_id,
                UserSession.revoked_at.is_(None),
            )
            .values(sso_link_until=utcnow() + LINK_TIME)
        )
        if not rowcount(marked):
            raise AuthError(SESSION_GONE)


def finish_link(
    db: Database,
    user_id: uuid.UUID,
    session_id: uuid.UUID,
    claims: Mapping[str, Any],
    allowed: frozenset[str],
) -> bool:
    """The second half, on the session's first run after the provider's sign-in: link the
    identity of `claims` to the account if this session asked (begin_link) in the last
    minutes. True when linked, False when nothing was asked; AuthError with one sentence
    when refused. The request is used up either way."""
    with db.session() as s:
        asked = s.execute(
            update(UserSession)
            .where(
                UserSession.id == session_id,
                UserSession.user_id == user_id,
                UserSession.revoked_at.is_(None),
                UserSession.sso_link_until > utcnow(),
            )
            .values(sso_link_until=None)
        )
        if not rowcount(asked):
            return False
    email = _claimed_email(claims)
    try:
        issuer, subject, email = _identity(claims, allowed)
        with db.session() as s:
            user = s.get(User, user_id, with_for_update=True)
            if user is None or not user.is_active:
                raise _Refused("no account", SESSION_GONE)
            if user.sso_subject is not None:
                raise _Refused("already linked", ALREADY_LINKED)
            taken = s.scalar(
                select(exists().where(User.sso_issuer == issuer, User.sso_subject == subject))
            )
            if not taken:
                user.sso_issuer, user.sso_subject = issuer, subject
                try:
                    s.flush()
                except IntegrityError:  # the same identity linked elsewhere at this moment
                    s.rollback()
                    taken = True
            if taken:
                raise _Refused("identity taken", IDENTITY_TAKEN)
            audit.record(
                s, audit.SSO_LINKED, actor_id=user_id, actor_email=user.email, issuer=issuer,
                email=email,
            )  # fmt: skip
            return True
    except _Refused as exc:
        with db.session() as s:
            audit.record(
                s, audit.SSO_REFUSED, actor_id=user_id, actor_email=email, reason=exc.reason,
                link=True,
            )  # fmt: skip
        raise AuthError(exc.sentence) from None


def linked_issuer(db: Database, user_id: uuid.UUID) -> str | None:
    """The provider the account also signs in with, if any."""
    with db.session() as s:
        return s.scalar(select(User.sso_issuer).where(User.id == user_id))


def unlink(db: Database, user_id: uuid.UUID, password: str) -> None:
    """Stop signing in with the provider; the password first (an account made by a Google
    sign-in has none anyone knows: it sets one with a password reset)."""
    confirm_password(db, user_id, password, WRONG_PASSWORD, "unlink sign-in")
    with db.session() as s:
        user = s.get(User, user_id, with_for_update=True)
        if user is None:
            raise AuthError(WRONG_PASSWORD)
        if user.sso_subject is None:
            return
        issuer = user.sso_issuer
        user.sso_issuer = user.sso_subject = None
        audit.record(s, audit.SSO_UNLINKED, actor_id=user_id, actor_email=user.email, issuer=issuer)
