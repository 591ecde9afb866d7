"""Sign in with Google Workspace (or any OIDC provider) beside the password login.

Streamlit's st.login does the OIDC exchange and hands the page the provider's verified
claims; here they become an account of this app, on the same server-side sessions, lockout
and audit as a password login:

- only an email the provider says it verified, in a domain of VIBA_SSO_DOMAINS;
- the account is found by the identity (issuer, subject), never by email alone: an existing
  password account with the same email is not taken over (its owner logs in with the
  password); the first sign-in of a new email creates the account (no usable password);
- a deactivated account, or one locked after wrong passwords, is refused like a password
  login; every sign-in and every refusal is an audit entry.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from typing import Any

from sqlalchemy import exists, select
from sqlalchemy.exc import IntegrityError

from viba.accounts.account import GENERIC_LOGIN_ERROR, Account, AuthError
from viba.accounts.auth import clean_name, hash_password, normalise_email
from viba.store import audit
from viba.store.db import Database, serialize
from viba.store.models import User, utcnow

EXISTING = (
    "An account with this email already exists: log in with its password. (Signing in "
    "with Google never takes over an account made with a password.)"
)


def sign_in(
    db: Database,
    claims: Mapping[str, Any],
    allowed: frozenset[str],
    admin_emails: frozenset[str] = frozenset(),
) -> Account:
    """The account for a provider's verified claims (iss, sub, email, email_verified, name),
    made on the first sign-in; AuthError with one sentence otherwise."""
    issuer, subject = str(claims.get("iss") or ""), str(claims.get("sub") or "")
    raw_email = str(claims.get("email") or "")
    try:
        email = normalise_email(raw_email)
    except AuthError:
        email = ""

    def refuse(reason: str, sentence: str) -> AuthError:
        with db.session() as s:
            audit.record(s, audit.SSO_REFUSED, actor_email=email or None, reason=reason)
        return AuthError(sentence)

    if not issuer or not subject or not email:
        raise refuse("incomplete claims", "The sign-in did not say who you are; try again.")
    if claims.get("email_verified") is not True:
        raise refuse("email not verified", "Your provider has not verified that email address.")
    if email.rsplit("@", 1)[1] not in allowed:
        raise refuse("domain not allowed", "Accounts of that email domain cannot sign in here.")
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
