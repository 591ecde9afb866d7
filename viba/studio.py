"""The studio pages: one form per feature, drawn from its registry entry (viba.features), and
the job cards of the user's latest generations, which poll their row while it runs."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import streamlit as st

from viba import (
    budget,
    features,
    generations,
    history,
    output,
    prefill,
    prompt_store,
    refine,
    sidebar,
    ui,
)
from viba.catalog import load_catalog
from viba.errors import UserError
from viba.features import ChoiceOption, Feature, IntOption, Slot
from viba.gemini import GeminiConfig, MissingApiKey
from viba.generations import GenerationView
from viba.i18n import t
from viba.images import ImageInputError, PreparedImage
from viba.prefill import Prefill
from viba.storage import ImageStore, StorageError, mime_for
from viba.text import md_escape
from viba.ui import PageContext
from viba.websession import session

UPLOAD_TYPES = ["png", "jpg", "jpeg", "webp", "heic", "heif"]
# A running job's card redraws itself this often (one small query, one card): a variant shows
# within this of being stored. History's list polls at HISTORY_POLL_SECONDS (a whole page).
POLL_SECONDS = 0.25
HISTORY_POLL_SECONDS = 0.5
# Thumbnails of the picked photos before Generate, drawn by the browser (see the file).
_PREVIEWS_JS = Path(__file__).with_name("upload_previews.js").read_text(encoding="utf-8")


def feature_page(ctx: PageContext, key: str) -> None:
    """A feature's whole page: title, form, and the user's latest jobs of it."""
    feature = features.get(key)
    st.title(t(feature.key))
    st.caption(t(feature.intro_key))
    config = gemini_config_or_help(ctx)
    feature_form(ctx, feature, config)
    limits_line(ctx, config)
    st.subheader(t("recent"))
    recent_jobs(ctx, feature)


def gemini_config_or_help(ctx: PageContext) -> GeminiConfig | None:
    """The engine config, or None after explaining how to add a key."""
    try:
        return ctx.gemini_config()
    except MissingApiKey:
        st.warning(t("no_key"), icon=":material/key:")
        st.page_link(sidebar.PROFILE_PAGE, label=t("add_key"), icon=":material/key:")
        return None


def prepare(files: Sequence[Any], ctx: PageContext) -> tuple[list[PreparedImage], list[str]]:
    """Uploaded files → checked images, and one message per file that cannot be used (shown
    on the page, and returned)."""
    from viba.images import prepare_image

    good, errors = [], []
    for f in files:
        try:
            good.append(
                prepare_image(  # the upload is read in place: no copy of its bytes
                    f, f.name, ctx.settings.max_image_side, ctx.settings.max_input_pixels
                )
            )
        except ImageInputError as exc:
            errors.append(str(exc))
            st.error(md_escape(t(str(exc))), icon=":material/broken_image:")
    return good, errors


def submit(
    ctx: PageContext,
    feature: Feature,
    images: list[PreparedImage],
    options: dict[str, Any],
    config: GeminiConfig,
    models: dict[str, str] | None = None,
) -> uuid.UUID:
    """Queue one job with the user's models (or, for a form filled in from a generation, the
    models it used, each still checked against the catalog)."""
    in_use = prompt_store.prompts_in_use(prompt_store.active_prompts(ctx.db))
    chosen = ctx.model_choices()
    if models:
        catalog = load_catalog()
        chosen |= {
            step: catalog.resolve(step, models[step]).model
            for step in feature.step_ids
            if step in models
        }
    return ctx.runner.submit(ctx.account.id, feature.key, images, options, chosen, in_use, config)


@ui.action
def run_again(ctx: PageContext, job_id: uuid.UUID) -> None:
    in_use = prompt_store.prompts_in_use(prompt_store.active_prompts(ctx.db))
    ctx.runner.run_again(
        job_id, ctx.account.id, in_use, ctx.gemini_config(), models=ctx.model_choices()
    )
    session().flash = t("queued_again")


# --- the form ------------------------------------------------------------------------------


def _avatar_choices(ctx: PageContext) -> list[GenerationView]:
    return [
        v
        for v in generations.recent(ctx.db, ctx.account.id, "avatar", limit=12)
        if v.status == "completed" and v.output_keys
    ]


AVATAR_MODE = "avatar"


def _avatar_picker(ctx: PageContext, feature: Feature, slot: Slot) -> GenerationView | None:
    """For a slot that may take one of the user's avatars: the choice between an upload and
    an avatar. Returns the avatar picked; AVATAR_MODE is in session state while the user
    chose an avatar (the slot then has no uploader)."""
    source = st.radio(
        t("person_source"),
        ["upload", AVATAR_MODE],
        horizontal=True,
        format_func=lambda v: t("upload") if v == "upload" else t("an_avatar"),
        key=_source_key(feature, slot),
    )
    picker = st.container()  # always there, so the form below never shifts (and remounts)
    if source != AVATAR_MODE:
        return None
    options = _avatar_choices(ctx)
    if not options:
        picker.info(t("no_avatars"))
        return None
    chosen = picker.selectbox(
        t("pick_avatar"),
        options,
        key=f"{feature.key}_avatar",
        format_func=lambda v: f"{v.created_at:%Y-%m-%d %H:%M} · " + ", ".join(v.input_names),
    )
    if chosen is not None:
        key = chosen.output_keys[0]
        shown = ctx.store.thumbnail_refs([key]).get(key)
        if shown is not None:
            picker.image(shown, width=160)
    return chosen


def _source_key(feature: Feature, slot: Slot) -> str:
    return f"{feature.key}_{slot.role}_source"


def _from_avatar(feature: Feature, slot: Slot) -> bool:
    return slot.avatars and st.session_state.get(_source_key(feature, slot)) == AVATAR_MODE


def _option_widget(option: IntOption | ChoiceOption, container: Any, last: dict[str, Any]) -> Any:
    """An option's widget, opening at the user's last value of it (else the default). No key:
    after a submit clears the form, it reopens at what was just submitted."""
    value: Any = option.default
    try:
        value = option.check(last.get(option.name, option.default))
    except features.InputError:  # a stored value the option no longer takes
        pass
    if isinstance(option, IntOption):
        return container.slider(
            t(option.label_key),
            option.low,
            option.high,
            value,
            help=t(option.help_key) if option.help_key else None,
        )
    none_label = t(option.none_key)
    choices = [None, *option.choices]
    return container.selectbox(
        t(option.label_key),
        choices,
        index=choices.index(value),
        format_func=lambda v: none_label if v is None else t(v),
    )


def _output_widgets(
    ctx: PageContext, feature: Feature, columns: Sequence[Any], last: dict[str, Any]
) -> dict[str, str]:
    """Size and aspect ratio, limited to what the user's image model for this feature makes,
    opening at the user's last choice where the model makes it (else the feature's default)."""
    model = load_catalog().get(ctx.model_choices()[feature.image_step])
    default = output.defaults(feature, model)
    sizes = list(output.sizes_for(model))
    ratios = [output.AUTO] * bool(feature.ratio_from) + list(output.ratios_for(model))

    def start(values: list[str], name: str) -> int:
        value = last.get(name)
        return values.index(value if value in values else default[name])

    follows = t("ratio_auto").format(role=t(f"ratio_role_{feature.ratio_from}"))
    return {
        output.SIZE_OPTION: columns[0].selectbox(
            t("image_size"),
            sizes,
            index=start(sizes, output.SIZE_OPTION),
            help=t("image_size_help"),
        ),
        output.RATIO_OPTION: columns[1].selectbox(
            t("aspect_ratio"),
            ratios,
            index=start(ratios, output.RATIO_OPTION),
            format_func=lambda r: follows if r == output.AUTO else r,
        ),
    }


def feature_form(ctx: PageContext, feature: Feature, config: GeminiConfig | None) -> None:
    """The feature's uploaders (one per input slot), options, output size and ratio; on
    Generate, one job (or, for a batch slot, one job per file)."""
    avatars = {
        slot.role: _avatar_picker(ctx, feature, slot) for slot in feature.slots if slot.avatars
    }
    filled = _prefilled(ctx, feature)
    last = ui.feature_options(ctx.db, ctx.account).get(feature.key, {})
    if filled is not None and filled.options is not None:
        last = filled.options
    uploads: dict[str, Any] = {}
    upload_previews()
    with st.form(feature.key, clear_on_submit=True):
        columns = st.columns(len(feature.slots)) if len(feature.slots) > 1 else [st.container()]
        for slot, column in zip(feature.slots, columns):
            if filled is not None and slot.role in filled.inputs:
                continue  # shown above the form, from the store
            if not _from_avatar(feature, slot):
                uploads[slot.role] = column.file_uploader(
                    t(slot.label_key),
                    type=UPLOAD_TYPES,
                    key=f"{feature.key}_{slot.role}",
                    accept_multiple_files=slot.batch or slot.max > 1,
                )
        option_columns = st.columns(len(feature.options) + 2)
        values = {
            o.name: _option_widget(o, c, last) for o, c in zip(feature.options, option_columns)
        }
        values.update(_output_widgets(ctx, feature, option_columns[len(feature.options) :], last))
        submitted = st.form_submit_button(
            t("generate"), type="primary", icon=":material/bolt:", disabled=config is None
        )
    if not submitted or config is None:
        return
    queued, refused = 0, False
    for images in _jobs_from(ctx, feature, uploads, avatars, filled):
        try:
            submit(ctx, feature, images, values, config, filled.models if filled else None)
            queued += 1
        except UserError as exc:  # this job is refused; the others of a batch still go
            refused = True
            st.error(md_escape(t(str(exc))), icon=":material/error:")
    if not queued:
        return
    if filled is not None:
        session().prefill = None  # used
    changed = filled is not None or any(last.get(name) != value for name, value in values.items())
    ui.remember_feature_options(ctx.db, ctx.account, feature.key, values)
    if changed and not refused:
        # The cleared form shows its old starting values until the page runs again: run it
        # now, so it shows what was just submitted (the toast goes with the next run).
        session().flash = t("queued")
        st.rerun()
    st.toast(t("queued"), icon=":material/schedule:")


def upload_previews() -> None:
    """A thumbnail in each picked file's chip, drawn in the browser: the uploaders are inside
    the form, so the server sees the files only on Generate (upload_previews.js says why). The
    element itself takes no room."""
    st.html(
        f'<script data-viba="upload-previews">{_PREVIEWS_JS}</script>'
        "<style>.stElementContainer:has(script[data-viba='upload-previews'])"
        "{display: none}</style>",
        unsafe_allow_javascript=True,
    )


def _prefilled(ctx: PageContext, feature: Feature) -> Prefill | None:
    """The inputs this form was filled in with (Edit and run again, Use as input): drawn above
    the form with a remove button each; None when there are none for this feature."""
    filled = session().prefill
    if not isinstance(filled, Prefill) or filled.feature != feature.key:
        return None
    with st.container(border=True):
        st.caption(t("filled_in"))
        for slot in feature.slots:
            keys = filled.inputs.get(slot.role)
            if not keys:
                continue
            shown = ctx.store.thumbnail_refs(keys)
            left, right = st.columns([4, 1], vertical_alignment="center")
            left.image([shown[k] for k in keys if k in shown], width=96, caption=None)
            left.text(f"{t(slot.label_key)}: " + ", ".join(filled.names.get(slot.role) or []))
            right.button(
                t("remove"),
                key=f"prefill_remove_{feature.key}_{slot.role}",
                icon=":material/close:",
                on_click=_drop_prefilled,
                args=(slot.role,),
            )
    return filled


def _drop_prefilled(role: str) -> None:
    box = session()
    if isinstance(box.prefill, Prefill):
        box.prefill = box.prefill.without(role)


def _files(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def _jobs_from(
    ctx: PageContext,
    feature: Feature,
    uploads: dict[str, Any],
    avatars: dict[str, GenerationView | None],
    filled: Prefill | None = None,
) -> list[list[PreparedImage]]:
    """The inputs of each job to submit, in slot order; nothing (after saying why) when the
    inputs are missing or unusable. A batch slot gives one job per usable file."""
    per_slot: list[list[PreparedImage]] = []
    batch_index: int | None = None
    for slot in feature.slots:
        if filled is not None and slot.role in filled.inputs:
            names = filled.names.get(slot.role) or []
            try:
                per_slot.append(
                    [
                        generations.stored_image(
                            ctx.store, key, names[i] if i < len(names) else "image.jpg"
                        )
                        for i, key in enumerate(filled.inputs[slot.role])
                    ]
                )
            except StorageError as exc:
                st.error(md_escape(t(str(exc))))
                return []
            if slot.batch:
                batch_index = len(per_slot) - 1
            continue
        if _from_avatar(feature, slot):
            avatar = avatars.get(slot.role)
            if avatar is None:
                st.warning(t("need_files"))
                return []
            per_slot.append(
                [generations.stored_image(ctx.store, avatar.output_keys[0], "avatar.png")]
            )
            continue
        files = _files(uploads.get(slot.role))
        if len(files) < slot.min:
            st.warning(t("need_files"))
            return []
        if not slot.batch and len(files) > slot.max:
            st.error(t("too_many").format(n=slot.max))
            return []
        images, errors = prepare(files, ctx)
        if errors and not slot.batch:
            return []
        if slot.batch:
            batch_index = len(per_slot)
        per_slot.append(images)
    if batch_index is None:
        return [[image for images in per_slot for image in images]]
    return [
        [
            image
            for i, images in enumerate(per_slot)
            for image in (images if i != batch_index else [one])
        ]
        for one in per_slot[batch_index]
    ]


# --- job cards -----------------------------------------------------------------------------


def job_status(view: GenerationView) -> None:
    """A failed job's error, or an unfinished job's progress."""
    if view.status == "failed":
        st.error(md_escape(t(view.error_message or "failed")), icon=":material/error:")
    elif not view.finished:
        expected = view.expected_outputs
        done = len(view.output_keys)
        st.progress(done / expected, text=t("progress").format(done=done, total=expected))


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
    shown = store.thumbnail_refs([k for k in keys if k]) if preview else {}
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
                    shown.get(key) if preview else store.screen_image(key)[0]
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
            shown, (width, height) = store.screen_image(key)
        except StorageError as exc:
            st.warning(md_escape(t(str(exc))))
            return
        st.image(shown, width="stretch")
        st.caption(t("full_size_note").format(width=width, height=height))

    st.dialog(t("full_size"), width="large")(body)()


def inputs_strip(store: ImageStore, view: GenerationView) -> None:
    """A job's input images as small thumbnails, with their file names."""
    refs = store.thumbnail_refs(list(view.input_keys)) if view.input_keys else {}
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


