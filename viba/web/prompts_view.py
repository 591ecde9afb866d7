"""The System Prompts page: every feature step's prompt (admins edit it, versions kept) and the
model each user picks for it (kept in the session and on the account)."""

from __future__ import annotations

import streamlit as st

from viba.core.errors import UserError
from viba.core.text import md_escape
from viba.engine import availability
from viba.engine.gemini import GeminiConfig, MissingApiKey
from viba.studio import features, preferences, prompt_store
from viba.web.boundary import action
from viba.web.browser_session import flash, session
from viba.web.context import PageContext
from viba.web.language import current_language, t


@action
def _save_choice(ctx: PageContext, step: str, choices: dict[str, str]) -> None:
    box = session()  # first: later session_state access could be cut off by a rerun
    model = st.session_state[f"model_{step}"]
    preferences.set_model_choice(ctx.db, ctx.account.id, step, model)
    box.model_choices = {**choices, step: model}
    box.flash = t("Saved: {model} for {step}.").format(
        model=model, step=t(features.steps()[step].prompt.title)
    )


@action
def _reset_choices(ctx: PageContext) -> None:
    box = session()
    preferences.reset_model_choices(ctx.db, ctx.account.id)
    box.model_choices = dict(features.catalog().defaults)
    box.flash = "Models reset to the defaults."
    for step in features.steps():
        st.session_state.pop(f"model_{step}", None)


@action
def _refresh_models(ctx: PageContext) -> None:
    config = _config(ctx)
    if config is not None:
        availability.for_config(config, refresh=True)


def _config(ctx: PageContext) -> GeminiConfig | None:
    try:
        return ctx.gemini_config()
    except MissingApiKey:
        return None


@action
def _restore(ctx: PageContext, version_id: int | None, step: str) -> None:
    if version_id is None:
        prompt_store.restore_builtin(ctx.db, ctx.account, step)
    else:
        prompt_store.restore_version(ctx.db, ctx.account, version_id)
    for field in ("system", "template", "note"):  # show the restored text in the editor
        st.session_state.pop(f"{field}_{step}", None)
    flash("Restored; it is the active prompt now.")


def _availability(ctx: PageContext) -> availability.Availability | None:
    """The models this user's key can call (cached an hour), or None after saying why not."""
    config = _config(ctx)
    if config is None:
        st.warning(t("no_key"), icon=":material/key:")
        return None
    known = availability.for_config(config)
    if known.models is None:
        st.warning(
            t("Gemini's model list could not be read, so every catalog model is offered: ")
            + (known.problem or ""),
            icon=":material/cloud_off:",
        )
        return None
    return known


def system_prompts_page(ctx: PageContext) -> None:
    catalog = features.catalog()
    choices = ctx.model_choices()
    active = prompt_store.active_prompts(ctx.db)
    st.title(t("System Prompts"))
    st.caption(
        t(
            "What each feature step sends to Gemini, and the model it uses. Your model "
            "choices are saved to your account and used by every feature."
        )
    )
    left, right, _ = st.columns([1, 1, 2])
    left.button(
        t("Reset models to defaults"),
        on_click=_reset_choices,
        args=(ctx,),
        icon=":material/restart_alt:",
    )
    right.button(
        t("Refresh the model list"),
        on_click=_refresh_models,
        args=(ctx,),
        icon=":material/refresh:",
        help=t("The list of models your API key can call is asked of Gemini once an hour."),
    )
    known = _availability(ctx)

    def label(model_id: str) -> str:
        info = catalog.get(model_id)
        text = f"{info.label_in(current_language())} · {model_id}" if info else model_id
        if info is not None and info.status == "deprecated":
            text = "⚠ " + text
        if known is not None and not known.can_call(model_id):
            text += "  ✗ " + t(availability.NOT_LISTED)
        return text

    for step in features.steps():
        prompt = active[step]
        with st.container(border=True):
            st.subheader(t(prompt.template.title))
            offer = availability.offer(catalog, step, known, choices[step])
            permitted = ctx.permitted_models  # an admin's choice of models (model rights)
            options = [m for m in offer.models if permitted is None or m in permitted]
            if choices[step] not in options:
                options.insert(0, choices[step])
            st.selectbox(
                t("Model"),
                options,
                index=options.index(choices[step]),
                key=f"model_{step}",
                format_func=label,
                on_change=_save_choice,
                args=(ctx, step, choices),
            )
            if offer.unavailable:
                st.caption(
                    t("Not offered to your key: ")
                    + "; ".join(f"{m.label} · {m.id}" for m, _ in offer.unavailable)
                    + f" ({availability.NOT_LISTED})."
                )
            version = (
                "built-in"
                if prompt.version == prompt_store.BUILTIN
                else t("version {n}").format(n=prompt.version)
            )
            st.caption(t("Prompt: {version}").format(version=t(version)))
            st.markdown(t("**System instruction**"))
            st.code(prompt.template.system, language=None, wrap_lines=True)
            st.markdown(t("**Prompt**"))
            st.code(prompt.template.template, language=None, wrap_lines=True)
            if ctx.account.is_admin:
                _editor(ctx, step, prompt)


def _editor(ctx: PageContext, step: str, prompt: prompt_store.ActivePrompt) -> None:
    with st.expander(t("Edit this prompt (admins)")):
        fields = ", ".join("{" + f + "}" for f in sorted(features.steps()[step].prompt.fields))
        with st.form(f"edit_{step}"):
            system = st.text_area(
                t("System instruction"), value=prompt.template.system, key=f"system_{step}"
            )
            template = st.text_area(
                t("Prompt"),
                value=prompt.template.template,
                height=220,
                key=f"template_{step}",
                help=t("Placeholders: {fields}").format(fields=fields or t("none")),
            )
            note = st.text_input(t("What changed (optional)"), key=f"note_{step}")
            if st.form_submit_button(t("Save as new version")):
                try:
                    new_id = prompt_store.save_version(
                        ctx.db, ctx.account, step, system, template, note
                    )
                except UserError as exc:
                    st.error(md_escape(t(str(exc))))
                else:
                    st.session_state.pop(f"note_{step}", None)
                    flash(t("Saved version {n}.").format(n=new_id))
                    st.rerun()
        versions = prompt_store.list_versions(ctx.db, step)
        if versions:
            st.markdown(t("**Versions** (newest is active)"))
        for v in versions:
            cols = st.columns([4, 1])
            who = v.author or t("a deleted user")
            cols[0].text(
                f"v{v.id} · {v.created_at:%Y-%m-%d %H:%M} UTC · {who}"
                + (f" · {v.note}" if v.note else "")
            )
            if v.id != prompt.version:
                cols[1].button(
                    t("Restore"), key=f"restore_{v.id}", on_click=_restore, args=(ctx, v.id, step)
                )
        if prompt.version != prompt_store.BUILTIN:
            st.button(
                t("Restore the built-in text"),
                key=f"restore_builtin_{step}",
                on_click=_restore,
                args=(ctx, None, step),
            )
