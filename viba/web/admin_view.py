"""Streamlit glue for the Admin page: users, generations, usage, limits, storage and the audit
log. Every read and change goes through viba.studio.admin_users and admin_reports
(viba.studio.space for storage), which check the role in the database."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import streamlit as st

from viba.accounts import auth
from viba.accounts.account import Account
from viba.core.errors import UserError
from viba.core.text import md_escape
from viba.engine.gemini import GeminiConfig, MissingApiKey
from viba.i18n import csv_header_in
from viba.store import audit
from viba.store.db import Database, is_capped
from viba.store.models import GENERATION_STATUSES, utcnow
from viba.studio import admin_reports, budget, features, space
from viba.studio.admin_users import (
    PAGE_SIZE,
    USER_SORTS,
    USER_STATES,
    NotAllowed,
    UserFilter,
    UserRow,
    end_sessions,
    get_user,
    set_active,
    set_admin,
    set_temporary_password,
    set_verified,
    unlock,
    users,
    users_csv,
)
from viba.web import history_view, models_view
from viba.web.browser_session import flash
from viba.web.context import PageContext
from viba.web.history_view import keep_hidden_widgets
from viba.web.language import current_language, t, t_columns

SECTIONS = ("Users", "Generations", "Usage", "Limits", "Models", "Storage", "Audit log")


def admin_page(ctx: PageContext) -> None:
    st.title(t("Admin"))
    full = space.used(ctx.db, ctx.account, ctx.settings.database_limit_mb)
    if full is not None:
        st.warning(_space_line(full) + " " + t(SPACE_ADVICE), icon=":material/database:")
    wanted = st.query_params.get("gen")
    if wanted:
        open_generation(ctx, wanted)
        keep_hidden_widgets()
    section = st.radio(
        t("Section"),
        SECTIONS,
        horizontal=True,
        key="admin_section",
        label_visibility="collapsed",
        format_func=t,
    )
    sections: dict[str, Callable[[Database, Account], None]] = {
        "Users": users_section,
        "Generations": generations_section,
        "Usage": usage_section,
        "Limits": limits_section,
        "Models": functools.partial(models_view.models_section, config=_server_config(ctx)),
        "Storage": functools.partial(storage_section, limit_mb=ctx.settings.database_limit_mb),
        "Audit log": audit_section,
    }
    sections[section](ctx.db, ctx.account)


def _server_config(ctx: PageContext) -> GeminiConfig | None:
    """The server's key (GEMINI_API_KEY), whose model list Admin > Models shows; None without."""
    try:
        return GeminiConfig.from_settings(ctx.settings)
    except MissingApiKey:
        return None


def _offset(name: str, signature: str) -> int:
    """Where this table's page starts; other filters or sorting start again at row 0."""
    state = st.session_state
    key = f"admin_{name}_offset"
    if state.get(f"{key}_sig") != signature:
        state[f"{key}_sig"], state[key] = signature, 0
    return int(state.get(key, 0))


def _pager(name: str, offset: int, total: int, page_size: int = PAGE_SIZE) -> None:
    """Previous/Next under a table of `total` rows."""
    key = f"admin_{name}_offset"
    prev, nxt, info = st.columns([1, 1, 4])
    if prev.button(
        t("Previous"), key=f"{key}_prev", disabled=offset == 0, icon=":material/arrow_back:"
    ):
        st.session_state[key] = max(0, offset - page_size)
        st.rerun()
    if nxt.button(
        t("Next"),
        key=f"{key}_next",
        disabled=offset + page_size >= total,
        icon=":material/arrow_forward:",
    ):
        st.session_state[key] = offset + page_size
        st.rerun()
    start, end = offset + 1, min(total, offset + page_size)
    if is_capped(total, offset + page_size):
        info.caption(
            t("Rows {start}–{end} of more than {total}").format(
                start=start, end=end, total=f"{total - 1:,}"
            )
        )
    else:
        info.caption(
            t("Rows {start}–{end} of {total}").format(start=start, end=end, total=f"{total:,}")
            if total
            else t("Rows 0 of 0")
        )


def _paged(
    name: str, signature: str, fetch: Callable[[int], tuple[list, int]]
) -> tuple[list, int, int]:
    """Rows of the current page (one count and one page query), the total and the offset."""
    offset = _offset(name, signature)
    rows, total = fetch(offset)
    if offset and offset >= total:  # rows went away meanwhile: back to the first page
        offset = st.session_state[f"admin_{name}_offset"] = 0
        rows, total = fetch(0)
    return rows, total, offset


