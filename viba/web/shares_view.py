"""Making share links (under an output in History, on a board) and the list of your links with
Revoke. The domain checks are viba.studio.shares's; the token is shown once, right after it
is made, and never kept in the page's state longer than that session."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import streamlit as st

from viba.core.text import md_escape
from viba.studio import shares
from viba.web.boundary import action
from viba.web.browser_session import flash
from viba.web.context import PageContext
from viba.web.language import t

MADE_KEY = "share_link_made"


def link_url(ctx: PageContext, token: str) -> str:
    return f"{ctx.settings.public_url.rstrip('/')}/s/{token}"


@action
def _make(ctx: PageContext, prefix: str, make: Callable[[int, bool, Any], str]) -> None:
    days = int(st.session_state.get(f"{prefix}_days") or shares.DEFAULT_DAYS)
    keep = bool(st.session_state.get(f"{prefix}_keep"))
    token = make(days, keep, st.session_state.get(f"{prefix}_which"))
    st.session_state[MADE_KEY] = (prefix, link_url(ctx, token), days)


def link_popover(
    ctx: PageContext,
    container: Any,
    prefix: str,
    make: Callable[[int, bool, Any], str],
    choices: list[Any] | None = None,
    format_func: Callable[[Any], str] = str,
) -> None:
    """A "Share link" popover: which (when `choices`), days, keep settings, Make a link;
    then the link, once."""
    with container.popover(t("share_link"), icon=":material/link:", width="stretch"):
        if choices:
            st.selectbox(
                t("which_outputs"), choices, key=f"{prefix}_which", format_func=format_func
            )
        st.number_input(
            t("share_days"),
            min_value=1,
            max_value=shares.MAX_DAYS,
            value=shares.DEFAULT_DAYS,
            step=1,
            key=f"{prefix}_days",
        )
        st.checkbox(t("share_keep"), key=f"{prefix}_keep")
        st.button(
            t("make_link"), key=f"{prefix}_make", icon=":material/add_link:", on_click=_make,
            args=(ctx, prefix, make),
        )  # fmt: skip
        made = st.session_state.get(MADE_KEY)
        if made and made[0] == prefix:
            st.caption(t("link_made").format(when=t("share_days_n").format(n=made[2])))
            st.code(made[1], language=None)


def output_link(ctx: PageContext, container: Any, generation_id: uuid.UUID, keys: list[str]):
    def make(days: int, keep: bool, which: Any) -> str:
        key = keys[int(which or 0)]
        return shares.share_output(ctx.db, ctx.account, generation_id, key, days, keep)

    link_popover(
        ctx,
        container,
        f"share_out_{generation_id}",
        make,
        list(range(len(keys))) if len(keys) > 1 else None,
        lambda i: t("output_n").format(n=i + 1),
    )


def board_link(ctx: PageContext, container: Any, board_id: uuid.UUID) -> None:
    def make(days: int, keep: bool, _which: Any) -> str:
        return shares.share_board(ctx.db, ctx.account, board_id, days, keep)

    link_popover(ctx, container, f"share_board_{board_id}", make)


@action
def _revoke(ctx: PageContext, link_id: uuid.UUID) -> None:
    shares.revoke(ctx.db, ctx.account, link_id)
    flash(t("link_revoked_note"))


def links_section(ctx: PageContext) -> None:
    st.subheader(t("your_links"))
    found = shares.links(ctx.db, ctx.account)
    if not found:
        st.caption(t("no_links"))
    for link in found:
        line, out = st.columns([4, 1])
        what = link.what if link.board_id else _output_name(link.what)
        text = t("link_line").format(
            what=what, views=link.views, until=f"{link.expires_at:%Y-%m-%d %H:%M} UTC"
        )
        if link.revoked_at is not None:
            text += f" · {t('link_revoked')}"
        elif not link.live:
            text += f" · {t('link_expired')}"
        line.caption(md_escape(text))
        if link.live:
            out.button(
                t("revoke"), key=f"share_revoke_{link.id}", on_click=_revoke, args=(ctx, link.id)
            )


def _output_name(what: str) -> str:
    kind, _, place = what.partition(" #")
    return f"{t(kind)} · {t('output_n').format(n=place)}"
