"""Job cards: a generation's status, outputs, downloads and the actions under each output
(refine, use as input, compare, edit and run again, cancel); a running one is redrawn when it
changes."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable, Sequence
from typing import Any

import streamlit as st

from viba.core.errors import UserError
from viba.core.text import md_escape
from viba.store.image_store import ImageStore, StorageError, mime_for
from viba.studio import (
    features,
    generations,
    history,
    output,
    prefill,
    prompt_store,
    refine,
)
from viba.studio.features import Feature
from viba.studio.generations import GenerationView
from viba.web import boards_view, downloads, live, sidebar, thumbnails
from viba.web.boundary import action, still_logged_in
from viba.web.browser_session import session
from viba.web.context import PageContext
from viba.web.language import current_language, t
from viba.web.popovers import lazy_popover


@action
def run_again(ctx: PageContext, job_id: uuid.UUID) -> None:
    in_use = prompt_store.prompts_in_use(prompt_store.active_prompts(ctx.db))
    ctx.runner.run_again(
        job_id, ctx.account.id, in_use, ctx.gemini_config(), models=ctx.model_choices()
    )
    session().flash = t("queued_again")
    st.rerun()  # the whole page, with the new job (the button may be in a job's own part)


def job_status(view: GenerationView) -> None:
    """A failed job's error, or an unfinished job's progress."""
    if view.status == "failed":
        st.error(md_escape(t(view.error_message or "failed")), icon=":material/error:")
    elif not view.finished:
        expected = view.expected_outputs
        done = len(view.output_keys)
        st.progress(done / expected, text=t("progress").format(done=done, total=expected))


def model_swaps(view: GenerationView) -> None:
    """A step whose model could not be called, and the one used instead (viba.jobs.runner)."""
    for swap in view.details.get("model_fallbacks") or []:
        if not isinstance(swap, dict):
            continue
        used = str(swap.get("used"))
        line = t("model_swapped").format(
            asked=swap.get("asked"), used=used, reason=t(str(swap.get("reason")))
        )
        made = swap.get("options")
        if isinstance(made, dict):
            line += " " + t("model_swapped_at").format(
                used=used, size=made.get("image_size"), ratio=made.get("aspect_ratio")
            )
        st.info(md_escape(line), icon=":material/swap_horiz:")


def variant_failures(view: GenerationView) -> None:
    for failure in view.details.get("failures") or []:
        st.warning(
            t("variant_failed").format(
                n=failure["variant"], error=md_escape(t(str(failure["error"])))
            )
        )


def outputs_in_place(view: GenerationView) -> list[str | None]:
    return generations.output_slots(view, view.expected_outputs)


def image_grid(
    store: ImageStore,
    view: GenerationView,
    keys: Sequence[str | None],
    columns: int,
    role: str = "",
    preview: bool = True,
    ctx: PageContext | None = None,
) -> None:
    """Stored images of a generation, each with its download button (role: a file name and
    widget key prefix, e.g. "input-"). preview: show the stored thumbnails (all in one read)
    in `columns` columns, whatever their number (a single result is not stretched across the
    page), and load a full-size image only when its download or full-size view is clicked;
    else show each at screen size. A None key is a variant's place while it is on its way
    (or where it failed)."""
    if not any(keys):
        return
    shown = thumbnails.refs(store, [k for k in keys if k]) if preview else {}
    cols = st.columns(columns if preview else min(columns, len(keys)))
    for i, key in enumerate(keys):
        with cols[i % len(cols)]:
            if key is None:
                st.caption(
                    t("variant_waiting" if not view.finished else "variant_missing").format(n=i + 1)
                )
                continue
            try:
                image: str | bytes | None = (
                    shown.get(key) if preview else thumbnails.screen_ref(store, key)
                )
                if image is None:
                    raise StorageError(t("image_missing"))
            except StorageError as exc:
                st.warning(md_escape(t(str(exc))))
                continue
            st.image(image, width="stretch")
            download, full = st.columns(2) if preview else (st.container(), None)
            download.download_button(
                t("download"),
                # the image as made (its settings inside for an output), when clicked
                data=(
                    functools.partial(history.output_download, store, view, key, i + 1)
                    if not role
                    else functools.partial(store.load, key)
                ),
                file_name=history.file_name(view, key, i + 1, role),
                mime=mime_for(key),
                key=f"dl_{role}{view.id}_{i}",
                icon=":material/download:",
                on_click="ignore",
            )
            if full is not None and full.button(
                t("full_size"), key=f"full_{role}{view.id}_{i}", icon=":material/open_in_full:"
            ):
                _full_size(store, key)
            if not role and view.finished:
                if ctx is not None and view.user_id == ctx.account.id:
                    refine_box(ctx, view, key, i)
                use_as_input(view, key, i)
                compare_toggle(view, key)


def _full_size(store: ImageStore, key: str) -> None:
    """The image as large as the screen shows it, in a dialog over the page (read only now);
    its download is the image as made."""

    def body() -> None:
        try:
            shown = thumbnails.screen_ref(store, key)
            width, height = thumbnails.pixel_size(store, key)
        except StorageError as exc:
            st.warning(md_escape(t(str(exc))))
            return
        st.image(shown, width="stretch")
        st.caption(t("full_size_note").format(width=width, height=height))

    st.dialog(t("full_size"), width="large")(body)()


def inputs_strip(store: ImageStore, view: GenerationView) -> None:
    """A job's input images as small thumbnails, with their file names."""
    refs = thumbnails.refs(store, list(view.input_keys)) if view.input_keys else {}
    shown = [refs[k] for k in view.input_keys if k in refs]
    if shown:
        st.image(shown, width=72)
    names = ", ".join(view.input_params.get("input_names") or [])
    if names:
        st.text(names)