def _dates(prefix: str, default_days: int | None = None) -> tuple[Any, Any] | None:
    a, b = st.columns(2)
    today = utcnow().date()
    since = a.date_input(
        t("From (UTC)"),
        key=f"{prefix}_since",
        value=today - timedelta(days=default_days) if default_days else None,
    )
    until = b.date_input(
        t("To (UTC, inclusive)"), key=f"{prefix}_until", value=today if default_days else None
    )
    if isinstance(since, date) and isinstance(until, date) and since > until:
        st.warning(t("The start day is after the end day."))
        return None
    return history_view.day_range(since or None, until or None)


def _csv_button(label: str, make: Callable[[], bytes], file_name: str, key: str) -> None:
    """A CSV made when clicked, its header row in the page's language (the clicked download
    is made outside the page's run: the language is taken now)."""
    lang = current_language()
    st.download_button(
        t(label),
        data=lambda: csv_header_in(make(), lang),
        file_name=file_name,
        mime="text/csv",
        key=key,
        icon=":material/download:",
        on_click="ignore",
    )


# --- users --------------------------------------------------------------------------------


def users_section(db: Database, actor: Account) -> None:
    a, b, c, d = st.columns([3, 2, 2, 1])
    text = a.text_input(t("Email or name contains"), key="au_text")
    state = b.selectbox(t("Show"), USER_STATES, key="au_state", format_func=t)
    sort = c.selectbox(t("Sort by"), USER_SORTS, key="au_sort", format_func=t)
    descending = d.toggle(t("Descending"), value=True, key="au_desc")
    filters = UserFilter(text=text, state=state)
    rows, total, offset = _paged(
        "users",
        repr((filters, sort, descending)),
        lambda at: users(db, actor, filters, sort, descending, at),
    )
    st.dataframe(
        t_columns(
            [
                {
                    "email": r.email,
                    "name": r.full_name,
                    "admin": r.is_admin,
                    "verified": r.is_verified,
                    "active": r.is_active,
                    "locked": r.locked,
                    "failed logins": r.failed_logins,
                    "generations": r.generations,
                    "created (UTC)": f"{r.created_at:%Y-%m-%d %H:%M}",
                    "last login (UTC)": f"{r.last_login_at:%Y-%m-%d %H:%M}"
                    if r.last_login_at
                    else "",
                }
                for r in rows
            ]
        ),
        hide_index=True,
        width="stretch",
    )
    _pager("users", offset, total)
    _csv_button(
        "Export CSV (all matching rows)",
        lambda: users_csv(db, actor, filters, sort, descending),
        "viba-users.csv",
        "au_csv",
    )
    if rows:
        _manage_user(db, actor, rows)


def _act(label: str, action: Callable[[], None]) -> None:
    """Do an account change, then rerun so the page shows the new state; the outcome is
    shown after that rerun."""
    try:
        action()
    except UserError as exc:
        flash(str(exc))
    else:
        flash(label)
    st.rerun()


def _manage_user(db: Database, actor: Account, rows: list[UserRow]) -> None:
    st.subheader(t("Manage an account"))
    chosen = st.selectbox(
        t("Account"), rows, key="au_pick", format_func=lambda r: f"{r.email} ({r.full_name})"
    )
    if chosen is None:
        return
    row = get_user(db, actor, chosen.id)  # fresh, after any change this run
    flags = [
        t("admin" if row.is_admin else "user account"),
        t("verified" if row.is_verified else "not verified"),
        t("active" if row.is_active else "deactivated"),
    ]
    if row.locked:
        flags.append(t("locked until {time} UTC").format(time=f"{row.locked_until:%H:%M}"))
    st.caption(" · ".join(flags))
    cols = st.columns(5)
    uid = row.id
    if row.is_admin:
        if cols[0].button(t("Revoke admin"), key="au_revoke", icon=":material/remove_moderator:"):
            _act("Admin role removed.", lambda: set_admin(db, actor, uid, False))
    elif cols[0].button(t("Make admin"), key="au_grant", icon=":material/add_moderator:"):
        _act("Now an admin.", lambda: set_admin(db, actor, uid, True))
    if cols[1].button(
        t("Mark verified"), key="au_verify", disabled=row.is_verified, icon=":material/verified:"
    ):
        _act("Marked verified.", lambda: set_verified(db, actor, uid, True))
    if cols[2].button(
        t("Unlock"), key="au_unlock", disabled=not row.locked, icon=":material/lock_open:"
    ):
        _act("Unlocked.", lambda: unlock(db, actor, uid))
    if row.is_active:
        if cols[3].button(t("Deactivate"), key="au_deactivate", icon=":material/person_off:"):
            _act("Deactivated.", lambda: set_active(db, actor, uid, False))
    elif cols[3].button(t("Reactivate"), key="au_reactivate", icon=":material/person:"):
        _act("Reactivated.", lambda: set_active(db, actor, uid, True))
    if cols[4].button(
        t("End sessions"),
        key="au_end_sessions",
        icon=":material/logout:",
        help=t("Log this account out of every browser."),
    ):
        _act("Logged out everywhere.", lambda: end_sessions(db, actor, uid))
    with st.form("admin_temporary_password", clear_on_submit=True):
        st.markdown(t("**Set a temporary password**"))
        st.caption(
            t(
                "For someone who forgot their password when email is not set up. It also "
                "unlocks the account. Tell them to change it on their Profile page."
            )
        )
        password = st.text_input(
            t("Temporary password"),
            type="password",
            help=t(auth.PASSWORD_POLICY),
            key="au_temp_password",
        )
        if st.form_submit_button(t("Set password")):
            try:
                set_temporary_password(db, actor, uid, password)
                st.success(
                    t("Temporary password set for {email}.").format(email=md_escape(row.email))
                )
            except UserError as exc:
                st.error(md_escape(t(str(exc))))


