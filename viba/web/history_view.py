"""The History page (and opening any generation on the Admin page): the filter bar, the paged
grid of thumbnails, and one generation's detail with its actions. The reading and the
authorization are viba.studio.history's (and viba.studio.admin_users's for admins)."""

from __future__ import annotations

import functools
import uuid
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, NoReturn

import streamlit as st

from viba.core.text import md_escape
from viba.store.image_store import StorageError, mime_for
from viba.store.models import GENERATION_STATUSES
from viba.studio import features, generations, history, metadata
from viba.studio.generations import UNFINISHED, GenerationView
from viba.web import (
    boards_view,
    context,
    job_cards,
    live,
    presets_view,
    region_view,
    shares_view,
    thumbnails,
    uploads,
)
from viba.web.boundary import fail
from viba.web.browser_session import flash, session
from viba.web.context import PageContext
from viba.web.language import t, t_columns

COLUMNS = 4
CONFIRM_KEY = "history_confirm_delete"
PAGES_KEY = "history_pages"


def history_page(ctx: PageContext) -> None:
    st.title(t("History"))
    if st.query_params.get("compare"):
        compare_view(ctx)
        keep_hidden_widgets()
    wanted = st.query_params.get("id")
    picked = session().compare or []
    if len(picked) == 1:
        st.caption(t("picked_one"))
    if len(picked) >= 2 and st.button(
        t("compare_n").format(n=len(picked)), icon=":material/compare:", key="compare_open"
    ):
        st.query_params["compare"] = "1"
        st.rerun()
    if not wanted:
        filters = filter_bar()
        if filters is not None:
            history_grid(ctx, filters)
        drop_zone(ctx)
        return
    if st.button(t("all_generations"), icon=":material/arrow_back:", key="history_back"):
        open_item("id", None)
    try:
        generation_id = uuid.UUID(wanted)
    except ValueError:
        fail(t("not_yours"))
    live_detail(ctx, generation_id)
    keep_hidden_widgets()


def refinement_links(ctx: PageContext, view: GenerationView) -> None:
    """Where this generation sits in a chain of refinements: what it refines, and the
    refinements made of it (each opens here)."""
    children = generations.children(ctx.db, ctx.account.id, view.id)
    if view.parent_id is None and not children:
        return
    st.subheader(t("refinements"))
    if view.parent_id is not None:
        words = (view.refinement or {}).get("instruction") or ""
        st.text(t("refined_from").format(words=words))
        if st.button(t("open_parent"), icon=":material/north_west:", key=f"parent_{view.id}"):
            open_item("id", view.parent_id)
    for child in children:
        words = (child.refinement or {}).get("instruction") or ""
        # A button label is markdown: the user's words are escaped.
        label = f"{child.created_at:%Y-%m-%d %H:%M} · {t(child.status)} · {md_escape(words[:60])}"
        if st.button(label, icon=":material/subdirectory_arrow_right:", key=f"child_{child.id}"):
            open_item("id", child.id)


def compare_view(ctx: PageContext) -> None:
    """The picked outputs side by side at screen size, each with its settings and download,
    and all of them in one zip."""
    st.subheader(t("compare_title"))
    back, clear, _ = st.columns([1, 1, 3])
    if back.button(t("all_generations"), icon=":material/arrow_back:", key="compare_back"):
        st.query_params.pop("compare", None)
        st.rerun()
    if clear.button(t("clear_picked"), icon=":material/close:", key="compare_clear"):
        session().compare = None
        st.query_params.pop("compare", None)
        st.rerun()
    picked = list(session().compare or [])
    found: dict[str, GenerationView] = {}
    for gid, _ in picked:
        view = found.get(gid) or generations.find(ctx.db, ctx.account.id, uuid.UUID(gid))
        if view is not None:  # only the user's own, still there
            found[gid] = view
    items = [
        (found[gid], key) for gid, key in picked if gid in found and key in found[gid].output_keys
    ]
    if not items:
        st.info(t("nothing_yet"))
        return
    for column, (view, key) in zip(st.columns(len(items)), items):
        with column:
            index = view.output_keys.index(key) + 1
            try:
                shown = thumbnails.screen_ref(ctx.store, key)
                width, height = thumbnails.pixel_size(ctx.store, key)
            except StorageError as exc:
                st.warning(md_escape(t(str(exc))))
                continue
            st.image(shown, width="stretch")
            model = (view.input_params.get("models") or {}).get(features.get(view.type).image_step)
            st.text(f"{t(view.type)} · {model} · {width}×{height}")
            st.text(job_cards.options_line(view))
            st.download_button(
                t("download"),
                data=functools.partial(history.output_download, ctx.store, view, key, index),
                file_name=history.file_name(view, key, index),
                mime=mime_for(key),
                key=f"cmp_dl_{view.id}_{index}",
                icon=":material/download:",
                on_click="ignore",
            )
            boards_view.add_to_board(ctx, view, st, only=key)
    st.download_button(
        t("download_picked"),
        data=functools.partial(history.picked_zip, ctx.store, items),
        file_name="viba-compare.zip",
        mime="application/zip",
        key="cmp_zip",
        icon=":material/folder_zip:",
        on_click="ignore",
    )


