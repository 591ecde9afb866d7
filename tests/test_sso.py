"""Sign in with Google Workspace / OIDC (issue 27.6): the account rules (viba.accounts.sso) on
both databases, and the whole flow in Chromium against a real `streamlit run` whose st.login
talks to a loopback OIDC provider (tests/fake_oidc.py)."""

from __future__ import annotations

import os
import sys
import uuid
from datetime import timedelta

import pytest
from fake_oidc import CLIENT_ID, CLIENT_SECRET, FakeOIDC
from playwright.sync_api import Page, expect
from sqlalchemy import select, update

from viba.accounts import auth, sessions, sso
from viba.accounts.account import GENERIC_LOGIN_ERROR, AuthError
from viba.store.models import AuditEntry, User, UserSession, utcnow

from helpers import PASSWORD, StreamlitServer, at_once, main, wait_until

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
            select(AuditEntry)
            .where(AuditEntry.action == "sso_refused", AuditEntry.actor_email == email)
            .order_by(AuditEntry.id)  # the order they were written (PostgreSQL keeps none)
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
    made, errors = at_once([lambda: sso.sign_in(db, who, DOMAINS)] * 6, AuthError)
    ids = [account.id for account in made]
    assert len(set(ids)) == 1 and len(ids) + len(errors) == 6
    with db.session() as s:
        assert len(s.scalars(select(User).where(User.email == email)).all()) == 1


# --- linking a password account (Profile) -----------------------------------------------


def password_account(db, name="pam"):
    email = f"{name}-{uuid.uuid4().hex[:6]}@team.example"
    account = auth.register(db, email, name.title(), PASSWORD)
    session_id, _ = sessions.start(db, account.id, timedelta(days=1))
    return account, session_id


def actions(db, user_id) -> list[str]:
    with db.session() as s:
        rows = s.scalars(
            select(AuditEntry)
            .where(AuditEntry.actor_id == user_id, AuditEntry.action.like("sso%"))
            .order_by(AuditEntry.created_at)
        ).all()
        return [r.action for r in rows]


def test_a_password_account_links_its_google_sign_in_with_its_password(db):
    account, session_id = password_account(db)
    who = claims(f"pam.g-{uuid.uuid4().hex[:6]}@team.example")  # any email of the domain
    with pytest.raises(AuthError, match=f"^{sso.WRONG_PASSWORD}$"):
        sso.begin_link(db, account.id, session_id, "not the password")
    assert sso.finish_link(db, account.id, session_id, who, DOMAINS) is False  # not asked
    sso.begin_link(db, account.id, session_id, PASSWORD)
    assert sso.finish_link(db, account.id, session_id, who, DOMAINS) is True
    assert sso.linked_issuer(db, account.id) == ISSUER
    assert sso.sign_in(db, who, DOMAINS).id == account.id  # Google now finds this account
    assert auth.authenticate(db, account.email, PASSWORD).id == account.id  # and the password
    assert sso.finish_link(db, account.id, session_id, who, DOMAINS) is False  # used up
    with pytest.raises(AuthError, match="^This account already signs in with Google.$"):
        sso.begin_link(db, account.id, session_id, PASSWORD)
    assert actions(db, account.id) == ["sso_linked", "sso_login"]


def test_a_link_is_finished_only_by_the_session_that_asked_and_only_soon(db):
    account, session_id = password_account(db)
    other_session, _ = sessions.start(db, account.id, timedelta(days=1))
    who = claims(f"soon-{uuid.uuid4().hex[:6]}@team.example")
    sso.begin_link(db, account.id, session_id, PASSWORD)
    assert sso.finish_link(db, account.id, other_session, who, DOMAINS) is False
    stranger, stranger_session = password_account(db, "sly")
    assert sso.finish_link(db, stranger.id, session_id, who, DOMAINS) is False
    with db.session() as s:  # ten minutes later
        s.execute(
            update(UserSession)
            .where(UserSession.id == session_id)
            .values(sso_link_until=utcnow() - timedelta(seconds=1))
        )
    assert sso.finish_link(db, account.id, session_id, who, DOMAINS) is False
    sso.begin_link(db, account.id, session_id, PASSWORD)
    sessions.end(db, session_id)  # logged out in between
    assert sso.finish_link(db, account.id, session_id, who, DOMAINS) is False
    assert sso.linked_issuer(db, account.id) is None