# --- generations --------------------------------------------------------------------------


def generations_section(db: Database, actor: Account) -> None:
    a, b, c = st.columns([2, 2, 2])
    user = a.text_input(t("User email contains"), key="ag_user")
    types = b.multiselect(t("Type"), features.keys(), key="ag_types", format_func=t)
    statuses = c.multiselect(t("Status"), GENERATION_STATUSES, format_func=t, key="ag_statuses")
    dates = _dates("ag")
    if dates is None:
        return
    d, e = st.columns([2, 1])
    sort = d.selectbox(t("Sort by"), admin_reports.GENERATION_SORTS, key="ag_sort", format_func=t)
    descending = e.toggle(t("Descending"), value=True, key="ag_desc")
    filters = admin_reports.GenerationFilter(
        user=user, types=tuple(types), statuses=tuple(statuses), since=dates[0], until=dates[1]
    )
    rows, total, offset = _paged(
        "generations",
        repr((filters, sort, descending)),
        lambda at: admin_reports.generations(db, actor, filters, sort, descending, at),
    )
    st.dataframe(
        t_columns(
            [
                {
                    "created (UTC)": f"{r.created_at:%Y-%m-%d %H:%M:%S}",
                    "user": r.user_email,
                    "type": t(r.type),
                    "status": t(r.status),  # the word every page uses ("done", not "completed")
                    "outputs": r.outputs,
                    "tokens": r.tokens,
                    "seconds": r.seconds,
                    "models": r.models,
                    "error": r.error_message or "",
                    "id": str(r.id),
                }
                for r in rows
            ]
        ),
        hide_index=True,
        width="stretch",
    )
    _pager("generations", offset, total)
    _csv_button(
        "Export CSV (all matching rows)",
        lambda: admin_reports.generations_csv(db, actor, filters, sort, descending),
        "viba-generations.csv",
        "ag_csv",
    )
    if rows:
        left, right = st.columns([4, 1], vertical_alignment="bottom")
        chosen = left.selectbox(
            t("Open a generation"),
            rows,
            key="ag_pick",
            format_func=lambda r: (
                f"{r.created_at:%Y-%m-%d %H:%M} · {r.user_email} · {t(r.type)} · {t(r.status)}"
            ),
        )
        if chosen is not None and right.button(
            t("Open"), icon=":material/open_in_full:", key="ag_open"
        ):
            history_view.open_item("gen", chosen.id)


def open_generation(ctx: PageContext, wanted: str) -> None:
    if st.button(t("Back to Admin"), icon=":material/arrow_back:", key="admin_back"):
        history_view.open_item("gen", None)
    try:
        view, owner = admin_reports.get_generation(ctx.db, ctx.account, uuid.UUID(wanted))
    except (ValueError, NotAllowed):
        st.error(t("No such generation."))
        return
    history_view.generation_detail(ctx, view, owner_email=owner)


# --- usage --------------------------------------------------------------------------------


def usage_section(db: Database, actor: Account) -> None:
    dates = _dates("ausage", default_days=30)
    if dates is None:
        return
    since, until = dates
    report = admin_reports.usage(db, actor, since, until)
    if not report.per_user:
        st.info(t("No generations in this period."))
        return
    st.caption(
        t(
            "Costs are estimates: each call's tokens at the catalog's prices "
            "(viba/engine/model_catalog.toml). Calls paid with a user's own key are counted apart."
        )
    )
    st.markdown(t("**Per user**"))
    st.dataframe(t_columns(report.per_user), hide_index=True, width="stretch")
    st.markdown(t("**Per model**"))
    st.dataframe(t_columns(report.per_model), hide_index=True, width="stretch")
    if report.per_day:
        st.markdown(t("**Estimated cost per day (USD)**"))
        st.bar_chart(report.per_day, x="day", y="cost_usd", color="model", height=280)
    _csv_button(
        "Export CSV (these tables)",
        lambda: admin_reports.usage_csv(db, actor, since, until),
        "viba-usage.csv",
        "ausage_csv",
    )