def limits_line(ctx: PageContext, config: GeminiConfig | None) -> None:
    """What the user has left of their limits on the team's key, when they have limits."""
    if config is None or config.own_key:
        return
    here = budget.limited_standing(ctx.db, ctx.account.id)
    if here is None:
        return
    parts = []
    if here.limits.monthly_budget_usd is not None:
        parts.append(
            t("budget_left").format(
                used=f"{here.spent_usd + here.reserved_usd:.2f}",
                budget=f"{here.limits.monthly_budget_usd:.2f}",
            )
        )
    if here.limits.daily_generations is not None:
        parts.append(
            t("generations_left").format(
                left=here.generations_left, daily=here.limits.daily_generations
            )
        )
    if parts:
        st.caption(" · ".join(parts))


def zip_button(container: Any, label: str, view: GenerationView, make: Callable[[], bytes]) -> None:
    """Download a generation's images as one zip (made only when clicked)."""
    container.download_button(
        label,
        data=make,
        file_name=f"viba-{view.type}-{view.id.hex[:8]}.zip",
        mime="application/zip",
        key=f"zip_{view.id}",
        icon=":material/folder_zip:",
        on_click="ignore",
    )


@ui.action
def cancel_job(ctx: PageContext, job_id: uuid.UUID) -> None:
    ended = generations.cancel(ctx.db, ctx.account.id, job_id)
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
    st.checkbox(
        t("compare"),
        value=on,
        key=f"cmp_{view.id}_{key[-12:]}_{int(on)}",
        disabled=not on and len(picked) >= COMPARE_MAX,
        on_change=_toggle_compare,
        args=(str(view.id), key),
    )