def options_line(view: GenerationView) -> str:
    """What a job was asked for, in one line: size, ratio, the feature's own options, and
    what it cost (an estimate while it runs)."""
    options = view.input_params.get("options") or {}
    parts = [str(options[k]) for k in (output.SIZE_OPTION, output.RATIO_OPTION) if options.get(k)]
    for option in features.get(view.type).options:
        value = options.get(option.name)
        if value is not None:
            parts.append(f"{t(option.label_key)} {value}")
    cost = cost_text(view)
    if cost:
        parts.append(cost)
    return " · ".join(parts)


def cost_text(view: GenerationView) -> str:
    """≈ $0.275 once it ran (its calls' estimated cost), ~$0.29 expected while it runs."""
    cost = view.details.get("cost_usd")
    if isinstance(cost, int | float) and not isinstance(cost, bool):
        return t("cost").format(usd=f"{cost:.3f}")
    expected = view.input_params.get("estimate_usd")
    if not view.finished and isinstance(expected, int | float) and expected > 0:
        return t("cost_expected").format(usd=f"{expected:.2f}")
    return ""


def zip_button(
    container: Any, label: str, store: ImageStore, view: GenerationView, everything: bool
) -> None:
    """Download a generation's outputs (everything: and its inputs, description and settings)
    as one zip: a link to the route that streams it (viba.web.downloads), or where the page
    has none, Streamlit's button that makes it whole when clicked."""
    make = history.generation_zip if everything else history.outputs_zip
    downloads.zip_button(
        container,
        label,
        downloads.generation_zip_here(view.id, everything),
        functools.partial(make, store, view),
        history.zip_name(view),
        key=f"zip_{view.id}",
    )


@action
def cancel_job(ctx: PageContext, job_id: uuid.UUID) -> None:
    ended = ctx.runner.cancel(ctx.account.id, job_id)
    session().flash = t("cancelled_note" if ended else "already_ended")


def cancel_button(container: Any, ctx: PageContext, view: GenerationView) -> None:
    container.button(
        t("cancel_job"),
        key=f"cancel_{view.id}",
        icon=":material/cancel:",
        on_click=cancel_job,
        args=(ctx, view.id),
    )


def edit_button(container: Any, view: GenerationView) -> None:
    """Reopen this generation's form with its inputs, options and models filled in."""
    if container.button(t("edit_run_again"), key=f"edit_{view.id}", icon=":material/edit:"):
        session().prefill = prefill.from_generation(view)
        st.switch_page(features.get(view.type).page)


COMPARE_MAX = 4


def compare_toggle(view: GenerationView, key: str) -> None:
    """Pick this output for History's side-by-side comparison (up to COMPARE_MAX)."""
    picked = list(session().compare or [])
    on = (str(view.id), key) in picked
    # Keyed by its state too: the tick shows the session's picks (changed from any page),
    # and a widget whose own state disagreed with them would win in the browser.
    widget = f"cmp_{view.id}_{key[-12:]}_{int(on)}"
    st.checkbox(
        t("compare"),
        value=on,
        key=widget,
        disabled=not on and len(picked) >= COMPARE_MAX,
        on_change=_set_compare,
        args=(str(view.id), key, widget),
    )


