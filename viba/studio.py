"""Streamlit glue shared by the four studio pages: the process-wide job runner and image store,
submitting from uploads, and the job cards that poll their generation_history row."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

import streamlit as st

from viba import history, jobs, prompt_store, ui
from viba.auth import Account
from viba.config import Settings
from viba.db import Database, DatabaseUnavailable
from viba.gemini import GeminiConfig, GenerationError
from viba.i18n import t
from viba.images import ImageInputError, PreparedImage
from viba.storage import ImageStore, StorageError, make_backend

UPLOAD_TYPES = ["png", "jpg", "jpeg", "webp"]
POLL_SECONDS = 1.5
HISTORY_PAGE = "pages/5_History.py"


@st.cache_resource(show_spinner=False)
def _runner(url: str, storage: str, data_dir: str, workers: int, per_user: int,
            heartbeat: float) -> jobs.JobRunner:
    from pathlib import Path

    db = ui.boot()[1]
    store = ImageStore(make_backend(storage, db, Path(data_dir)))
    return jobs.JobRunner(db, store, workers=workers, per_user=per_user, heartbeat_s=heartbeat)


def runner(settings: Settings) -> jobs.JobRunner:
    """The process-wide runner (made once per server process, on first use)."""
    try:
        return _runner(settings.effective_database_url, settings.storage, str(settings.data_dir),
                       settings.workers, settings.user_concurrency,
                       settings.job_heartbeat_seconds)
    except StorageError as exc:
        ui.fail(str(exc))
        raise


def gemini_config_or_help(settings: Settings) -> GeminiConfig | None:
    """The engine config, or None after explaining how to add a key."""
    try:
        return ui.gemini_config(settings)
    except GenerationError:
        st.warning(t("no_key"), icon=":material/key:")
        st.page_link("pages/7_Profile.py", label=t("add_key"), icon=":material/key:")
        return None


def prepare(files: Sequence[Any], settings: Settings) -> tuple[list[PreparedImage], list[str]]:
    """Uploaded files → checked images, and one message per file that cannot be used (shown
    on the page, and returned)."""
    from viba.images import prepare_image

    good, errors = [], []
    for f in files:
        try:
            good.append(prepare_image(f.getvalue(), f.name, settings.max_image_side))
        except ImageInputError as exc:
            errors.append(str(exc))
            st.error(str(exc), icon=":material/broken_image:")
    return good, errors


def submit(account: Account, settings: Settings, db: Database, feature: str,
           images: list[PreparedImage], options: dict[str, Any],
           config: GeminiConfig) -> uuid.UUID | None:
    try:
        in_use = jobs.prompts_in_use(prompt_store.active_prompts(db))
        return runner(settings).submit(account.id, feature, images, options,
                                       ui.model_choices(db, account), in_use, config)
    except (jobs.JobError, GenerationError, DatabaseUnavailable, StorageError) as exc:
        st.error(str(exc), icon=":material/error:")
        return None


def run_again(settings: Settings, db: Database, account: Account, job_id: uuid.UUID) -> None:
    box = ui.session()
    try:
        config = ui.gemini_config(settings)
        in_use = jobs.prompts_in_use(prompt_store.active_prompts(db))
        runner(settings).run_again(job_id, account.id, in_use, config,
                                   models=ui.model_choices(db, account))
        box.flash = t("queued_again")
    except (jobs.JobError, GenerationError, DatabaseUnavailable, StorageError) as exc:
        box.flash = str(exc)


def job_status(view: jobs.JobView) -> None:
    """A failed job's error, or an unfinished job's progress."""
    if view.status == "failed":
        st.error(view.error_message or t("failed"), icon=":material/error:")
    elif not view.finished:
        expected = 4 if view.type == "derivation" else 1
        done = len(view.output_keys)
        st.progress(done / expected, text=t("progress").format(done=done, total=expected))


def variant_failures(view: jobs.JobView) -> None:
    for failure in view.details.get("failures") or []:
        st.warning(t("variant_failed").format(n=failure["variant"], error=failure["error"]))


def image_grid(store: ImageStore, view: jobs.JobView, keys: list[str], columns: int,
               role: str = "") -> None:
    """Stored images of a generation, each with its download button (role: a file name and
    widget key prefix, e.g. "input-")."""
    if not keys:
        return
    cols = st.columns(min(columns, len(keys)))
    for i, key in enumerate(keys):
        with cols[i % len(cols)]:
            try:
                data = store.load(key)
            except StorageError as exc:
                st.warning(str(exc))
                continue
            st.image(data, width="stretch")
            st.download_button(t("download"), data,
                               file_name=history.file_name(view, key, i + 1, role),
                               mime="image/png" if key.endswith(".png") else None,
                               key=f"dl_{role}{view.id}_{i}", icon=":material/download:",
                               on_click="ignore")


def job_card(view: jobs.JobView, store: ImageStore, settings: Settings, db: Database,
             account: Account) -> None:
    """One generation: status, description, outputs with downloads, run again, history link."""
    with st.container(border=True):
        head, link = st.columns([4, 1])
        names = ", ".join(view.input_params.get("input_names") or [])
        head.markdown(f"**{t(view.type)}** · {t(view.status)} · "
                      f"{view.created_at:%Y-%m-%d %H:%M} UTC  \n{names}")
        link.page_link(HISTORY_PAGE, label=t("open_in_history"), icon=":material/history:",
                       query_params={"id": str(view.id)})
        job_status(view)
        description = view.details.get("description")
        if description:
            with st.expander(t("description")):
                st.text(description)
        variant_failures(view)
        image_grid(store, view, view.output_keys, 4)
        if view.finished:
            actions = st.columns([1, 1, 3])
            if view.type == "derivation" and len(view.output_keys) > 1:
                actions[0].download_button(
                    t("download_zip"), data=lambda: history.outputs_zip(store, view),
                    file_name=f"viba-derivation-{view.id.hex[:8]}.zip", mime="application/zip",
                    key=f"zip_{view.id}", icon=":material/folder_zip:", on_click="ignore")
            actions[1].button(t("run_again"), key=f"again_{view.id}", icon=":material/replay:",
                              on_click=run_again, args=(settings, db, account, view.id))


def recent_jobs(account: Account, settings: Settings, db: Database, feature: str,
                limit: int = 6) -> None:
    """This user's latest jobs of a feature; polls while any is unfinished."""
    run = runner(settings)

    def draw(views: list[jobs.JobView] | None = None) -> bool:
        if views is None:
            try:
                views = run.recent(account.id, feature, limit)
            except DatabaseUnavailable as exc:
                st.error(str(exc))
                return False
        if not views:
            st.caption(t("nothing_yet"))
        for view in views:
            job_card(view, run.store, settings, db, account)
        return any(not v.finished for v in views)

    @st.fragment(run_every=POLL_SECONDS)
    def polling() -> None:
        if not draw():
            st.rerun(scope="app")  # all done: stop polling until the next submit

    # Poll only while something is running, so an idle page costs one query.
    try:
        views = run.recent(account.id, feature, limit)
    except DatabaseUnavailable as exc:
        st.error(str(exc))
        return
    if any(not v.finished for v in views):
        polling()
    else:
        draw(views)