def drop_zone(ctx: PageContext) -> None:
    """A downloaded image dropped here opens its generation; one that is not (or no longer)
    in this History has its settings recalled into its feature's form."""
    with st.expander(t("open_from_image")), st.form("hv_drop", clear_on_submit=True):
        dropped = st.file_uploader(t("drop_image"), type=["png", "jpg", "jpeg"], key="hv_file")
        if not st.form_submit_button(t("open"), icon=":material/image_search:") or not dropped:
            return
        with uploads.opened(dropped) as content:
            meta = metadata.read(content.read())
    if meta is None:
        st.warning(t("no_settings_in_image"))
        return
    found = meta.get("generation_id")
    if found and generations.find(ctx.db, ctx.account.id, uuid.UUID(found)) is not None:
        open_item("id", uuid.UUID(found))
    recall(ctx, meta)


def recall(ctx: PageContext, meta: dict[str, Any]) -> None:
    """Put an image's settings into its feature's form (options the feature knows, checked
    like a submit's) and open that page."""
    try:
        feature = features.get(str(meta.get("feature")))
    except features.InputError:
        st.warning(t("no_settings_in_image"))
        return
    given = meta.get("options")
    if not isinstance(given, dict):
        given = {}
    known = {o.name for o in feature.options} | {"image_size", "aspect_ratio"}
    options = {k: v for k, v in given.items() if k in known and isinstance(v, str | int | None)}
    context.remember_feature_options(ctx.db, ctx.account, feature.key, options)
    session().flash = t("settings_recalled").format(feature=t(feature.key))
    st.switch_page(feature.page)


def keep_hidden_widgets() -> NoReturn:
    """End a run that showed one item instead of the list: a run ended by st.stop() keeps the
    state of the widgets it did not draw (the filters, the section picked), so Back finds
    them as they were; a run that ends normally forgets them."""
    st.stop()
    raise AssertionError("unreachable: st.stop() raises")


def day_range(since: date | None, until: date | None) -> tuple[datetime | None, datetime | None]:
    """Days picked in the UI (UTC) → [since 00:00, the day after `until` 00:00)."""
    start = datetime.combine(since, time.min, tzinfo=UTC) if since else None
    end = datetime.combine(until + timedelta(days=1), time.min, tzinfo=UTC) if until else None
    return start, end


FILTER_KEYS = (
    "hf_types",
    "hf_statuses",
    "hf_model",
    "hf_since",
    "hf_until",
    "hf_text",
    "hf_favorites",
)


def _clear_filters() -> None:
    for key in FILTER_KEYS:
        st.session_state.pop(key, None)


def filter_bar() -> history.HistoryFilter | None:
    """The filter widgets; None when the choice cannot be applied (the reason is shown)."""
    models = sorted(features.catalog().models)
    state = st.session_state
    active = any(state.get(k) for k in FILTER_KEYS)
    with st.expander(t("filters"), expanded=active, icon=":material/filter_list:"):
        a, b, c = st.columns(3)
        types = a.multiselect(t("feature"), features.keys(), format_func=t, key="hf_types")
        statuses = b.multiselect(t("status"), GENERATION_STATUSES, format_func=t, key="hf_statuses")
        model = c.selectbox(
            t("model"), ["", *models], key="hf_model", format_func=lambda m: m or t("any_model")
        )
        d, e, f = st.columns(3)
        since = d.date_input(t("from_day"), value=None, key="hf_since")
        until = e.date_input(t("to_day"), value=None, key="hf_until")
        text = f.text_input(t("search_text"), key="hf_text", max_chars=200)
        g, h = st.columns([3, 1])
        favorites = g.toggle(t("favorites_only"), key="hf_favorites")
        h.button(
            t("clear_filters"),
            on_click=_clear_filters,
            icon=":material/close:",
            disabled=not active,
        )
    if since and until and since > until:
        st.warning(t("bad_dates"))
        return None
    start, end = day_range(since, until)
    return history.HistoryFilter(
        types=tuple(types),
        statuses=tuple(statuses),
        model=model or "",
        since=start,
        until=end,
        text=text or "",
        favorites=bool(favorites),
    )


def _cursors(filters: history.HistoryFilter) -> list[str]:
    """Start cursors of the pages walked so far under these filters ('' is the first page);
    other filters start again at the first page."""
    saved = st.session_state.get(PAGES_KEY)
    if not saved or saved[0] != repr(filters):
        saved = (repr(filters), [""])
        st.session_state[PAGES_KEY] = saved
    return saved[1]


