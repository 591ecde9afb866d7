"""English and 中文 throughout: every page, logged out, as a user and as an admin (each Admin
section), in both languages. In 中文 a page may show no English word outside the few names
that stay as they are (Gemini, API, UTC, ...) and the data it lists (emails, model ids, file
names); in English no Chinese. A string that is not in the translation table fails here."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator

import pytest
from streamlit.testing.v1 import AppTest
from streamlit.testing.v1.element_tree import Block, Node

from viba import i18n
from viba.accounts import auth
from viba.web import browser_session, language
from viba.web.admin_view import SECTIONS

from helpers import PASSWORD, ROOT, logged_in_box, smtp_env

PAGES = ["Home.py", *sorted(str(p.relative_to(ROOT)) for p in (ROOT / "pages").glob("*.py"))]
# Names and units that stay as they are in 中文, and the data pages list.
KEPT = {
    "Gemini", "API", "GEMINI_API_KEY", "Viba", "Studio", "UTC", "CSV", "zip", "PNG", "JPEG",
    "JPG", "WEBP", "USD", "MB", "MP", "px", "ID", "SMTP", "URL", "Flash", "Pro", "Image", "Lite",
    "Preview", "Nano", "Banana", "Supabase", "English", "AM", "PM", "K", "AI", "Cookie",
    "Google", "Workspace",
}  # fmt: skip
DATA = [
    re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+"),  # emails
    re.compile(r"gemini-[\w.-]+"),  # model ids
    re.compile(r"\b[\w/-]+\.(png|jpe?g|webp|zip|csv|toml|py)\b", re.I),  # file names
    re.compile(r"\{[a-z_]+\}"),  # placeholders shown in prompt help
    re.compile(r":material/[a-z_]+:"),  # icons
    re.compile(r"https?://\S+"),
    re.compile(r"\b[A-Z][A-Z0-9]*(_[A-Z0-9]+)+\b"),  # settings (environment variables)
]
ENGLISH_WORD = re.compile(r"[A-Za-z]{2,}")
CJK = re.compile(r"[\u4e00-\u9fff]")


def texts(node: Node) -> Iterator[str]:
    """Every string a person reads on a node and its children."""
    if isinstance(node, Block):
        for attr in ("label",):
            value = getattr(node, attr, None) if node.type in ("expander", "tab") else None
            if isinstance(value, str):
                yield value
        for child in node.children.values():
            yield from texts(child)
        return
    kind = node.type
    if kind in ("code", "dataframe_cells", "image", "divider", "html"):
        return
    for attr in ("label", "help", "placeholder"):
        value = getattr(node, attr, None)
        if isinstance(value, str) and value:
            yield value
    if kind in ("title", "header", "subheader", "markdown", "caption", "text", "info",
                "warning", "error", "success", "toast"):  # fmt: skip
        yield str(node.value)
    if kind == "dataframe":
        yield from (str(c) for c in getattr(node.value, "columns", []))
    options = getattr(node, "options", None)
    if kind in ("selectbox", "radio", "multiselect", "button_group") and options:
        yield from (str(o) for o in options if "@" not in str(o))


def strip(text: str, names: list[str]) -> str:
    for name in names:
        text = text.replace(name, " ")
    return text


def untranslated(text: str) -> list[str]:
    for pattern in DATA:
        text = pattern.sub(" ", text)
    return [w for w in ENGLISH_WORD.findall(text) if w not in KEPT]


@pytest.fixture(scope="module")
def people(db, admin):
    """A user and an admin with Chinese names (their names are on every page)."""
    suffix = uuid.uuid4().hex[:8]
    member = auth.register(db, f"zh-user-{suffix}@example.com", "李雷", PASSWORD)
    boss = auth.register(db, f"zh-admin-{suffix}@example.com", "韩梅梅", PASSWORD)

    first_admin = next(a for a in [auth.get_account(db, boss.id)] if a)
    return member, first_admin


def runs(db, people, lang: str) -> Iterator[tuple[str, AppTest]]:
    member, boss = people
    from sqlalchemy import update

    from viba.store.models import User

    with db.session() as s:  # the walker's admin
        s.execute(update(User).where(User.id == boss.id).values(is_admin=True))
    boss = auth.get_account(db, boss.id)
    for who, account in (("logged out", None), ("user", member), ("admin", boss)):
        for page in PAGES:
            # Each Admin section in a fresh run (AppTest cannot rerun a keyed selectbox whose
            # format_func changes its text, as the translated ones do; browsers can).
            sections = SECTIONS if page.endswith("Admin.py") and who == "admin" else [None]
            for section in sections:
                at = AppTest.from_file(str(ROOT / "Home.py"), default_timeout=30)
                box = logged_in_box(account) if account else browser_session.SessionBox()
                box.language = lang
                box.language_of = str(account.id) if account else None  # as chosen here
                at.session_state[browser_session.SESSION_KEY] = box
                if section:
                    at.session_state["admin_section"] = section
                if page != "Home.py":
                    at.switch_page(page)
                at.run()
                yield f"{who} {page} {section or ''}", at


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_every_page_in_both_languages_shows_only_that_language(db, people, app_environ, lang):
    problems: dict[str, set[str]] = {}
    seen = 0
    for where, at in runs(db, people, lang):
        assert not at.exception, (where, at.exception)
        for text in [*texts(at.main), *texts(at.sidebar), *(str(t.value) for t in at.toast)]:
            seen += 1
            names = [people[0].full_name, people[1].full_name]  # their names are data
            bad = untranslated(text) if lang == "zh" else CJK.findall(strip(text, names))
            if bad and not (lang == "en" and text in i18n.LANGUAGES.values()):
                problems.setdefault(text, set()).add(where)
    report = "\n".join(
        f"{text!r}  ({len(where)} pages)" for text, where in sorted(problems.items())
    )
    assert not problems, f"{len(problems)} of {seen} strings not in {lang}:\n{report}"


def zh_page(account=None, page: str | None = None) -> AppTest:
    at = AppTest.from_file(str(ROOT / "Home.py"), default_timeout=30)
    box = logged_in_box(account) if account else browser_session.SessionBox()
    box.language = "zh"
    box.language_of = str(account.id) if account else None
    at.session_state[browser_session.SESSION_KEY] = box
    if page:
        at.switch_page(page)
    return at.run()


def all_texts(at: AppTest) -> list[str]:
    return [*texts(at.main), *texts(at.sidebar), *(str(t.value) for t in at.toast)]


def test_messages_after_actions_are_in_chinese_too(db, people, admin, app_environ):
    from viba.studio import budget

    member = people[0]
    at = zh_page()
    at.text_input(key="login_email").input(member.email)
    at.text_input(key="login_password").input("wrong-password-1")
    at.button(key="FormSubmitter:login-登录").click().run()
    assert [e.value for e in at.error] == [language.t(auth.GENERIC_LOGIN_ERROR, "zh")]
    # A studio form: nothing uploaded, then a limit reached.
    at = zh_page(member, "pages/2_Avatar.py")
    next(b for b in at.button if b.label == "生成").click().run()
    assert [w.value for w in at.warning] == ["请先添加图片。"]
    budget.set_user_limits(db, admin, member.id, None, 0)
    try:
        from fake_gemini import png_bytes

        at.file_uploader(key="avatar_photo").set_value([("me.png", png_bytes("zh"), "image/png")])
        next(b for b in at.button if b.label == "生成").click().run()
        (refused,) = at.error
        assert refused.value.startswith("你今天已生成 0 次，达到每日上限。")
        problems = {s: untranslated(s) for s in all_texts(at) if untranslated(s)}
        assert not problems
    finally:
        budget.set_user_limits(db, admin, member.id, None, None)


def test_the_reset_email_is_in_the_accounts_language(monkeypatch, db, people, smtp_server):
    from viba.core.config import get_settings
    from viba.studio import preferences

    member = people[0]
    preferences.set_language(db, member.id, "zh")
    port, inbox = smtp_server
    smtp_env(monkeypatch, port)
    try:
        auth.request_password_reset(db, get_settings(), member.email)
        (mail,) = inbox.messages
        assert mail["Subject"] == "重置你的 Viba Studio 密码"
        body = mail.get_payload(decode=True).decode()
        assert body.startswith("有人请求重置你的 Viba Studio 账户密码。") and "?reset=" in body
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()


def test_csv_headers_in_chinese_and_their_rows_as_they_are():
    data = "email,full_name,generations\r\nann@example.com,Ann,3\r\n".encode("utf-8-sig")
    out = i18n.csv_header_in(data, "zh").decode("utf-8-sig")
    assert out == "邮箱,姓名,生成次数\r\nann@example.com,Ann,3\r\n"
    assert i18n.csv_header_in(data, "en") == data


def test_every_phrase_has_its_placeholders_in_chinese():
    from viba.i18n.zh import PHRASES

    names = re.compile(r"\{([a-z_]*)\}")
    for english, chinese in PHRASES.items():
        assert sorted(names.findall(english)) == sorted(names.findall(chinese)), english
    for entry in i18n.TEXTS.values():
        assert sorted(names.findall(entry["en"])) == sorted(names.findall(entry["zh"]))