def _set_compare(generation_id: str, key: str, widget: str) -> None:
    """The pick as the tick now says (not a toggle: a tick and the picks that disagreed, a
    click that landed during a rerun, would otherwise flip the wrong way)."""
    box = session()
    picked = list(box.compare or [])
    pair = (generation_id, key)
    wanted = bool(st.session_state.get(widget))
    if wanted and pair not in picked and len(picked) < COMPARE_MAX:
        picked.append(pair)
    elif not wanted and pair in picked:
        picked.remove(pair)
    box.compare = picked


def refine_box(ctx: PageContext, view: GenerationView, key: str, index: int) -> None:
    """A few words about this output ("a darker background") make a new generation from it,
    the model keeping the conversation so far (viba.studio.refine)."""
    with lazy_popover(st, t("refine"), ":material/tune:", f"refine_pop_{view.id}_{index}") as shown:
        if not shown:
            return
        with st.form(f"refine_{view.id}_{index}", clear_on_submit=True, border=False):
            words = st.text_area(
                t("refine_what"),
                max_chars=refine.MAX_INSTRUCTION,
                placeholder=t("refine_example"),
                key=f"refine_text_{view.id}_{index}",
            )
            if not st.form_submit_button(t("refine"), type="primary"):
                return
        if not still_logged_in(ctx.db):  # the card may be a part that ran alone
            st.rerun()
        try:
            ctx.runner.refine(ctx.account.id, view.id, key, words, ctx.gemini_config())
        except UserError as exc:
            st.error(md_escape(t(str(exc))), icon=":material/error:")
            return
        session().flash = t("queued")
        st.rerun()


@functools.lru_cache(maxsize=8)
def _labels(lang: str, targets: tuple[tuple[str, str], ...]) -> dict[tuple[str, str], str]:
    """Every (feature, slot) an output can go into, with its label in lang (the same for
    every output of every card: worked out once, not once per output and page run)."""
    return {
        (f, role): f"{t(f, lang)} · {t(features.get(f).slot(role).label_key, lang)}"
        for f, role in targets
    }


def use_as_input(view: GenerationView, key: str, index: int) -> None:
    """One output into a slot of any feature's form, that page opened."""
    popover_key = f"use_pop_{view.id}_{index}"
    with lazy_popover(st, t("use_as_input"), ":material/input:", popover_key) as shown:
        if not shown:
            return
        labels = _labels(current_language(), tuple(prefill.targets()))
        target = st.selectbox(
            t("use_in"),
            list(labels),
            key=f"use_in_{view.id}_{index}",
            format_func=labels.__getitem__,
        )
        if st.button(t("open"), key=f"use_go_{view.id}_{index}", icon=":material/arrow_forward:"):
            session().prefill = prefill.from_output(view, key, target)
            st.switch_page(features.get(target[0]).page)


def run_again_button(container: Any, ctx: PageContext, view: GenerationView) -> None:
    container.button(
        t("run_again"),
        key=f"again_{view.id}",
        icon=":material/replay:",
        on_click=run_again,
        args=(ctx, view.id),
    )


def job_card(ctx: PageContext, view: GenerationView) -> None:
    """One generation: status, description, outputs with downloads, run again, history link."""
    store = ctx.store
    with st.container(border=True):
        head, link = st.columns([4, 1])
        head.markdown(
            f"**{t(view.type)}** · {t(view.status)} · {view.created_at:%Y-%m-%d %H:%M} UTC"
        )
        with head:
            inputs_strip(store, view)
            asked = options_line(view)
            if asked:
                st.text(asked)  # plain text: nothing in it is read as markdown
        link.page_link(
            sidebar.HISTORY_PAGE,
            label=t("open_in_history"),
            icon=":material/history:",
            query_params={"id": str(view.id)},
        )
        job_status(view)
        if not view.finished:
            cancel_button(st, ctx, view)
        description = view.details.get("description")
        if description:
            with st.expander(t("description")):
                st.text(description)
        model_swaps(view)
        variant_failures(view)
        image_grid(
            store,
            view,
            outputs_in_place(view),
            min(4, max(3, view.expected_outputs)),
            ctx=ctx,
        )
        if view.finished:
            actions = st.columns([1, 1, 1.3, 2])
            if len(view.output_keys) > 1:
                zip_button(actions[0], t("download_zip"), store, view, everything=False)
            run_again_button(actions[1], ctx, view)
            edit_button(actions[2], view)
            if view.output_keys and view.user_id == ctx.account.id:
                boards_view.add_to_board(ctx, view, actions[3])