def history_grid(ctx: PageContext, filters: history.HistoryFilter) -> None:
    """One page of the user's generations as thumbnails, with Newer/Older."""
    cursors = _cursors(filters)
    try:
        after = history.Cursor.decode(cursors[-1]) if cursors[-1] else None
    except ValueError:
        cursors[:] = [""]
        after = None
    result = history.page(ctx.db, ctx.account.id, filters, after)
    if not result.items:
        st.info(
            t("no_results")
            if filters != history.HistoryFilter() or len(cursors) > 1
            else t("no_history")
        )
    if any(item.status in UNFINISHED for item in result.items):

        def draw() -> list[history.HistoryItem]:  # the page drawn anew while any runs
            fresh = history.page(ctx.db, ctx.account.id, filters, after).items
            _cards(ctx, fresh)
            return fresh

        live.part("history_list", draw)
    else:
        _cards(ctx, result.items)
    nav = st.columns([1, 1, 4])
    if nav[0].button(
        t("newer"), icon=":material/arrow_back:", disabled=len(cursors) <= 1, key="history_newer"
    ):
        cursors.pop()
        st.rerun()
    if nav[1].button(
        t("older"),
        icon=":material/arrow_forward:",
        disabled=result.next_cursor is None,
        key="history_older",
    ):
        cursors.append(result.next_cursor.encode())  # type: ignore[union-attr]
        st.rerun()
    nav[2].caption(t("page_n").format(n=len(cursors)))


def _cards(ctx: PageContext, items: list[history.HistoryItem]) -> None:
    # The page's thumbnails by address; any never shown before in one read (one query on the
    # database backend, not 24).
    thumbs = thumbnails.refs(ctx.store, [item.thumb_key for item in items if item.thumb_key])
    for start in range(0, len(items), COLUMNS):
        cols = st.columns(COLUMNS)
        for col, item in zip(cols, items[start : start + COLUMNS]):
            with col, st.container(border=True):
                _grid_item(ctx, item, thumbs)


def _grid_item(ctx: PageContext, item: history.HistoryItem, thumbs: dict[str, str | bytes]) -> None:
    if item.thumb_key:
        if item.thumb_key in thumbs:
            st.image(thumbs[item.thumb_key], width="stretch")
        else:
            st.caption(t("image_missing"))
    names = ", ".join(item.input_names)
    cost = f" · {t('cost').format(usd=f'{item.cost_usd:.3f}')}" if item.cost_usd is not None else ""
    st.markdown(
        f"**{t(item.type)}** · {t(item.status)}  \n{item.created_at:%Y-%m-%d %H:%M} UTC{cost}"
    )
    if names:
        st.caption(md_escape(names))
    left, right = st.columns([3, 1])
    if left.button(t("open"), icon=":material/open_in_full:", key=f"open_{item.id}"):
        open_item("id", item.id)
    # Icon only; a favourite's star is the filled (primary) button.
    tip = t("unfavorite") if item.favorite else t("favorite")
    if right.button(
        "",
        icon=":material/star:",
        key=f"fav_{item.id}",
        help=tip,
        type="primary" if item.favorite else "secondary",
    ):
        _set_favorite(ctx, item.id, not item.favorite)


def open_item(param: str, generation_id: uuid.UUID | None) -> None:
    """Show one item of this page (or, with None, the list again) by its query parameter.

    A same-page st.page_link with query_params does not update the browser's URL in
    Streamlit 1.67, so the next rerun would lose it; setting st.query_params from the script
    does update it (and reloads and bookmarks keep the item)."""
    if generation_id is None:
        st.query_params.pop(param, None)
    else:
        st.query_params[param] = str(generation_id)
    st.rerun()


def _set_favorite(ctx: PageContext, generation_id: uuid.UUID, value: bool) -> None:
    history.set_favorite(ctx.db, ctx.account.id, generation_id, value)
    st.rerun()


# --- one generation ---------------------------------------------------------------------


def _details_table(view: GenerationView) -> None:
    summary = history.summary(view)
    rows = [
        (label, _text(summary[key]))
        for key, label in (
            ("options", "Options"),
            ("models", "Models"),
            ("prompt versions", "Prompt versions"),
            ("inputs", "Inputs"),
            ("tokens", "Tokens (total)"),
            ("cost", "Cost (USD, estimated)"),
            ("seconds", "Seconds (total)"),
            ("description tokens", "Description tokens"),
            ("error", "Error"),
        )
        if summary[key] not in (None, {}, [], "")
    ]
    rows.insert(0, ("Id", str(view.id)))
    st.dataframe(
        {t("field"): [t(r[0]) for r in rows], t("value"): [r[1] for r in rows]},
        hide_index=True,
        width="stretch",
    )
    per_output = summary["per output"]
    if per_output:
        st.dataframe(
            t_columns(
                [
                    {
                        "#": meta.get("variant") or i + 1,
                        "model": meta.get("model"),
                        "tokens": meta.get("tokens"),
                        "seconds": meta.get("seconds"),
                    }
                    for i, meta in enumerate(per_output.values())
                ]
            ),
            hide_index=True,
            width="stretch",
        )
        thoughts = [
            (meta.get("variant") or i + 1, meta["thoughts"])
            for i, meta in enumerate(per_output.values())
            if meta.get("thoughts")
        ]
        if thoughts:
            with st.expander(t("model_thoughts")):
                for number, text in thoughts:
                    st.text(f"#{number}: {text}")  # the model's words: plain text only


