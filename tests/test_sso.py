"""Sign in with Google Workspace / OIDC (issue 27.6): the account rules (viba.accounts.sso) on
both databases, and the whole flow in Chromium against a real `streamlit run` whose st.login
talks to a loopback OIDC provider (tests/fake_oidc.py)."""

from __future__ import annotations

import os
import sys
import threading
import uuid
from datetime import timedelta

import pytest
from fake_oidc import CLIENT_ID, CLIENT_SECRET, FakeOIDC
from playwright.sync_api import Page, expect
from sqlalchemy import select, update

from viba.accounts import auth, sso
from viba.accounts.account import GENERIC_LOGIN_ERROR, AuthError
from viba.store.models import AuditEntry, User, utcnow

from helpers import PASSWORD, StreamlitServer, main, wait_until

DOMAINS = frozenset({"team.example"})
ISSUER = "https://accounts.google.com"


def claims(email: str, sub: str | None = None, **more):
    return {
        "iss": ISSUER,
        "sub": sub or uuid.uuid4().hex,
        "email": email,
        "email_verified": True,
        "name": "Sam Sso",
        **more,
    }


def refusals(db, email: str) -> list[str]:
    with db.session() as s:
        rows = s.scalars(
            select(AuditEntry).where(
                AuditEntry.action == "sso_refused", AuditEntry.actor_email == email
            )
        ).all()
        return [r.details.get("reason") for r in rows]


@pytest.fixture(autouse=True)
def _admin_first(admin):
    """The first account is an admin: made first, the people below are ordinary users."""


def test_the_first_sign_in_makes_the_account_and_the_next_finds_it(db):
    email = f"sam-{uuid.uuid4().hex[:6]}@team.example"
    who = claims(email.upper())
    first = sso.sign_in(db, who, DOMAINS)
    again = sso.sign_in(db, who, DOMAINS)
    assert first.id == again.id and first.email == email and first.is_verified
    assert not first.is_admin and first.full_name == "Sam Sso"
    with pytest.raises(AuthError):  # it has no password anyone knows
        auth.authenticate(db, email, PASSWORD)


def test_a_password_account_is_never_taken_over_by_its_email(db):
    email = f"pat-{uuid.uuid4().hex[:6]}@team.example"
    owner = auth.register(db, email, "Pat", PASSWORD)
    with pytest.raises(AuthError, match="^An account with this email already exists"):
        sso.sign_in(db, claims(email), DOMAINS)
    with db.session() as s:
        user = s.get(User, owner.id)
        assert user.sso_subject is None and user.sso_issuer is None
    assert refusals(db, email) == ["email taken"]
    assert auth.authenticate(db, email, PASSWORD).id == owner.id  # still theirs


@pytest.mark.parametrize(
    "email, more, sentence, reason",
    [
        ("x@other.example", {}, "Accounts of that email domain cannot sign in here.", "domain"),
        ("x@team.example", {"email_verified": False}, "Your provider has not verified", "verif"),
        ("x@team.example", {"email_verified": "true"}, "Your provider has not verified", "verif"),
        ("x@team.example", {"sub": ""}, "The sign-in did not say who you are", "incomplete"),
        ("x@team.example.evil", {}, "Accounts of that email domain cannot sign in here.", "domain"),
    ],
)
def test_claims_that_do_not_qualify_are_refused_with_a_sentence(db, email, more, sentence, reason):
    email = email.replace("x@", f"x{uuid.uuid4().hex[:6]}@")
    with pytest.raises(AuthError, match=f"^{sentence}"):
        sso.sign_in(db, {**claims(email), **more}, DOMAINS)
    (found,) = refusals(db, email)
    assert reason in found
    with db.session() as s:
        assert s.scalar(select(User).where(User.email == email)) is None


def test_deactivated_and_locked_accounts_are_refused_like_a_password_login(db):
    email = f"lee-{uuid.uuid4().hex[:6]}@team.example"
    who = claims(email)
    account = sso.sign_in(db, who, DOMAINS)
    with db.session() as s:
        s.execute(
            update(User)
            .where(User.id == account.id)
            .values(locked_until=utcnow() + timedelta(minutes=15))
        )
    with pytest.raises(AuthError, match=f"^{GENERIC_LOGIN_ERROR}$"):
        sso.sign_in(db, who, DOMAINS)
    with db.session() as s:
        s.execute(update(User).where(User.id == account.id).values(locked_until=None))
        s.execute(update(User).where(User.id == account.id).values(is_active=False))
    with pytest.raises(AuthError, match=f"^{GENERIC_LOGIN_ERROR}$"):
        sso.sign_in(db, who, DOMAINS)
    assert refusals(db, email) == ["locked", "deactivated"]


