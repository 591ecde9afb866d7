"""The real app (`streamlit run`) in headless Chromium: the login cookie survives reloads and
direct page URLs, and logout removes it."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from viba.accounts import auth

from helpers import (
    PASSWORD,
    form,
    go_to,
    heading,
    log_in,
    main,
    session_cookies,
    settled,
    wait_until,
)

pytestmark = pytest.mark.browser


def expect_login_panel(page: Page) -> None:
    expect(heading(page, "Viba Studio")).to_be_visible()
    expect(form(page, "Log in")).to_be_visible()


def test_register_reload_direct_url_logout(page: Page, streamlit_server, db, admin, email):
    page.goto(streamlit_server.url)
    expect_login_panel(page)
    page.get_by_role("tab", name="Register").click()
    reg = form(page, "Create an account")
    reg.get_by_label("Email").fill(email)
    reg.get_by_label("Full name").fill("Bea Browser")
    reg.get_by_label("Password", exact=True).fill(PASSWORD)
    reg.get_by_label("Repeat password").fill(PASSWORD)
    reg.get_by_role("button", name="Register").click()
    expect(heading(page, "Welcome, Bea Browser")).to_be_visible()
    expect(page.get_by_text("Signed in as")).to_be_visible()
    wait_until(lambda: len(session_cookies(page)) == 1)

    page.reload()
    expect(heading(page, "Welcome, Bea Browser")).to_be_visible()

    # A page opened by URL in a new tab: the cookie logs it in, no Home.py needed.
    other = page.context.new_page()
    other.goto(f"{streamlit_server.url}/Profile")
    expect(heading(other, "Profile")).to_be_visible()
    expect(main(other).get_by_text(email)).to_be_visible()
    expect(other.get_by_role("link", name="Admin")).to_have_count(0)
    other.close()

    page.get_by_role("button", name="Log out").click()
    expect_login_panel(page)
    wait_until(lambda: session_cookies(page) == [])
    page.reload()
    expect_login_panel(page)
    page.goto(f"{streamlit_server.url}/Profile")
    expect_login_panel(page)
    expect(page.get_by_text("Change password")).to_have_count(0)


def test_login_then_go_straight_to_another_page_and_reload(page: Page, streamlit_server, user):
    page.goto(streamlit_server.url)
    log_in(page, user.email, PASSWORD)
    # Click on as soon as the link shows, as an impatient person would (again, if the app
    # was still redrawing and dropped the click).
    go_to(page, "History", "History")
    # The login run's cookie component may be unmounted by the page switch before it wrote the
    # cookie; the History page's runs must write it then.
    wait_until(lambda: len(session_cookies(page)) == 1)
    page.reload()
    expect(heading(page, "History")).to_be_visible()
    expect(page).to_have_url(re.compile(r"/History$"))


def failed_logins(db, user) -> int:
    from sqlalchemy import select

    from viba.store.models import User

    with db.session() as s:
        return s.scalar(select(User.failed_logins).where(User.id == user.id))


def test_wrong_password_then_lock_in_the_browser(page: Page, streamlit_server, db, user):
    page.goto(streamlit_server.url)
    for attempt in range(1, auth.MAX_FAILED_LOGINS + 1):
        log_in(page, user.email, "wrong-password-9")
        wait_until(lambda attempt=attempt: failed_logins(db, user) == attempt)
    expect(page.get_by_text("locked for 15 minutes")).to_be_visible()
    assert session_cookies(page) == []


def test_password_change_ends_other_browsers_sessions(browser, streamlit_server, db, user):
    first = browser.new_context().new_page()
    first.goto(streamlit_server.url)
    log_in(first, user.email, PASSWORD)
    expect(heading(first, re.compile("Welcome"))).to_be_visible()
    wait_until(lambda: len(session_cookies(first)) == 1)
    auth.change_password(db, user.id, PASSWORD, "a-new-password-1")
    first.reload()  # a new session: only the old cookie could log it in, and it is refused
    expect_login_panel(first)
    first.context.close()


def model_box(page: Page, index: int):
    """The index-th model selectbox on System Prompts (0: derivation text ... 4: swap)."""
    return main(page).get_by_role("combobox", name="Model").nth(index)


def choose(page: Page, box, option_name: re.Pattern) -> None:
    """Pick an option of a selectbox; a rerun that redraws the box closes an open list, so
    opening it is retried."""
    option = page.get_by_role("option", name=option_name)
    for _ in range(5):
        box.click()
        page.keyboard.press("ArrowDown")  # opens the list (a click only focuses it)
        try:
            option.click(timeout=3000)
            return
        except Exception:  # noqa: BLE001 (playwright's TimeoutError): the list closed, retry
            page.keyboard.press("Escape")
    raise AssertionError(f"could not choose {option_name.pattern}")


def test_model_choice_survives_logout_and_a_new_browser(browser, page, streamlit_server, db, user):
    page.goto(f"{streamlit_server.url}/System_Prompts")
    log_in(page, user.email, PASSWORD)
    expect(heading(page, "System Prompts")).to_be_visible()
    wait_until(lambda: len(session_cookies(page)) == 1)
    avatar = model_box(page, 2)
    expect(avatar).to_have_value(re.compile(r"· gemini-nano-banana-2\.1$"))
    choose(page, avatar, re.compile("gemini-3-pro-image$"))
    expect(page.get_by_text("Saved: gemini-3-pro-image")).to_be_visible()
    page.get_by_role("button", name="Log out").click()
    expect_login_panel(page)
    log_in(page, user.email, PASSWORD)
    expect(heading(page, "System Prompts")).to_be_visible()
    expect(model_box(page, 2)).to_have_value(re.compile(r"· gemini-3-pro-image$"))

    other = browser.new_context().new_page()  # another browser: only the row knows the choice
    other.goto(f"{streamlit_server.url}/System_Prompts")
    log_in(other, user.email, PASSWORD)
    expect(model_box(other, 2)).to_have_value(re.compile(r"· gemini-3-pro-image$"))
    other.context.close()


def test_a_cookie_copied_before_logout_logs_nobody_in_after_it(
    browser, page: Page, streamlit_server, user
):
    page.goto(streamlit_server.url)
    log_in(page, user.email, PASSWORD)
    expect(page.get_by_text("Signed in as")).to_be_visible()
    wait_until(lambda: len(session_cookies(page)) == 1)
    copied = [c for c in page.context.cookies() if c["name"] == "viba_session"]
    page.get_by_role("button", name="Log out").click()
    expect_login_panel(page)
    wait_until(lambda: session_cookies(page) == [])
    thief = browser.new_context()
    try:
        thief.add_cookies(copied)
        stolen = thief.new_page()
        stolen.goto(f"{streamlit_server.url}/Profile")
        expect_login_panel(stolen)
    finally:
        thief.close()


def test_log_out_and_in_again_in_the_same_tab_keeps_the_login(page: Page, streamlit_server, user):
    page.goto(streamlit_server.url)
    log_in(page, user.email, PASSWORD)
    wait_until(lambda: len(session_cookies(page)) == 1)
    first = session_cookies(page)[0]
    page.get_by_role("button", name="Log out").click()
    expect_login_panel(page)
    wait_until(lambda: session_cookies(page) == [])
    log_in(page, user.email, PASSWORD)  # no reload in between
    expect(page.get_by_text("Signed in as")).to_be_visible()
    wait_until(lambda: session_cookies(page) not in ([], [first]))
    page.reload()
    expect(page.get_by_text("Signed in as")).to_be_visible()


@pytest.mark.parametrize("kind", ["alg-none", "garbage", "other-key"])
def test_a_forged_cookie_shows_the_login_panel_and_is_cleared(
    page: Page, streamlit_server, db, user, kind
):
    import base64
    import json
    import time
    import uuid

    import jwt
    from sqlalchemy import func, select

    from viba.store import audit
    from viba.store.models import AuditEntry

    def part(data: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")

    claims = {"sid": str(uuid.uuid4()), "exp": int(time.time()) + 3600}
    token = {
        "alg-none": f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims)}.",
        "garbage": "not-a-token",
        "other-key": jwt.encode(claims, "someone-elses-key-" + "y" * 30, algorithm="HS256"),
    }[kind]

    def bad_cookie_entries() -> int:
        with db.session() as s:
            return s.scalar(select(func.count()).where(AuditEntry.action == audit.BAD_COOKIE))

    before = bad_cookie_entries()
    page.context.add_cookies(
        [{"name": "viba_session", "value": token, "url": streamlit_server.url}]
    )
    page.goto(f"{streamlit_server.url}/Profile")
    expect_login_panel(page)
    wait_until(lambda: session_cookies(page) == [])
    assert bad_cookie_entries() > before
    log_in(page, user.email, PASSWORD)  # and logging in works as usual
    expect(heading(page, "Profile")).to_be_visible()


def test_a_page_load_and_a_sidebar_switch_run_the_page_once(page: Page, streamlit_server, user):
    """The cookie component is drawn only while the cookie must change: its first report
    reruns the page, which used to run every load and every switch twice. Each step waits
    for its page; the last one is a fence: a second run of any earlier step would show in
    the list before it."""
    log = streamlit_server.log_path

    def runs() -> list[str]:
        return [
            line.rsplit("page run: ", 1)[1]
            for line in log.read_text(errors="replace").splitlines()
            if f"user_id={user.id}" in line and "page run:" in line
        ]

    page.goto(streamlit_server.url)
    log_in(page, user.email, PASSWORD)
    wait_until(lambda: len(session_cookies(page)) == 1)
    settled(page)
    before = len(runs())
    steps = [("Profile", "load"), ("History", "switch"), ("Home", "load"), ("Profile", "switch")]
    for title, how in steps:
        if how == "load":
            page.goto(f"{streamlit_server.url}/{'' if title == 'Home' else title}")
        else:
            page.get_by_test_id("stSidebar").get_by_role("link", name=title).click()
        heading_text = "Welcome" if title == "Home" else title
        expect(main(page).get_by_role("heading", name=re.compile(heading_text))).to_be_visible()
        settled(page)
    seen = runs()[before:]
    # The login's own runs (writing the cookie, the browser confirming it) may end after
    # the cookie is stored; from the first step on, each page ran exactly once.
    first = seen.index("Profile")
    assert set(seen[:first]) <= {"Home"} and seen[first:] == [title for title, _ in steps]
