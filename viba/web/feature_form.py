"""The studio pages: one form per feature, drawn from its registry entry (viba.studio.features),
above the job cards of the user's latest generations (viba.web.job_cards)."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx

from viba.core.errors import UserError
from viba.core.text import md_escape
from viba.engine.gemini import GeminiConfig, MissingApiKey
from viba.engine.images import ImageInputError, PreparedImage, probe_image
from viba.store.image_store import StorageError
from viba.studio import (
    budget,
    features,
    generations,
    output,
    prompt_store,
)
from viba.studio.features import ChoiceOption, Feature, IntOption, Slot
from viba.studio.generations import GenerationView
from viba.studio.prefill import Prefill
from viba.web import context, job_watch, presets_view, sidebar, thumbnails
from viba.web.boundary import boundary, in_part, show_flash, still_logged_in
from viba.web.browser_session import session
from viba.web.context import PageContext
from viba.web.guard import guard
from viba.web.job_cards import recent_jobs, recent_views
from viba.web.language import current_language, t
from viba.web.uploads import in_turn, opened

UPLOAD_TYPES = ["png", "jpg", "jpeg", "webp", "heic", "heif"]
# Thumbnails of the picked photos before Generate, drawn by the browser (see the file).
_PREVIEWS_JS = Path(__file__).with_name("upload_previews.js").read_text(encoding="utf-8")


def feature_page(script: str) -> None:
    """A feature's whole page (`feature_page(__file__)`): the guard, then title, form, and the
    user's latest jobs of it. Which feature is the registry's entry that names this file."""
    ctx = guard(script)
    with boundary():
        feature_body(ctx, features.get(str(sidebar.page_for(script).feature)))


def feature_body(ctx: PageContext, feature: Feature) -> None:
    st.title(t(feature.key))
    st.caption(t(feature.intro_key))
    config = gemini_config_or_help(ctx)
    presets_view.preset_strip(ctx, feature)
    views = recent_views(ctx, feature)
    queued_here(feature).clear()  # the whole page runs: the list below has them
    studio(ctx, feature, config, bool(views))
    recent_jobs(ctx, views)


@st.fragment
def studio(ctx: PageContext, feature: Feature, config: GeminiConfig | None, made: bool) -> None:
    """The form, what the user has left of their limits, and the jobs the form queued since
    the page last ran whole, above the page's list of the latest jobs (`made`: whether that
    list has any). A Generate runs this part alone: the page's other parts, the sidebar and
    every card drawn before it cost the web nothing, and the job's card, drawn here, watches
    its job and draws it finished (viba.web.live)."""
    with boundary():
        show_flash()
        feature_form(ctx, feature, config)
        limits_line(ctx, config)
        st.subheader(t("recent"))
        queued = set(queued_here(feature))
        if queued:
            recent_jobs(ctx, [v for v in recent_views(ctx, feature) if v.id in queued])
        elif not made:
            st.caption(t("nothing_yet"))


def queued_here(feature: Feature) -> list[uuid.UUID]:
    """The jobs the feature's form queued since its page last ran whole (session state)."""
    box = session()
    box.queued_here = box.queued_here or {}
    return box.queued_here.setdefault(feature.key, [])


def gemini_config_or_help(ctx: PageContext) -> GeminiConfig | None:
    """The engine config, or None after explaining how to add a key."""
    try:
        return ctx.gemini_config()
    except MissingApiKey:
        st.warning(t("no_key"), icon=":material/key:")
        st.page_link(sidebar.PROFILE_PAGE, label=t("add_key"), icon=":material/key:")
        return None