def _text(value: Any) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k}: {v}" for k, v in value.items())
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)


def generation_detail(
    ctx: PageContext, view: GenerationView, owner_email: str | None = None
) -> None:
    """Inputs and outputs side by side, what it was made with, and (for its owner) download,
    run again, favourite and delete. owner_email: an admin viewing someone else's."""
    store = ctx.store
    mine = view.user_id == ctx.account.id
    st.markdown(f"**{t(view.type)}** · {t(view.status)} · {view.created_at:%Y-%m-%d %H:%M} UTC")
    if owner_email:
        st.text(f"{t('owner')}: {owner_email}")
    job_cards.job_status(view)
    if mine and not view.finished:
        job_cards.cancel_button(st, ctx, view)
    job_cards.model_swaps(view)
    job_cards.variant_failures(view)
    left, right = st.columns(2)
    with left:
        st.subheader(t("inputs"))
        job_cards.image_grid(store, view, view.input_keys, 2, "input-", preview=False)
    with right:
        st.subheader(t("outputs"))
        job_cards.image_grid(
            store, view, job_cards.outputs_in_place(view), 2, preview=False, ctx=ctx
        )
    refinement_links(ctx, view)
    description = view.details.get("description")
    if description:
        with st.expander(t("description"), expanded=True):
            st.text(description)
    prompt = view.input_params.get("prompt")
    if prompt:
        with st.expander(t("Prompt")):
            st.text(prompt)
    st.subheader(t("details"))
    _details_table(view)
    if not mine or not view.finished:
        return
    actions = st.columns([1.3, 1, 1, 1, 2])
    job_cards.zip_button(actions[0], t("download_set"), store, view, everything=True)
    job_cards.run_again_button(actions[1], ctx, view)
    job_cards.edit_button(actions[4], view)
    label = t("unfavorite") if view.favorite else t("favorite")
    if actions[2].button(
        label,
        icon=":material/star:",
        key=f"fav_{view.id}",
        type="primary" if view.favorite else "secondary",
    ):
        _set_favorite(ctx, view.id, not view.favorite)
    if actions[3].button(t("delete"), icon=":material/delete:", key=f"delete_{view.id}"):
        st.session_state[CONFIRM_KEY] = str(view.id)
        st.rerun()
    if view.output_keys:
        board, link, keep = st.columns(3)
        boards_view.add_to_board(ctx, view, board)
        shares_view.output_link(ctx, link, view.id, view.output_keys)
        presets_view.save_popover(ctx, view, keep)
        region_view.region_box(ctx, view, st)
    if st.session_state.get(CONFIRM_KEY) == str(view.id):
        _confirm_delete(ctx, view)


def _confirm_delete(ctx: PageContext, view: GenerationView) -> None:
    with st.container(border=True):
        st.warning(t("confirm_delete"), icon=":material/warning:")
        yes, no, _ = st.columns([1, 1, 4])
        if yes.button(t("yes_delete"), type="primary", key=f"yes_delete_{view.id}"):
            st.session_state.pop(CONFIRM_KEY, None)
            removed = history.delete_generation(ctx.db, ctx.store, ctx.account.id, view.id)
            flash(t("deleted").format(n=removed))
            st.query_params.pop("id", None)
            st.rerun()
        if no.button(t("cancel"), key=f"cancel_delete_{view.id}"):
            st.session_state.pop(CONFIRM_KEY, None)
            st.rerun()


def live_detail(ctx: PageContext, generation_id: uuid.UUID) -> None:
    """The user's own generation; redrawn whenever it changes while it runs."""

    def draw(view: GenerationView | None = None) -> list[GenerationView]:
        try:
            view = view or history.get_generation(ctx.db, ctx.account.id, generation_id)
        except history.NotFound:
            st.error(t("not_yours"))
            return []
        generation_detail(ctx, view)
        return [view]

    try:
        view = history.get_generation(ctx.db, ctx.account.id, generation_id)
    except history.NotFound:
        draw()  # shows the reason
        return
    if view.finished:
        draw(view)
    else:
        live.part(f"detail_{generation_id.hex}", draw)