def test_first_sign_ins_of_one_identity_at_once_make_one_account(db):
    email = f"twin-{uuid.uuid4().hex[:6]}@team.example"
    who = claims(email)
    start = threading.Barrier(6)
    ids, errors = [], []

    def one():
        start.wait()
        try:
            ids.append(sso.sign_in(db, who, DOMAINS).id)
        except AuthError as exc:
            errors.append(str(exc))

    threads = [threading.Thread(target=one) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(set(ids)) == 1 and len(ids) + len(errors) == 6
    with db.session() as s:
        assert len(s.scalars(select(User).where(User.email == email)).all()) == 1


# --- in the browser ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def oidc():
    fake = FakeOIDC().start()
    yield fake
    fake.stop()


@pytest.fixture(scope="module")
def sso_server(app_env, db, oidc, tmp_path_factory):
    folder = tmp_path_factory.mktemp("sso")
    secrets_file = folder / "secrets.toml"
    secrets_file.write_text(
        "[auth]\n"
        'redirect_uri = "http://127.0.0.1:{port}/oauth2callback"\n'
        f'cookie_secret = "{uuid.uuid4().hex}{uuid.uuid4().hex}"\n'
        f'client_id = "{CLIENT_ID}"\n'
        f'client_secret = "{CLIENT_SECRET}"\n'
        f'server_metadata_url = "{oidc.metadata_url}"\n'
    )
    env = {
        **os.environ,
        **app_env,
        "VIBA_QUEUE": "test-sso-server",
        "VIBA_SSO_DOMAINS": "team.example",
    }
    command = (
        f"{sys.executable} -m streamlit run app.py --server.port $PORT --server.address "
        f"127.0.0.1 --server.headless true --server.fileWatcherType none "
        f"--browser.gatherUsageStats false --secrets.files {secrets_file}"
    )
    server = StreamlitServer(env, folder / "streamlit.log", shell_command=command)
    server.wait_healthy()
    yield server
    server.stop()


@pytest.mark.browser
def test_sign_in_with_google_workspace_in_the_browser(page: Page, sso_server, oidc, db):
    email = f"web-{uuid.uuid4().hex[:6]}@team.example"
    oidc.person = {"sub": uuid.uuid4().hex, "email": email, "email_verified": True, "name": "Wen"}
    page.goto(sso_server.url)
    main(page).get_by_role("button", name="Sign in with Google Workspace").click()
    # The provider signs in at once and sends the browser back: the app's own session.
    expect(page.get_by_test_id("stSidebar").get_by_text(email)).to_be_visible(timeout=20_000)
    with db.session() as s:
        user = s.scalar(select(User).where(User.email == email))
        assert user is not None and user.sso_issuer == oidc.issuer
        assert user.sso_subject == oidc.person["sub"]
    # Log out: the app's session and the provider's sign-in both end; a reload stays out.
    assert any(c["name"].startswith("_streamlit_user") for c in page.context.cookies())
    page.get_by_test_id("stSidebar").get_by_role("button", name="Log out").click()
    expect(main(page).get_by_role("button", name="Sign in with Google Workspace")).to_be_visible(
        timeout=20_000
    )
    # st.logout navigates the browser through /auth/logout: a reload before that lands would
    # be cut off by it. Wait for the provider's sign-in cookie to go, then for the page.
    wait_until(
        lambda: not any(c["name"].startswith("_streamlit_user") for c in page.context.cookies())
    )
    page.wait_for_load_state()
    page.reload()
    expect(main(page).get_by_role("button", name="Sign in with Google Workspace")).to_be_visible(
        timeout=20_000
    )
    expect(page.get_by_test_id("stSidebar").get_by_text(email)).to_have_count(0)
    # A password account's email from the provider: refused, with the sentence, nothing made.
    taken = f"pw-{uuid.uuid4().hex[:6]}@team.example"
    auth.register(db, taken, "Pia", PASSWORD)
    other = page.context.browser.new_context().new_page()
    oidc.person = {"sub": uuid.uuid4().hex, "email": taken, "email_verified": True, "name": "X"}
    other.goto(sso_server.url)
    main(other).get_by_role("button", name="Sign in with Google Workspace").click()
    expect(main(other).get_by_text("An account with this email already exists")).to_be_visible(
        timeout=20_000
    )
    expect(other.get_by_test_id("stSidebar").get_by_text(taken)).to_have_count(0)
    other.context.close()
