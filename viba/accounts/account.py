"""The logged-in account as the app sees it, and the errors of accounts."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from viba.core.errors import UserError
from viba.store.models import User

GENERIC_LOGIN_ERROR = (
    "Email or password is incorrect. After 5 wrong tries in a row an account is locked for "
    "15 minutes; an admin can unlock it sooner."
)


class AuthError(UserError, ValueError):
    """A refusal whose message is meant for the user."""


class NotAllowed(AuthError):
    """The actor may not do this (not an admin, or no longer one); the message is for them."""


class AccountLocked(AuthError):
    """A login refused because the account is locked (or this attempt locked it). Its message
    is the generic one: only the audit log tells the two apart."""

    def __init__(self) -> None:
        super().__init__(GENERIC_LOGIN_ERROR)


@dataclass(frozen=True)
class Account:
    """What the app keeps about the logged-in user (no password hash)."""

    id: uuid.UUID
    email: str
    full_name: str
    is_admin: bool
    is_verified: bool
    password_changed_at: datetime
    language: str | None = None  # en | zh, as the user last chose

    @classmethod
    def of(cls, user: User) -> Account:
        return cls(
            id=user.id,
            email=user.email,
            full_name=user.full_name,
            is_admin=user.is_admin,
            is_verified=user.is_verified,
            password_changed_at=user.password_changed_at,
            language=user.language,
        )