def recent_views(ctx: PageContext, feature: Feature, limit: int = 6) -> list[GenerationView]:
    """What recent_jobs draws: enough of the user's latest jobs of a feature for `limit`
    cards (a card may hold the jobs of one input made by up to MAX_GROUP models)."""
    return generations.recent(ctx.db, ctx.account.id, feature.key, limit * MAX_GROUP)


def recent_jobs(ctx: PageContext, views: Sequence[GenerationView], limit: int = 6) -> None:
    """Jobs of a feature as cards, newest first, `limit` at most (the jobs of one input
    across several models count as one, drawn side by side). A finished card is drawn once;
    each unfinished one redraws itself alone when its job changes, and draws itself finished
    (viba.web.live), so a page with running jobs costs what they cost, not what the whole
    list costs."""
    groups: dict[str, list[GenerationView]] = {}
    for view in views:
        group = view.input_params.get("compare_group")
        if isinstance(group, str):
            groups.setdefault(group, []).append(view)
    drawn: set[str] = set()
    shown = 0
    for view in views:
        if shown >= limit:
            break
        group = view.input_params.get("compare_group")
        if isinstance(group, str):
            if group not in drawn:
                drawn.add(group)
                compare_grid(ctx, groups[group])
                shown += 1
            continue
        shown += 1
        if view.finished:
            job_card(ctx, view)
        else:
            live_job_card(ctx, view.id)


MAX_GROUP = 4  # image models one input is made with at most


def compare_grid(ctx: PageContext, views: Sequence[GenerationView]) -> None:
    """One input made by several image models: a column per model with its time, cost and
    outputs (each with refine, use as input and compare: go on from the winner)."""
    ordered = sorted(views, key=lambda v: v.created_at)
    with st.container(border=True):
        first = ordered[0]
        st.markdown(
            f"**{t(first.type)}** · {md_escape(t('same_input_n').format(n=len(ordered)))} · "
            f"{first.created_at:%Y-%m-%d %H:%M} UTC"
        )
        inputs_strip(ctx.store, first)
        for column, view in zip(st.columns(len(ordered)), ordered):
            with column:
                if view.finished:
                    compare_cell(ctx, view)
                else:
                    live_compare_cell(ctx, view.id)


def compare_cell(ctx: PageContext, view: GenerationView) -> None:
    step = features.get(view.type).image_step
    model = (view.input_params.get("models") or {}).get(step, "")
    info = features.catalog().get(model)
    st.markdown(f"**{md_escape(info.label_in(current_language()) if info else model)}**")
    parts = [t(view.status)]
    seconds = view.details.get("seconds")
    if isinstance(seconds, int | float) and not isinstance(seconds, bool):
        parts.append(t("took_seconds").format(s=f"{seconds:.1f}"))
    cost = cost_text(view)
    if cost:
        parts.append(cost)
    st.caption(md_escape(" · ".join(parts)))
    job_status(view)
    if not view.finished:
        cancel_button(st, ctx, view)
    model_swaps(view)
    image_grid(ctx.store, view, outputs_in_place(view), 2, ctx=ctx)
    st.page_link(
        sidebar.HISTORY_PAGE,
        label=t("open_in_history"),
        icon=":material/history:",
        query_params={"id": str(view.id)},
    )


def _found(ctx: PageContext, job_id: uuid.UUID, card: Callable[..., None]) -> list[GenerationView]:
    """Draw the job with `card`: what was drawn (nothing for a job deleted meanwhile)."""
    view = generations.find(ctx.db, ctx.account.id, job_id)
    if view is None:
        return []
    card(ctx, view)
    return [view]


def live_compare_cell(ctx: PageContext, job_id: uuid.UUID) -> None:
    live.part(f"cell_{job_id.hex}", lambda: _found(ctx, job_id, compare_cell), ends_here=True)


def live_job_card(ctx: PageContext, job_id: uuid.UUID) -> None:
    """An unfinished job's card, redrawn on its own whenever it changes, finished too."""
    live.part(f"card_{job_id.hex}", lambda: _found(ctx, job_id, job_card), ends_here=True)