def _avatar_choices(account: Account, settings: Settings) -> list[jobs.JobView]:
    return [v for v in runner(settings).recent(account.id, "avatar", limit=12)
            if v.status == "completed" and v.output_keys]


def two_image_form(account: Account, settings: Settings, db: Database,
                   config: GeminiConfig | None, feature: str, second_label: str,
                   avatars: bool = False) -> None:
    """Person + second image (garment or scene). With avatars, the person may be one of the
    user's finished Avatar results."""
    run = runner(settings)
    source = "upload"
    if avatars:
        source = st.radio(t("person_source"), ["upload", "avatar"], horizontal=True,
                          format_func=lambda v: t("upload") if v == "upload" else t("an_avatar"),
                          key=f"{feature}_person_source")
    chosen_avatar = None
    picker = st.container()  # always there, so the form below never shifts (and remounts)
    if source == "avatar":
        options = _avatar_choices(account, settings)
        if not options:
            picker.info(t("no_avatars"))
        else:
            chosen_avatar = picker.selectbox(
                t("pick_avatar"), options, key=f"{feature}_avatar",
                format_func=lambda v: f"{v.created_at:%Y-%m-%d %H:%M} · "
                                      + ", ".join(v.input_params.get("input_names") or []))
            picker.image(run.store.thumbnail(chosen_avatar.output_keys[0]), width=160)
    with st.form(feature, clear_on_submit=True):
        left, right = st.columns(2)
        person = (left.file_uploader(t("person"), type=UPLOAD_TYPES, key=f"{feature}_person")
                  if source == "upload" else None)
        second = right.file_uploader(second_label, type=UPLOAD_TYPES, key=f"{feature}_second")
        submitted = st.form_submit_button(t("generate"), type="primary", icon=":material/bolt:",
                                          disabled=config is None)
    if not submitted or config is None:
        return
    files = [f for f in (person, second) if f is not None]
    images, errors = prepare(files, settings)
    if errors:
        return
    if chosen_avatar is not None:
        key = chosen_avatar.output_keys[0]
        try:
            images.insert(0, jobs.stored_image(run.store, key, "avatar.png"))
        except StorageError as exc:
            st.error(str(exc))
            return
    if len(images) != 2:
        st.warning(t("need_files"))
        return
    if submit(account, settings, db, feature, images, {}, config):
        st.toast(t("queued"), icon=":material/schedule:")