# --- storage ------------------------------------------------------------------------------

SPACE_ADVICE = (
    "Past the limit the database stops taking writes: move images to object storage "
    "(VIBA_STORAGE=s3://…, python -m viba.commands.move_images) or delete old generations."
)


def _mb(size: int) -> str:
    return f"{size / space.MB:,.1f}"


def _space_line(used: space.Space) -> str:
    return t("The database holds {used} MB of its {limit} MB ({share}%).").format(
        used=_mb(used.database_bytes), limit=_mb(used.limit_bytes), share=round(100 * used.share)
    )


def storage_section(db: Database, actor: Account, limit_mb: int) -> None:
    report = space.report(db, actor, limit_mb)
    st.progress(min(report.share, 1.0), text=_space_line(report))
    st.caption(
        t(
            "The limit is VIBA_DATABASE_LIMIT_MB (Supabase's free database: 500 MB). "
            "Images kept in the database: {count} ({size} MB)."
        ).format(count=f"{report.images:,}", size=_mb(report.image_bytes))
    )
    st.dataframe(
        t_columns(
            [
                {
                    "table": table.name,
                    "rows": table.rows,
                    "MB": None if table.bytes is None else round(table.bytes / space.MB, 2),
                }
                for table in report.tables
            ]
        ),
        hide_index=True,
        width="stretch",
    )


# --- limits -------------------------------------------------------------------------------


def limits_section(db: Database, actor: Account) -> None:
    team, rows = budget.overview(db, actor)
    st.caption(
        t(
            "Limits apply to generations on the team's Gemini key (a user's own key is not "
            "limited). Months and days are UTC; an empty field means no limit."
        )
    )
    with st.form("limits_team"):
        st.markdown(t("**Everyone (unless set below)**"))
        a, b = st.columns(2)
        monthly = a.number_input(
            t("Monthly budget (USD)"), min_value=0.0, value=team.monthly_budget_usd, step=1.0
        )
        daily = b.number_input(
            t("Generations per day"), min_value=0, value=team.daily_generations, step=1
        )
        if st.form_submit_button(t("Save for everyone")):
            _act(
                "Limits saved for everyone.",
                lambda: budget.set_team_limits(db, actor, monthly, _whole(daily)),
            )
    st.dataframe(
        t_columns([{k: v for k, v in r.items() if k != "id"} for r in rows]),
        hide_index=True,
        width="stretch",
    )
    if not rows:
        return
    chosen = st.selectbox(t("Account"), rows, key="al_pick", format_func=lambda r: r["email"])
    if chosen is None:
        return
    with st.form("limits_user"):
        st.markdown(t("**This account's own limits** (empty: the limits for everyone)"))
        a, b = st.columns(2)
        own_monthly = a.number_input(
            t("Monthly budget (USD)"),
            min_value=0.0,
            value=chosen["own budget (USD)"],
            step=1.0,
            key=f"al_budget_{chosen['id']}",
        )
        own_daily = b.number_input(
            t("Generations per day"),
            min_value=0,
            value=chosen["own daily limit"],
            step=1,
            key=f"al_daily_{chosen['id']}",
        )
        if st.form_submit_button(t("Save for this account")):
            uid = chosen["id"]
            _act(
                "Limits saved for this account.",
                lambda: budget.set_user_limits(db, actor, uid, own_monthly, _whole(own_daily)),
            )


def _whole(value: Any) -> int | None:
    return None if value is None else int(value)


# --- audit log ----------------------------------------------------------------------------


def audit_section(db: Database, actor: Account) -> None:
    a, b = st.columns(2)
    actions = a.multiselect(t("Actions"), audit.ACTIONS, key="aa_actions", format_func=t)
    email = b.text_input(t("By (email contains)"), key="aa_email")
    dates = _dates("aa")
    if dates is None:
        return
    filters = audit.AuditFilter(actions=tuple(actions), email=email, since=dates[0], until=dates[1])
    rows, total, offset = _paged(
        "audit", repr(filters), lambda at: admin_reports.audit_entries(db, actor, filters, at)
    )
    st.dataframe(
        t_columns([{**r.as_dict(), "action": t(r.action)} for r in rows]),
        hide_index=True,
        width="stretch",
    )
    _pager("audit", offset, total)
    _csv_button(
        "Export CSV (all matching rows)",
        lambda: admin_reports.audit_csv(db, actor, filters),
        "viba-audit-log.csv",
        "aa_csv",
    )
