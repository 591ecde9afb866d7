"""The page's language: chosen in the session, kept on the account, or asked for by the browser;
t() in that language."""

from __future__ import annotations

from typing import Any

import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx

from viba import i18n
from viba.i18n import LANGUAGES, browser_language
from viba.i18n.zh import PHRASES
from viba.web.browser_session import session

LANG_KEY = "viba_lang"


def current_language() -> str:
    """This session's language: the one chosen (in this session, or kept on the account),
    else the switch's state, else what the browser asks for (Accept-Language), else English."""
    try:
        if get_script_run_ctx(suppress_warning=True) is None:
            return "en"  # outside a page run (the job runner, a command)

        box = session()
        chosen = box.language or st.session_state.get(LANG_KEY)
        if chosen in LANGUAGES:
            return str(chosen)
        if box.browser_language is None:
            box.browser_language = browser_language(st.context.headers.get("Accept-Language"))
        return box.browser_language
    except Exception:  # outside a Streamlit run
        return "en"


def t(key: str, lang: str | None = None) -> str:
    """viba.web.language.t in lang, by default the page's language."""
    return i18n.t(key, lang or current_language())


def t_columns(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A table's rows with their column names in the session's language (the names are the
    English ones, whatever TEXTS calls the same word)."""
    if current_language() == "en":
        return rows
    return [{PHRASES.get(name, name): value for name, value in row.items()} for row in rows]
