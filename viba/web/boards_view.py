"""The Boards page (your boards, one board's outputs, its members) and the "Add to board"
control under a job card. Who may do what is viba.studio.boards's; names and people's names
are data: shown as plain text or escaped, never read as markdown."""

from __future__ import annotations

import uuid

import streamlit as st

from viba.core.text import md_escape
from viba.store.models import BOARD_ROLES
from viba.studio import boards
from viba.studio.boards import BoardView
from viba.studio.generations import GenerationView
from viba.web import downloads, shares_view, thumbnails
from viba.web.boundary import action, fail
from viba.web.browser_session import flash
from viba.web.context import PageContext
from viba.web.language import t
from viba.web.popovers import lazy_popover
from viba.web.sidebar import BOARDS_PAGE

COLUMNS = 4


# --- from a job card -------------------------------------------------------------------------


@action
def _add(ctx: PageContext, view: GenerationView, prefix: str, only: str | None) -> None:
    board_id = st.session_state.get(f"{prefix}_pick")
    if board_id is None:
        return
    which = st.session_state.get(f"{prefix}_which") or 0
    keys = [only] if only else None if not which else [view.output_keys[which - 1]]
    count = boards.add(ctx.db, ctx.account, board_id, view.id, keys)
    name = boards.get(ctx.db, ctx.account, board_id).name
    flash(t("added_to_board" if count else "already_on_board").format(name=name))


def add_to_board(
    ctx: PageContext, view: GenerationView, container, only: str | None = None
) -> None:
    """A popover: which board (of those this user adds to), which output (unless `only`
    one is meant), Add."""
    prefix = f"board_{view.id}" + (f"_{view.output_keys.index(only)}" if only else "")
    with lazy_popover(
        container, t("add_to_board"), ":material/dashboard:", f"{prefix}_pop"
    ) as shown:
        if not shown:
            return
        mine = ctx.boards_to_add_to
        if not mine:
            st.caption(t("no_boards_yet"))
            st.page_link(BOARDS_PAGE, label=t("Boards"), icon=":material/dashboard:")
            return
        names = {str(b.id): b.name for b in mine}
        st.selectbox(t("board"), list(names), key=f"{prefix}_pick", format_func=names.__getitem__)
        if only is None and len(view.output_keys) > 1:
            st.selectbox(
                t("which_outputs"),
                range(len(view.output_keys) + 1),
                key=f"{prefix}_which",
                format_func=lambda i: t("all_outputs") if not i else t("output_n").format(n=i),
            )
        st.button(
            t("add"),
            key=f"{prefix}_add",
            icon=":material/add:",
            on_click=_add,
            args=(ctx, view, prefix, only),
        )


# --- the Boards page -------------------------------------------------------------------------


def boards_page(ctx: PageContext) -> None:
    st.title(t("Boards"))
    wanted = st.query_params.get("board")
    if wanted:
        if st.button(t("all_boards"), icon=":material/arrow_back:", key="boards_back"):
            open_board(None)
        try:
            board = boards.get(ctx.db, ctx.account, wanted)
        except boards.BoardError as exc:
            fail(str(exc))
        board_view(ctx, board)
        return
    board_list(ctx)


def open_board(board_id: uuid.UUID | None) -> None:
    if board_id is None:
        st.query_params.pop("board", None)
    else:
        st.query_params["board"] = str(board_id)
    st.rerun()


@action
def _create(ctx: PageContext) -> None:
    name = st.session_state.get("board_new_name", "")
    board_id = boards.create(ctx.db, ctx.account, name)
    st.session_state["board_new_name"] = ""
    st.query_params["board"] = str(board_id)


def board_list(ctx: PageContext) -> None:
    with st.form("board_new", clear_on_submit=False, border=True):
        st.text_input(t("new_board"), key="board_new_name", max_chars=boards.MAX_NAME)
        st.form_submit_button(
            t("create_board"), icon=":material/add:", on_click=_create, args=(ctx,)
        )
    everyone = ctx.account.is_admin and st.toggle(t("everyones_boards"), key="boards_everyone")
    found = boards.visible(ctx.db, ctx.account, everyone=everyone)
    if not found:
        st.caption(t("no_boards_yet"))
    for board in found:
        with st.container(border=True):
            name, go = st.columns([4, 1])
            name.text(board.name)  # plain text: a name is data
            name.caption(md_escape(_summary(board)))
            if go.button(t("open"), key=f"board_open_{board.id}", icon=":material/arrow_forward:"):
                open_board(board.id)
    shares_view.links_section(ctx)


def _summary(board: BoardView) -> str:
    role = t(f"board_role_{board.role}")
    owner = (
        "" if board.role == boards.OWNER else f" · {t('owner_is').format(name=board.owner_name)}"
    )
    return f"{role}{owner} · {t('n_images').format(n=board.items)}"