def prepare(files: Sequence[Any], ctx: PageContext) -> tuple[list[PreparedImage], list[str]]:
    """Uploaded files → images checked from their headers (a worker decodes them), and one
    message per file that cannot be used (shown on the page, and returned)."""
    good, errors = [], []
    for f in files:
        try:
            with opened(f) as content:
                good.append(probe_image(content, f.name, ctx.settings.max_input_pixels))
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
    group: uuid.UUID | None = None,
    prompt_versions: dict[str, Any] | None = None,
) -> uuid.UUID:
    """Queue one job with the user's models (or, for a form filled in from a generation, the
    models it used, each still checked against the catalog; `models` wins over both)."""
    in_use = prompt_store.prompts_in_use(prompt_store.active_prompts(ctx.db))
    if prompt_versions:  # a preset's: each version's text (the active one where it is gone)
        texts = prompt_store.templates_for(ctx.db, prompt_versions)
        in_use |= {
            step: (texts[step], prompt_versions[step])
            for step in feature.step_ids
            if step in prompt_versions and step in texts
        }
    chosen = ctx.model_choices()
    if models:
        catalog = features.catalog()
        chosen |= {
            step: catalog.resolve(step, models[step]).model
            for step in feature.step_ids
            if step in models
        }
    return ctx.runner.submit(
        ctx.account.id, feature.key, images, options, chosen, in_use, config, group=group
    )


def compare_widget(
    ctx: PageContext, feature: Feature, images: int, last: dict[str, Any]
) -> list[str] | None:
    """Up to MAX_COMPARED - 1 more image models to make the same input with, each with what
    one job of it is expected to cost at the size last asked for (None: nothing to pick)."""
    catalog = features.catalog()
    step = feature.image_step
    mine = ctx.model_choices()
    permitted = ctx.permitted_models
    others = [
        m.id
        for m in catalog.for_step(step)
        if m.id != mine[step] and (permitted is None or m.id in permitted)
    ]
    if not others:
        return None
    options = {output.SIZE_OPTION: last.get(output.SIZE_OPTION)}

    def label(model_id: str) -> str:
        info = catalog.get(model_id)
        name = info.label_in(current_language()) if info else model_id
        usd = budget.estimate(feature, {**mine, step: model_id}, options, images)
        return f"{name} · {t('cost_expected').format(usd=f'{usd:.2f}')}" if usd else name

    own = label(mine[step])
    return st.multiselect(
        t("compare_models"),
        others,
        key=f"{feature.key}_compare",
        format_func=label,
        max_selections=MAX_COMPARED - 1,
        help=t("compare_models_help").format(model=own),
    )


MAX_COMPARED = 4


def _fitted(values: dict[str, Any], model_id: str | None) -> dict[str, Any]:
    info = features.catalog().get(model_id or "")
    if info is None:
        return values
    ratio = values.get(output.RATIO_OPTION)
    wanted = None if ratio in (None, output.AUTO) else ratio
    return {**values, **output.nearest_output(info, values.get(output.SIZE_OPTION), wanted)}


# --- the form ------------------------------------------------------------------------------


def _made_choices(ctx: PageContext, slot: Slot) -> list[GenerationView]:
    """The user's latest finished generations of the feature the slot takes outputs of."""
    return [
        v
        for v in generations.recent(ctx.db, ctx.account.id, str(slot.outputs_of), limit=12)
        if v.status == "completed" and v.output_keys
    ]


UPLOAD_MODE = "upload"


def _avatar_picker(ctx: PageContext, feature: Feature, slot: Slot) -> GenerationView | None:
    """For a slot that may take an output of another feature (slot.outputs_of: one of the
    user's avatars): the choice between an upload and such an output. Returns the one picked;
    the slot's source in session state is that feature's key while the user chose one (the
    slot then has no uploader)."""
    source = st.radio(
        t("person_source"),
        [UPLOAD_MODE, str(slot.outputs_of)],
        horizontal=True,
        format_func=lambda v: t("upload") if v == UPLOAD_MODE else t("an_avatar"),
        key=_source_key(feature, slot),
    )
    picker = st.container()  # always there, so the form below never shifts (and remounts)
    if source == UPLOAD_MODE:
        return None
    options = _made_choices(ctx, slot)
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
        shown = thumbnails.refs(ctx.store, [key]).get(key)
        if shown is not None:
            picker.image(shown, width=160)
    return chosen


