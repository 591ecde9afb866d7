"""Every page through streamlit.testing's AppTest, against the real database.

Pages are opened as a browser would open their URL: AppTest starts at Home.py and switches to
the page file, so the page runs without Home.py having run first.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from viba.accounts import auth
from viba.accounts.account import Account
from viba.web import browser_session, sidebar

from helpers import PASSWORD, main_texts, open_page, sidebar_links, smtp_env

ROOT = Path(__file__).resolve().parent.parent
PAGE_FILES = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "pages").glob("*.py"))
ADMIN_PAGES = {item.path for item in sidebar.studio_pages() if item.admin_only}


@pytest.fixture(autouse=True)
def _env(app_environ):
    return app_environ


def assert_only_login_panel(at: AppTest) -> None:
    assert not at.exception
    assert [t.value for t in at.title] == ["Viba Studio"]
    assert {f.proto.form.form_id for f in at.main.get("form")} == {
        "login",
        "register",
        "forgot_password",
    }
    assert sidebar_links(at) == ["Log in or register"]
    # Nobody is signed in: no Log out, no studio or admin content.
    assert not at.sidebar.get("button") and "Signed in as" not in str(at.sidebar)
    assert not at.get("file_uploader") and not at.dataframe
    assert main_texts(at)[0] == "Viba Studio"
    # Nothing but the cookie-manager components and the login panel was drawn.
    cookie_slot, panel = at.main.children.values()
    assert {getattr(c, "key", None) for c in cookie_slot.children.values()} <= {
        "init",
        "set",
        "delete",
    }
    assert panel.type == "flex_container"


def cookie_commands(at: AppTest) -> set[str]:
    """The cookie-manager components drawn in the last run ('set' writes, 'delete' removes)."""
    cookie_slot = next(iter(at.main.children.values()))
    return {
        el.key
        for el in cookie_slot.children.values()
        if type(el).__name__ == "UnknownElement" and el.key
    }


def test_nav_items_by_role():
    admin = Account(
        id=None,
        email="a@x.io",
        full_name="A",
        is_admin=True,  # type: ignore[arg-type]
        is_verified=True,
        password_changed_at=None,
    )  # type: ignore[arg-type]
    user = Account(
        id=None,
        email="u@x.io",
        full_name="U",
        is_admin=False,  # type: ignore[arg-type]
        is_verified=True,
        password_changed_at=None,
    )  # type: ignore[arg-type]
    assert [i.label for i in sidebar.nav_items(None)] == ["Log in or register"]
    assert "Admin" in [i.label for i in sidebar.nav_items(admin)]
    assert "Admin" not in [i.label for i in sidebar.nav_items(user)]
    assert len(sidebar.nav_items(admin)) == len(sidebar.nav_items(user)) + 1


def test_every_page_file_is_covered():
    listed = {item.path for item in sidebar.studio_pages()} - {"Home.py"}
    assert set(PAGE_FILES) == listed and len(PAGE_FILES) == 9


@pytest.mark.parametrize("page", [None, *PAGE_FILES])
def test_logged_out_every_page_shows_only_the_login_panel(page, db):
    assert_only_login_panel(open_page(page))


@pytest.mark.parametrize("page", PAGE_FILES)
def test_a_user_sees_studio_pages_but_not_admin(page, user):
    at = open_page(page, user)
    assert not at.exception
    assert "Admin" not in sidebar_links(at)
    assert "Profile" in sidebar_links(at)
    if page in ADMIN_PAGES:
        assert [e.value for e in at.error] == [
            "This page is for admins. Ask an admin if you need access."
        ]
        assert not at.main.get("form") and not at.title and not at.dataframe
        assert not at.get("radio")  # the Admin sections were never drawn
    else:
        assert at.title and not at.error


def test_admin_sees_the_admin_page(admin):
    at = open_page("pages/8_Admin.py", admin)
    assert not at.exception and not at.error
    assert "Admin" in sidebar_links(at)
    assert [t.value for t in at.title] == ["Admin"]


def test_register_logout_login_and_lockout_through_the_forms(db, admin, email):
    at = open_page()
    at.text_input(key="register_email").input(email)
    at.text_input(key="register_name").input("Rita Register")
    at.text_input(key="register_password").input(PASSWORD)
    at.text_input(key="register_repeat").input(PASSWORD)
    at.button(key="FormSubmitter:register-Register").click().run()
    assert not at.exception
    assert [t.value for t in at.title] == ["Welcome, Rita Register"]
    assert at.session_state[browser_session.SESSION_KEY].user_id
    # The same run that logged in asked the browser to store the cookie.
    assert cookie_commands(at) == {"init", "set"}

    at.sidebar.button(key="viba_logout").click().run()
    assert_only_login_panel(at)
    # Deleting waits for the browser to report a cookie, which AppTest's browser never does.
    assert "set" not in cookie_commands(at)

    at.text_input(key="login_email").input(email.upper())
    at.text_input(key="login_password").input(PASSWORD)
    at.button(key="FormSubmitter:login-Log in").click().run()
    assert [t.value for t in at.title] == ["Welcome, Rita Register"]
    at.sidebar.button(key="viba_logout").click().run()

    for attempt in range(5):
        at.text_input(key="login_email").input(email)
        at.text_input(key="login_password").input("wrong-password-0")
        at.button(key="FormSubmitter:login-Log in").click().run()
        errors = [e.value for e in at.error]
        if attempt < 4:
            assert errors == [auth.GENERIC_LOGIN_ERROR]
    assert errors == [auth.GENERIC_LOGIN_ERROR]  # the fifth locked it: the same answer
    at.text_input(key="login_password").input(PASSWORD)
    at.button(key="FormSubmitter:login-Log in").click().run()
    assert [e.value for e in at.error] == [auth.GENERIC_LOGIN_ERROR]
    assert [t.value for t in at.title] == ["Viba Studio"]


def test_register_form_reports_problems_and_keeps_nothing(db, admin, email):
    at = open_page()
    at.text_input(key="register_email").input(email)
    at.text_input(key="register_name").input("Rita")
    at.text_input(key="register_password").input("short")
    at.text_input(key="register_repeat").input("short")
    at.button(key="FormSubmitter:register-Register").click().run()
    assert [e.value for e in at.error] == ["Password needs at least 8 characters, a digit."]
    at.text_input(key="register_password").input(PASSWORD)
    at.text_input(key="register_repeat").input(PASSWORD + "x")
    at.button(key="FormSubmitter:register-Register").click().run()
    assert [e.value for e in at.error] == ["The two passwords are not the same."]
    assert auth.get_account_by_email(db, email) is None


def test_forgot_password_without_smtp_says_ask_an_admin(db, user):
    at = open_page()
    at.text_input(key="forgot_email").input(user.email)
    at.button(key="FormSubmitter:forgot_password-Send me a reset link").click().run()
    assert [i.value for i in at.info] == [auth.RESET_ASK_ADMIN_MESSAGE]


def test_reset_link_opens_the_new_password_form(db, user, app_environ):
    token = auth.make_reset_token(db, app_environ["VIBA_COOKIE_KEY"], user.email)
    at = AppTest.from_file(str(ROOT / "Home.py"), default_timeout=30)
    at.query_params["reset"] = token
    at.run()
    assert at.text_input(key="reset_code").value == token
    at.text_input(key="reset_new_password").input("from-the-link-7")
    at.text_input(key="reset_repeat").input("from-the-link-7")
    at.button(key="FormSubmitter:reset_password-Set new password").click().run()
    assert not at.exception and not at.error
    assert "password is changed" in at.success[0].value
    assert auth.authenticate(db, user.email, "from-the-link-7").id == user.id


def test_profile_changes_name_and_password(db, user):
    at = open_page("pages/7_Profile.py", user)
    name_input = at.main.get("text_input")[0]
    name_input.input("Uma Profiled")
    at.button(key="FormSubmitter:profile_name-Save name").click().run()
    assert not at.exception
    assert auth.get_account(db, user.id).full_name == "Uma Profiled"
    current, new, repeat = at.main.get("text_input")[1:4]
    current.input(PASSWORD)
    new.input("changed-in-profile-3")
    repeat.input("changed-in-profile-3")
    at.button(key="FormSubmitter:profile_password-Change password").click().run()
    assert "Password changed" in at.success[0].value
    assert auth.authenticate(db, user.email, "changed-in-profile-3").id == user.id


def test_admin_sets_a_temporary_password_from_the_admin_page(db, admin, user):
    at = open_page("pages/8_Admin.py", admin)
    at.text_input(key="au_text").input(user.email).run()
    assert at.selectbox(key="au_pick").value.email == user.email
    at.text_input(key="au_temp_password").input("temporary-pw-42")
    at.button(key="FormSubmitter:admin_temporary_password-Set password").click().run()
    assert not at.exception and at.success
    assert auth.authenticate(db, user.email, "temporary-pw-42").id == user.id


def test_deactivated_user_is_logged_out_on_the_next_run(db, user):
    from sqlalchemy import update

    from viba.store.models import User

    at = open_page("pages/7_Profile.py", user)
    assert [t.value for t in at.title] == ["Profile"]
    with db.session() as s:
        s.execute(update(User).where(User.id == user.id).values(is_active=False))
    at.run()
    assert_only_login_panel(at)


@pytest.mark.parametrize(
    "url, message",
    [
        ("postgresql://viba:s3cret@127.0.0.1:1/none", "cannot be reached"),
        ("postgresql://viba:s3cret@127.0.0.1:port/none", "not a valid database URL"),
    ],
)
def test_bad_database_shows_one_message_not_a_trace(monkeypatch, app_environ, url, message):
    from viba.core.config import get_settings

    monkeypatch.setenv("DATABASE_URL", url)
    get_settings.cache_clear()
    try:
        at = open_page("pages/7_Profile.py")
        assert not at.exception
        assert len(at.error) == 1 and message in at.error[0].value
        assert "s3cret" not in at.error[0].value
        assert not at.main.get("form") and not at.title
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()


def test_forgot_password_form_emails_a_link_through_smtp(monkeypatch, db, user, smtp_server):
    from viba.core.config import get_settings

    port, inbox = smtp_server
    smtp_env(monkeypatch, port)
    try:
        at = open_page()
        at.text_input(key="forgot_email").input(user.email)
        at.button(key="FormSubmitter:forgot_password-Send me a reset link").click().run()
        assert [i.value for i in at.info] == [auth.RESET_SENT_MESSAGE]
        assert len(inbox.messages) == 1 and inbox.messages[0]["To"] == user.email
        # With email set up, the form for the emailed code is offered too.
        assert at.text_input(key="reset_code").value == ""
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()


def test_language_switch_translates_the_studio(db, user, app_environ):
    from viba.web.language import LANG_KEY

    at = open_page("pages/1_Derivation.py", user)
    assert [t.value for t in at.title] == ["Derivation"]
    at.session_state[LANG_KEY] = "zh"
    at.run()
    assert [t.value for t in at.title] == ["衍生"]
    assert "历史记录" in sidebar_links(at)


def test_profile_key_is_masked_and_remembered_encrypted(db, user, app_environ):
    from viba.accounts import keyvault
    from viba.core.config import get_settings

    at = open_page("pages/7_Profile.py", user)
    next(w for w in at.text_input if w.label == "Your Gemini API key").input(
        "AIzaSyProfileKey-0123456789wxyz"
    )
    next(c for c in at.checkbox if c.label.startswith("Remember")).check()
    at.button(key="FormSubmitter:profile_api_key-Use this key").click().run()
    assert not at.exception
    page_text = " ".join(str(m.value) for m in at.main.get("markdown"))
    assert "…wxyz" in page_text and "AIzaSyProfileKey" not in page_text
    secret = get_settings().resolved_cookie_key()
    assert keyvault.load(db, secret, user.id)[0] == "AIzaSyProfileKey-0123456789wxyz"


@pytest.mark.parametrize(
    "header,expected",
    [
        ("zh-CN,zh;q=0.9,en;q=0.8", "zh"),
        ("en-US,en;q=0.9,zh;q=0.8", "en"),
        ("fr-FR,fr;q=0.9,zh-TW;q=0.5", "zh"),  # the first of ours by weight
        ("de", "en"),
        ("zh;q=oops,en;q=0.1", "en"),  # a broken weight counts as 0
        (None, "en"),
    ],
)
def test_a_new_visitor_gets_the_browsers_language_when_it_is_ours(header, expected):
    from viba.i18n import browser_language

    assert browser_language(header) == expected


def test_the_accounts_language_is_taken_at_login_and_holds_on_every_page(db, user, app_environ):
    from viba.studio import preferences

    preferences.set_language(db, user.id, "zh")
    at = open_page("pages/1_Derivation.py", auth.get_account(db, user.id))
    assert [t.value for t in at.title] == ["衍生"]
    at.switch_page("pages/5_History.py").run()
    assert [t.value for t in at.title] == ["历史记录"]