@action
def _remove(ctx: PageContext, board_id: uuid.UUID, item_id: int) -> None:
    boards.remove(ctx.db, ctx.account, board_id, item_id)
    flash(t("removed_from_board"))


@action
def _share(ctx: PageContext, board_id: uuid.UUID) -> None:
    email = st.session_state.get(f"board_share_email_{board_id}", "")
    role = st.session_state.get(f"board_share_role_{board_id}", "viewer")
    member = boards.share(ctx.db, ctx.account, board_id, email, role)
    flash(t("shared_with").format(name=member.full_name))


@action
def _unshare(ctx: PageContext, board_id: uuid.UUID, user_id: uuid.UUID) -> None:
    boards.unshare(ctx.db, ctx.account, board_id, user_id)
    if user_id == ctx.account.id:
        st.query_params.pop("board", None)
    flash(t("member_removed"))


@action
def _rename(ctx: PageContext, board_id: uuid.UUID) -> None:
    boards.rename(ctx.db, ctx.account, board_id, st.session_state.get(f"board_name_{board_id}", ""))
    flash(t("board_renamed"))


@action
def _delete(ctx: PageContext, board_id: uuid.UUID) -> None:
    boards.delete_board(ctx.db, ctx.account, board_id)
    st.query_params.pop("board", None)
    flash(t("board_deleted"))


def board_view(ctx: PageContext, board: BoardView) -> None:
    st.subheader(md_escape(board.name))
    st.caption(md_escape(_summary(board)))
    found = boards.items(ctx.db, ctx.account, board.id)
    if board.role == boards.OWNER:
        shares_view.board_link(ctx, st.container(), board.id)
    if found:
        downloads.zip_button(
            st,
            t("download_zip"),
            downloads.board_zip_here(board.id),
            lambda: boards.board_zip(ctx.db, ctx.store, ctx.account, board.id),
            boards.zip_name(board.id),
            key=f"board_zip_{board.id}",
        )
    else:
        st.caption(t("board_empty"))
    shown = thumbnails.refs(ctx.store, [i.output_key for i in found])
    cols = st.columns(COLUMNS)
    for n, item in enumerate(found):
        with cols[n % COLUMNS]:
            image = shown.get(item.output_key)
            if image is None:
                st.warning(t("image_missing"))
            else:
                st.image(image, width="stretch")
            by = item.added_by or t("someone")
            st.caption(
                md_escape(
                    f"{t(item.generation.type)} · {t('added_by').format(name=by)} · "
                    f"{item.added_at:%Y-%m-%d %H:%M} UTC"
                )
            )
            if board.can_edit:
                st.button(
                    t("remove"),
                    key=f"board_rm_{item.id}",
                    icon=":material/remove_circle:",
                    on_click=_remove,
                    args=(ctx, board.id, item.id),
                )
    members_section(ctx, board)


def members_section(ctx: PageContext, board: BoardView) -> None:
    st.subheader(t("board_members"))
    people = boards.members(ctx.db, ctx.account, board.id)
    if not people:
        st.caption(t("board_private"))
    for person in people:
        line, out = st.columns([4, 1])
        line.text(f"{person.full_name} · {person.email} · {t(f'board_role_{person.role}')}")
        if board.role == boards.OWNER or person.user_id == ctx.account.id:
            out.button(
                t("leave_board") if person.user_id == ctx.account.id else t("remove"),
                key=f"board_member_rm_{board.id}_{person.user_id}",
                on_click=_unshare,
                args=(ctx, board.id, person.user_id),
            )
    if board.role == boards.ADMIN:
        delete_button(ctx, board)
    if board.role != boards.OWNER:
        return
    with st.form(f"board_share_{board.id}", border=True):
        st.text_input(t("share_with_email"), key=f"board_share_email_{board.id}")
        st.selectbox(
            t("board_role"),
            BOARD_ROLES,
            key=f"board_share_role_{board.id}",
            format_func=lambda r: t(f"board_role_{r}"),
        )
        st.form_submit_button(
            t("share"), icon=":material/share:", on_click=_share, args=(ctx, board.id)
        )
    with st.expander(t("board_settings")):
        st.text_input(
            t("board_name"),
            value=board.name,
            key=f"board_name_{board.id}",
            max_chars=boards.MAX_NAME,
        )
        st.button(
            t("rename"), key=f"board_rename_{board.id}", on_click=_rename, args=(ctx, board.id)
        )
        delete_button(ctx, board)


def delete_button(ctx: PageContext, board: BoardView) -> None:
    sure = st.checkbox(t("board_delete_sure"), key=f"board_delete_sure_{board.id}")
    st.button(
        t("delete_board"),
        key=f"board_delete_{board.id}",
        icon=":material/delete:",
        disabled=not sure,
        on_click=_delete,
        args=(ctx, board.id),
    )
