"""Forgot password: a real SMTP server on loopback receives the link; the answer never says
whether an account exists."""

from __future__ import annotations

import re

from viba.accounts import auth
from viba.core.config import load_settings


def smtp_settings(port: int, **extra):
    return load_settings(
        SMTP_HOST="127.0.0.1",
        SMTP_PORT=port,
        SMTP_SECURITY="none",
        VIBA_COOKIE_KEY="k" * 40,
        VIBA_PUBLIC_URL="https://viba.example.com",
        **extra,
    )


def test_reset_link_by_email_then_new_password_works(db, user, smtp_server):
    port, inbox = smtp_server
    settings = smtp_settings(port)
    answer = auth.request_password_reset(db, settings, user.email.upper())
    assert answer == auth.RESET_SENT_MESSAGE
    assert len(inbox.messages) == 1
    mail = inbox.messages[0]
    assert mail["To"] == user.email and "Reset" in mail["Subject"]
    body = mail.get_content()
    link = re.search(r"https://viba\.example\.com/\?reset=(\S+)", body)
    assert link, body
    token = link.group(1)
    auth.reset_password_with_token(db, settings.resolved_cookie_key(), token, "brand-new-pass-9")
    assert auth.authenticate(db, user.email, "brand-new-pass-9").id == user.id


def test_unknown_email_gets_the_same_answer_and_no_mail(db, smtp_server):
    port, inbox = smtp_server
    answer = auth.request_password_reset(db, smtp_settings(port), "nobody-here@example.com")
    assert answer == auth.RESET_SENT_MESSAGE and inbox.messages == []


def test_without_smtp_the_user_is_told_to_ask_an_admin(db, user):
    settings = load_settings(SMTP_HOST="", VIBA_COOKIE_KEY="k" * 40)
    assert auth.request_password_reset(db, settings, user.email) == auth.RESET_ASK_ADMIN_MESSAGE
    assert (
        auth.request_password_reset(db, settings, "x@example.com") == auth.RESET_ASK_ADMIN_MESSAGE
    )


def test_a_dead_mail_server_does_not_reveal_the_account(db, user):
    settings = smtp_settings(1)  # nothing listens on port 1
    assert auth.request_password_reset(db, settings, user.email) == auth.RESET_SENT_MESSAGE