@pytest.mark.parametrize(
    "more, sentence",
    [
        ({"email": "pam@other.example"}, "Accounts of that email domain cannot sign in here."),
        ({"email_verified": False}, "Your provider has not verified that email address."),
    ],
)
def test_a_link_to_claims_that_do_not_qualify_is_refused(db, more, sentence):
    account, session_id = password_account(db)
    sso.begin_link(db, account.id, session_id, PASSWORD)
    with pytest.raises(AuthError, match=f"^{sentence}$"):
        sso.finish_link(db, account.id, session_id, {**claims(account.email), **more}, DOMAINS)
    assert sso.linked_issuer(db, account.id) is None
    assert actions(db, account.id) == ["sso_refused"]


def test_an_identity_links_to_one_account_even_when_two_ask_at_once(db):
    who = claims(f"one-{uuid.uuid4().hex[:6]}@team.example")
    owner = sso.sign_in(db, who, DOMAINS)  # the identity has its own account already
    account, session_id = password_account(db)
    sso.begin_link(db, account.id, session_id, PASSWORD)
    taken = "^That Google account already signs in to another account here.$"
    with pytest.raises(AuthError, match=taken):
        sso.finish_link(db, account.id, session_id, who, DOMAINS)
    assert sso.sign_in(db, who, DOMAINS).id == owner.id
    # A new identity, six accounts linking it at the same moment: one wins.
    fresh = claims(f"race-{uuid.uuid4().hex[:6]}@team.example")
    askers = [password_account(db, f"r{i}") for i in range(6)]
    for asker, asker_session in askers:
        sso.begin_link(db, asker.id, asker_session, PASSWORD)
    linked, lost = at_once(
        [
            lambda asker=asker, asker_session=asker_session: (
                asker.id if sso.finish_link(db, asker.id, asker_session, fresh, DOMAINS) else None
            )
            for asker, asker_session in askers
        ],
        AuthError,
    )
    won = [asker_id for asker_id in linked if asker_id is not None]
    assert len(won) == 1 and len(lost) == len(askers) - 1
    assert set(lost) == {taken.strip("^$")}
    assert sso.sign_in(db, fresh, DOMAINS).id == won[0]


def test_unlinking_takes_the_password(db):
    account, session_id = password_account(db)
    who = claims(account.email)
    sso.begin_link(db, account.id, session_id, PASSWORD)
    assert sso.finish_link(db, account.id, session_id, who, DOMAINS)
    with pytest.raises(AuthError, match=f"^{sso.WRONG_PASSWORD}$"):
        sso.unlink(db, account.id, "guess")
    assert sso.linked_issuer(db, account.id) == ISSUER
    sso.unlink(db, account.id, PASSWORD)
    assert sso.linked_issuer(db, account.id) is None
    with pytest.raises(AuthError, match="^An account with this email already exists"):
        sso.sign_in(db, who, DOMAINS)  # back to a password account Google does not open
    assert actions(db, account.id)[-1] == "sso_unlinked"


@pytest.mark.parametrize("doing", ["link", "unlink"])
def test_wrong_passwords_to_link_or_unlink_count_toward_the_lock(db, doing):
    """Linking and unlinking ask the password as a login does, and count it: five wrong ones
    lock the account, logins included, and the right one then changes nothing."""
    account, session_id = password_account(db)
    if doing == "unlink":
        sso.begin_link(db, account.id, session_id, PASSWORD)
        assert sso.finish_link(db, account.id, session_id, claims(account.email), DOMAINS)

    def attempt(password: str) -> None:
        if doing == "link":
            sso.begin_link(db, account.id, session_id, password)
        else:
            sso.unlink(db, account.id, password)

    for _ in range(auth.MAX_FAILED_LOGINS - 1):
        with pytest.raises(AuthError, match=f"^{sso.WRONG_PASSWORD}$"):
            attempt("guess-number-1")
    for password in ("guess-number-1", PASSWORD):
        with pytest.raises(AuthError, match=f"^{auth.LOCKED_NOW}$"):
            attempt(password)
    with pytest.raises(AuthError, match=f"^{GENERIC_LOGIN_ERROR}$"):
        auth.authenticate(db, account.email, PASSWORD)
    assert sso.linked_issuer(db, account.id) == (ISSUER if doing == "unlink" else None)


@pytest.fixture()
def sso_app(app_environ, monkeypatch):
    """The in-process app (AppTest) with Google sign-in offered."""
    from viba.core.config import get_settings

    monkeypatch.setenv("VIBA_SSO_DOMAINS", "team.example")
    get_settings.cache_clear()
    yield
    monkeypatch.undo()
    get_settings.cache_clear()


