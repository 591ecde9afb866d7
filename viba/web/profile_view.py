"""The Profile page: your name, your password, Google Workspace sign-in, your sessions and
your own Gemini API key."""

from __future__ import annotations

import streamlit as st

from viba.accounts import auth, keyvault, sessions, sso
from viba.core.errors import UserError
from viba.core.text import md_escape
from viba.store import audit
from viba.web import context, login_view
from viba.web.boundary import action
from viba.web.browser_session import flash, session
from viba.web.context import PageContext
from viba.web.language import t


def profile_page(ctx: PageContext) -> None:
    account = ctx.account
    st.title(t("Profile"))
    st.text(
        account.email
        + (f" · {t('admin')}" if account.is_admin else "")
        + (f" · {t('email verified')}" if account.is_verified else "")
    )
    _name_form(ctx)
    _password_form(ctx)
    if login_view.sso_configured(ctx.settings):
        _sso_section(ctx)
    _sessions_section(ctx)
    _api_key_section(ctx)


def _name_form(ctx: PageContext) -> None:
    with st.form("profile_name"):
        st.subheader(t("Name"))
        name = st.text_input(t("Full name"), value=ctx.account.full_name)
        if st.form_submit_button(t("Save name")):
            try:
                auth.update_profile(ctx.db, ctx.account.id, name)
            except UserError as exc:
                st.error(md_escape(t(str(exc))))
            else:
                flash("Name saved.")
                st.rerun()


def _password_form(ctx: PageContext) -> None:
    with st.form("profile_password", clear_on_submit=True):
        st.subheader(t("Change password"))
        current = st.text_input(t("Current password"), type="password")
        new = st.text_input(t("New password"), type="password", help=t(auth.PASSWORD_POLICY))
        repeat = st.text_input(t("Repeat new password"), type="password")
        st.caption(t("Password: {policy}").format(policy=t(auth.PASSWORD_POLICY)))
        if not st.form_submit_button(t("Change password")):
            return
    if new != repeat:
        st.error(t("The two new passwords are not the same."))
        return
    try:
        auth.change_password(
            ctx.db, ctx.account.id, current, new, keep_session=session().session_id
        )
    except UserError as exc:
        st.error(md_escape(t(str(exc))))
    else:
        st.success(t("Password changed. Other browsers logged in with the old one are logged out."))


def _sso_section(ctx: PageContext) -> None:
    """Link this account to a Google Workspace sign-in (its password, then Google's), or
    unlink it (the password again)."""
    issuer = sso.linked_issuer(ctx.db, ctx.account.id)
    verb = "Unlink Google Workspace sign-in" if issuer else "Link Google Workspace sign-in"
    with st.form("profile_sso", clear_on_submit=True):
        st.subheader(t("Sign in with Google Workspace"))
        if issuer:
            st.text(t("This account also signs in with Google Workspace ({issuer}).").format(
                issuer=issuer
            ))  # fmt: skip
        else:
            st.caption(
                t(
                    "Sign in with this account through Google Workspace too. Your password "
                    "first; then Google asks which Google account."
                )
            )
        password = st.text_input(t("Your password"), type="password")
        if not st.form_submit_button(t(verb)):
            return
    box = session()
    try:
        if issuer:
            sso.unlink(ctx.db, ctx.account.id, password)
        else:
            assert box.session_id is not None  # a logged-in page has its session
            sso.begin_link(ctx.db, ctx.account.id, box.session_id, password)
    except UserError as exc:
        st.error(md_escape(t(str(exc))))
        return
    if issuer:
        flash("Google sign-in is no longer linked to this account.")
        st.rerun()
    # The provider's sign-in; the browser comes back to a new page run, which finishes the
    # link (login_view.finish_link).
    st.login()


@action
def _log_out_everywhere(ctx: PageContext) -> None:
    box = session()
    with ctx.db.session() as s:
        ended = sessions.end_all(s, ctx.account.id, audit.SESSIONS_ENDED)
        audit.record(
            s,
            audit.SESSIONS_ENDED,
            actor_id=ctx.account.id,
            actor_email=ctx.account.email,
            target_user_id=ctx.account.id,
            ended=ended,
        )
    box.log_out()


def _sessions_section(ctx: PageContext) -> None:
    st.subheader(t("Where you are logged in"))
    current = session().session_id
    live = sessions.live(ctx.db, ctx.account.id)
    st.dataframe(
        [
            {
                t("this browser"): "✓" if s.id == current else "",
                t("logged in (UTC)"): f"{s.created_at:%Y-%m-%d %H:%M}",
                t("last seen (UTC)"): f"{s.last_seen_at:%Y-%m-%d %H:%M}",
                t("browser"): s.user_agent or "",
                t("address"): s.ip_address or "",
            }
            for s in live
        ],
        hide_index=True,
        width="stretch",
    )
    st.button(
        t("Log out everywhere"),
        on_click=_log_out_everywhere,
        args=(ctx,),
        icon=":material/logout:",
        key="logout_everywhere",
        help=t("Ends every session of your account, this one too."),
    )


@action
def _forget_key(ctx: PageContext) -> None:
    box = session()
    if box.key_remembered or box.key_unreadable:
        keyvault.forget(ctx.db, ctx.account.id)
    box.use_key(None, remembered=False)  # nothing remembered any more
    box.flash = "Your key is forgotten."


def _api_key_section(ctx: PageContext) -> None:
    st.subheader(t("Gemini API key"))
    box = session()
    own = context.user_gemini_key(ctx.db, ctx.settings)
    if box.key_unreadable:
        st.warning(
            t(
                "Your remembered key can no longer be read (the server's secret changed). "
                "Enter it again."
            )
        )
    if own:
        where = (
            " (remembered on your account)" if box.key_remembered else " (for this session only)"
        )
        st.write(
            t("Generations use **your key** {mask}{where}.").format(
                mask=keyvault.mask(own), where=t(where)
            )
        )
    elif ctx.settings.gemini_api_key:
        st.write(t("Generations use the **server's key**. You can use your own instead."))
    else:
        st.write(
            t(
                "No key yet: the server has none, so add yours to generate. Get one at "
                "[aistudio.google.com/apikey](https://aistudio.google.com/apikey)."
            )
        )
    with st.form("profile_api_key", clear_on_submit=True):
        new_key = st.text_input(
            t("Your Gemini API key"),
            type="password",
            help=t("Used instead of the server's key for your generations."),
        )
        remember = st.checkbox(t("Remember it on my account (stored encrypted)"))
        if st.form_submit_button(t("Use this key")):
            try:
                cleaned = keyvault.clean_key(new_key)
                if remember:
                    keyvault.remember(
                        ctx.db, ctx.settings.resolved_cookie_key(), ctx.account.id, cleaned
                    )
                else:
                    keyvault.forget(ctx.db, ctx.account.id)
            except UserError as exc:
                st.error(md_escape(t(str(exc))))
            else:
                box.use_key(cleaned, remember)
                where = " on your account (encrypted)" if remember else " for this session"
                flash(
                    t("Key {mask} saved{where}.").format(
                        mask=keyvault.mask(cleaned), where=t(where)
                    )
                )
                st.rerun()
    if own or box.key_unreadable:
        st.button(t("Forget my key"), on_click=_forget_key, args=(ctx,), icon=":material/key_off:")