def _source_key(feature: Feature, slot: Slot) -> str:
    return f"{feature.key}_{slot.role}_source"


def _from_avatar(feature: Feature, slot: Slot) -> bool:
    source = st.session_state.get(_source_key(feature, slot))
    return slot.outputs_of is not None and source == slot.outputs_of


def _option_widget(
    option: IntOption | ChoiceOption, container: Any, last: dict[str, Any], shown: dict[str, Any]
) -> Any:
    """An option's widget, opening at the user's last value of it (else the default), noted
    in `shown`. No key: after a submit clears the form, it reopens at what was just
    submitted."""
    value: Any = option.default
    try:
        value = option.check(last.get(option.name, option.default))
    except features.InputError:  # a stored value the option no longer takes
        pass
    shown[option.name] = value
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
    ctx: PageContext,
    feature: Feature,
    columns: Sequence[Any],
    last: dict[str, Any],
    shown: dict[str, Any],
) -> dict[str, str]:
    """Size and aspect ratio, limited to what the user's image model for this feature makes,
    opening at the user's last choice where the model makes it (else the feature's default),
    noted in `shown`."""
    model = features.catalog().get(ctx.model_choices()[feature.image_step])
    default = output.defaults(feature, model)
    sizes = list(output.sizes_for(model))
    ratios = [output.AUTO] * bool(feature.ratio_from) + list(output.ratios_for(model))

    def start(values: list[str], name: str) -> int:
        value = last.get(name)
        shown[name] = value if value in values else default[name]
        return values.index(shown[name])

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
        slot.role: _avatar_picker(ctx, feature, slot) for slot in feature.slots if slot.outputs_of
    }
    filled = _prefilled(ctx, feature)
    last = context.feature_options(ctx.db, ctx.account).get(feature.key, {})
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
        shown: dict[str, Any] = {}  # what each option's widget opened at
        values = {
            o.name: _option_widget(o, c, last, shown)
            for o, c in zip(feature.options, option_columns)
        }
        values.update(
            _output_widgets(ctx, feature, option_columns[len(feature.options) :], last, shown)
        )
        compared = compare_widget(ctx, feature, 1, last) or []
        submitted = st.form_submit_button(
            t("generate"), type="primary", icon=":material/bolt:", disabled=config is None
        )
    if not submitted or config is None:
        return
    try:
        if not still_logged_in(ctx.db):  # ended elsewhere since the page last ran whole
            st.rerun()
        with in_turn():  # a few submits at a time hold their files in memory
            _submit_form(ctx, feature, uploads, avatars, filled, values, compared, shown, config)
    finally:
        _let_go(uploads)


def _submit_form(
    ctx: PageContext,
    feature: Feature,
    uploads: dict[str, Any],
    avatars: dict[str, GenerationView | None],
    filled: Prefill | None,
    values: dict[str, Any],
    compared: list[str],
    shown: dict[str, Any],
    config: GeminiConfig,
) -> None:
    queued: dict[uuid.UUID, str] = {}
    refused = False
    for images in _jobs_from(ctx, feature, uploads, avatars, filled):
        used = dict(filled.models) if filled and filled.models else {}
        # The same input with each compared model too: one job each, shown side by side.
        group = uuid.uuid4() if compared else None
        runs = [used, *({**used, feature.image_step: m} for m in compared)]
        for models in runs:
            # A compared model that does not make this size or ratio makes its nearest.
            asked = _fitted(values, models.get(feature.image_step)) if group else values
            try:
                versions = filled.prompt_versions if filled else None
                job = submit(ctx, feature, images, asked, config, models or None, group, versions)
                queued[job] = feature.key
            except UserError as exc:  # this job is refused; the others still go
                refused = True
                st.error(md_escape(t(str(exc))), icon=":material/error:")
    if not queued:
        return
    queued_here(feature).extend(queued)
    job_watch.started(queued)
    if filled is not None:
        session().prefill = None  # used
    changed = filled is not None or any(shown.get(name) != value for name, value in values.items())
    context.remember_feature_options(ctx.db, ctx.account, feature.key, values)
    if changed and not refused:
        # The cleared form shows the values it opened at until it runs again: where the user
        # changed one (or it was filled in), run it now, so it shows what was just submitted
        # (the toast goes with the next run).
        session().flash = t("queued")
        st.rerun(scope="fragment" if in_part() else "app")
    st.toast(t("queued"), icon=":material/schedule:")