def profile(account):
    from streamlit.testing.v1 import AppTest

    from viba.web import browser_session

    from helpers import ROOT, logged_in_box

    at = AppTest.from_file(str(ROOT / "Home.py"), default_timeout=30)
    at.secrets["auth"] = {
        "redirect_uri": "http://127.0.0.1:8501/oauth2callback",
        "cookie_secret": uuid.uuid4().hex,
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "server_metadata_url": "http://127.0.0.1:9/.well-known/openid-configuration",
    }
    at.session_state[browser_session.SESSION_KEY] = logged_in_box(account)
    at.switch_page("pages/7_Profile.py")
    return at.run()


def test_profile_links_and_unlinks_with_the_password(db, sso_app):
    account, session_id = password_account(db)
    at = profile(account)
    assert not at.exception
    form = at.get("form")
    (field,) = [f for f in at.text_input if f.label == "Your password"]
    field.input("wrong")
    (link,) = [b for b in at.button if b.label == "Link Google Workspace sign-in"]
    link.click().run()
    assert not at.exception and [e.value for e in at.error] == [sso.WRONG_PASSWORD]
    assert form  # the section is there
    sso.begin_link(db, account.id, session_id, PASSWORD)  # linked in the browser (test above)
    sso.finish_link(db, account.id, session_id, claims(account.email), DOMAINS)
    at = profile(account)
    texts = [t.value for t in at.text]
    assert f"This account also signs in with Google Workspace ({ISSUER})." in texts
    (field,) = [f for f in at.text_input if f.label == "Your password"]
    (unlink,) = [b for b in at.button if b.label == "Unlink Google Workspace sign-in"]
    field.input("wrong")
    unlink.click().run()
    assert [e.value for e in at.error] == [sso.WRONG_PASSWORD]
    assert sso.linked_issuer(db, account.id) == ISSUER
    (field,) = [f for f in at.text_input if f.label == "Your password"]
    field.input(PASSWORD)
    (unlink,) = [b for b in at.button if b.label == "Unlink Google Workspace sign-in"]
    unlink.click().run()
    assert not at.exception and not at.error
    assert sso.linked_issuer(db, account.id) is None
    assert [t.value for t in at.toast][-1] == "Google sign-in is no longer linked to this account."


def test_profile_has_no_google_section_when_it_is_not_offered(db, app_environ):
    from helpers import open_page

    account, _ = password_account(db)
    at = open_page("pages/7_Profile.py", account)
    assert not at.exception
    assert not [b for b in at.button if "Google" in b.label]


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
    # be cut off by it. Wait for the provider's sign-in cookie to go (on a box busy with the
    # whole suite this took over 15 s once), then for the page.
    wait_until(
        lambda: not any(c["name"].startswith("_streamlit_user") for c in page.context.cookies()),
        timeout=45,
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


@pytest.mark.browser
def test_link_google_sign_in_from_profile_in_the_browser(page: Page, sso_server, oidc, db):
    from helpers import open_logged_in

    account = auth.register(db, f"lin-{uuid.uuid4().hex[:6]}@team.example", "Lin", PASSWORD)
    open_logged_in(page, sso_server, account, "Profile")
    link = main(page).get_by_role("button", name="Link Google Workspace sign-in")
    # A wrong password: a sentence, and no trip to the provider.
    main(page).get_by_label("Your password").fill("not it")
    link.click()
    expect(main(page).get_by_text(sso.WRONG_PASSWORD)).to_be_visible()
    assert sso.linked_issuer(db, account.id) is None
    sub = uuid.uuid4().hex
    oidc.person = {"sub": sub, "email": f"lin.g-{sub[:6]}@team.example", "email_verified": True}
    main(page).get_by_label("Your password").fill(PASSWORD)
    link.click()
    # The provider signs in at once and sends the browser back, still logged in: linked.
    expect(page.get_by_text("This account now also signs in with Google Workspace.")).to_be_visible(
        timeout=20_000
    )
    with db.session() as s:
        user = s.get(User, account.id)
        assert (user.sso_issuer, user.sso_subject) == (oidc.issuer, sub)
    # Log out, then in with Google: the same account.
    page.get_by_test_id("stSidebar").get_by_role("button", name="Log out").click()
    sign_in = main(page).get_by_role("button", name="Sign in with Google Workspace")
    expect(sign_in).to_be_visible(timeout=20_000)
    wait_until(  # st.logout's trip through /auth/logout is over (as in the test above)
        lambda: not any(c["name"].startswith("_streamlit_user") for c in page.context.cookies())
    )
    page.wait_for_load_state()
    page.reload()
    sign_in.click()
    expect(page.get_by_test_id("stSidebar").get_by_text(account.email)).to_be_visible(
        timeout=20_000
    )
    page.goto(f"{sso_server.url}/Profile")
    expect(
        main(page).get_by_text("This account also signs in with Google Workspace")
    ).to_be_visible(timeout=20_000)