def _toggle_compare(generation_id: str, key: str) -> None:
    box = session()
    picked = list(box.compare or [])
    pair = (generation_id, key)
    if pair in picked:
        picked.remove(pair)
    elif len(picked) < COMPARE_MAX:
        picked.append(pair)
    box.compare = picked


def refine_box(ctx: PageContext, view: GenerationView, key: str, index: int) -> None:
    """A few words about this output ("a darker background") make a new generation from it,
    the model keeping the conversation so far (viba.refine)."""
    with st.popover(t("refine"), icon=":material/tune:", width="stretch"):
        with st.form(f"refine_{view.id}_{index}", clear_on_submit=True, border=False):
            words = st.text_area(
                t("refine_what"),
                max_chars=refine.MAX_INSTRUCTION,
                placeholder=t("refine_example"),
                key=f"refine_text_{view.id}_{index}",
            )
            if not st.form_submit_button(t("refine"), type="primary"):
                return
        try:
            ctx.runner.refine(ctx.account.id, view.id, key, words, ctx.gemini_config())
        except UserError as exc:
            st.error(md_escape(t(str(exc))), icon=":material/error:")
            return
        session().flash = t("queued")
        st.rerun()


def use_as_input(view: GenerationView, key: str, index: int) -> None:
    """One output into a slot of any feature's form, that page opened."""
    choices = prefill.targets()
    with st.popover(t("use_as_input"), icon=":material/input:", width="stretch"):
        target = st.selectbox(
            t("use_in"),
            choices,
            key=f"use_in_{view.id}_{index}",
            format_func=lambda c: f"{t(c[0])} · {t(features.get(c[0]).slot(c[1]).label_key)}",
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
                zip_button(
                    actions[0], t("download_zip"), view, lambda: history.outputs_zip(store, view)
                )
            run_again_button(actions[1], ctx, view)
            edit_button(actions[2], view)


def recent_jobs(ctx: PageContext, feature: Feature, limit: int = 6) -> None:
    """This user's latest jobs of a feature. A finished card is drawn once; each unfinished
    one redraws itself alone every POLL_SECONDS (one small query, one card), so a page with
    running jobs costs what they cost, not what the whole list costs."""
    views = generations.recent(ctx.db, ctx.account.id, feature.key, limit)
    if not views:
        st.caption(t("nothing_yet"))
    for view in views:
        if view.finished:
            job_card(ctx, view)
        else:
            live_job_card(ctx, view.id)


@st.fragment(run_every=POLL_SECONDS)
def live_job_card(ctx: PageContext, job_id: uuid.UUID) -> None:
    """An unfinished job's card, redrawn on its own until it is done; then the page runs
    once more, to draw it finished (with its actions) beside the others."""
    with ui.boundary():
        view = generations.find(ctx.db, ctx.account.id, job_id)
        if view is None:  # deleted meanwhile
            return
        job_card(ctx, view)
        if view.finished:
            st.rerun(scope="app")