def _let_go(uploads: dict[str, Any]) -> None:
    """Drop the form's files from Streamlit's upload manager once they are stored or
    refused: it keeps every file a session uploaded until the session ends (on disk:
    viba.web.uploads), and the form is cleared on submit."""
    run = get_script_run_ctx()
    # Streamlit's upload manager has remove_file (its upload route's DELETE calls it).
    remove = getattr(run.uploaded_file_mgr, "remove_file", None) if run else None
    if run is None or remove is None:
        return
    for value in uploads.values():
        for upload in _files(value):
            remove(run.session_id, upload.file_id)


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
            shown = thumbnails.refs(ctx.store, keys)
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
) -> Iterator[list[PreparedImage]]:
    """The inputs of each job to submit, in slot order; nothing (after saying why) when the
    inputs are missing or unusable. A batch slot gives one job per usable file, each file
    read when its job is submitted: a batch of many photos holds one of them in memory at a
    time, not all (up to the session's 400 MB of picked files)."""
    per_slot: list[list[PreparedImage]] = []
    # The batch slot's place, and a way to read each of its inputs (one job each).
    batch: tuple[int, list[Callable[[], list[PreparedImage]]]] | None = None
    for slot in feature.slots:
        if filled is not None and slot.role in filled.inputs:
            names = filled.names.get(slot.role) or []
            try:
                stored = [
                    generations.stored_image(
                        ctx.store, key, names[i] if i < len(names) else "image.jpg"
                    )
                    for i, key in enumerate(filled.inputs[slot.role])
                ]
            except StorageError as exc:
                st.error(md_escape(t(str(exc))))
                return
            if slot.batch:
                batch = (len(per_slot), [functools.partial(list, [image]) for image in stored])
                per_slot.append([])  # its place: each job's one input goes there
            else:
                per_slot.append(stored)
            continue
        if _from_avatar(feature, slot):
            avatar = avatars.get(slot.role)
            if avatar is None:
                st.warning(t("need_files"))
                return
            per_slot.append(
                [generations.stored_image(ctx.store, avatar.output_keys[0], "avatar.png")]
            )
            continue
        files = _files(uploads.get(slot.role))
        if len(files) < slot.min:
            st.warning(t("need_files"))
            return
        if slot.batch:
            batch = (len(per_slot), [functools.partial(_usable, file, ctx) for file in files])
            per_slot.append([])  # its place: each job's one file goes there
            continue
        if len(files) > slot.max:
            st.error(t("too_many").format(n=slot.max))
            return
        images, errors = prepare(files, ctx)
        if errors:
            return
        per_slot.append(images)
    if batch is None:
        yield [image for images in per_slot for image in images]
        return
    place, inputs = batch
    for read in inputs:
        one = read()
        if one:
            yield [
                image
                for i, images in enumerate(per_slot)
                for image in (one if i == place else images)
            ]


def _usable(file: Any, ctx: PageContext) -> list[PreparedImage]:
    """One picked file read and checked: [it], or [] after saying why it cannot be used."""
    return prepare([file], ctx)[0]


# --- job cards -----------------------------------------------------------------------------


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
