"""System Prompts: the prompt and the model of every feature step."""

import streamlit as st

from viba import preferences, prompt_store, ui
from viba.auth import AuthError
from viba.catalog import STEPS, load_catalog
from viba.gemini import GenerationError, list_available_models

account = ui.guard("System Prompts", icon=":material/tune:")
settings, db = ui.boot()
catalog = load_catalog()
choices = ui.model_choices(db, account)
active = prompt_store.active_prompts(db)
AVAILABLE_KEY = "viba_available_models"


def save_choice(step: str) -> None:
    box = ui.session()  # first: later session_state access could be cut off by a rerun
    model = st.session_state[f"model_{step}"]
    try:
        preferences.set_model_choice(db, account.id, step, model, catalog)
    except preferences.PreferenceError as exc:
        box.flash = str(exc)
        return
    box.model_choices = {**choices, step: model}
    box.flash = f"Saved: {model} for {prompt_store.PROMPTS[step].title}."


def reset_choices() -> None:
    box = ui.session()
    preferences.reset_model_choices(db, account.id)
    box.model_choices = dict(catalog.defaults)
    box.flash = "Models reset to the defaults."
    for step in STEPS:
        st.session_state.pop(f"model_{step}", None)


def check_availability() -> None:
    try:
        st.session_state[AVAILABLE_KEY] = list_available_models(ui.gemini_config(settings))
    except GenerationError as exc:
        st.session_state[AVAILABLE_KEY] = str(exc)


def restore(version_id: int | None, step: str) -> None:
    try:
        if version_id is None:
            prompt_store.restore_builtin(db, account, step)
        else:
            prompt_store.restore_version(db, account, version_id)
    except (prompt_store.PromptError, AuthError) as exc:
        ui.flash(str(exc))
        return
    for field in ("system", "template", "note"):  # show the restored text in the editor
        st.session_state.pop(f"{field}_{step}", None)
    ui.flash("Restored; it is the active prompt now.")


st.title("System Prompts")
st.caption("What each feature step sends to Gemini, and the model it uses. Your model choices "
           "are saved to your account and used by every feature.")
left, right, _ = st.columns([1, 1, 2])
left.button("Reset models to defaults", on_click=reset_choices, icon=":material/restart_alt:")
right.button("Check availability", on_click=check_availability, icon=":material/fact_check:",
             help="Ask Gemini which models your API key can use.")

available = st.session_state.get(AVAILABLE_KEY)
if isinstance(available, str):
    st.warning(available)
elif available is not None:
    usable = [m.id for m in catalog.models.values() if m.usable]
    missing = [m for m in usable if m not in available]
    st.info("Your key can use every model offered here." if not missing else
            "Not available to your key: " + ", ".join(missing) + ". Marked ✗ below.")


def label(model_id: str) -> str:
    info = catalog.get(model_id)
    text = f"{info.label} · {model_id}" if info else model_id
    if isinstance(available, set):
        text += "  ✓" if model_id in available else "  ✗ not available to your key"
    return text


for step in STEPS:
    prompt = active[step]
    with st.container(border=True):
        st.subheader(prompt.template.title)
        options = [m.id for m in catalog.for_step(step)]
        st.selectbox("Model", options, index=options.index(choices[step]), key=f"model_{step}",
                     format_func=label, on_change=save_choice, args=(step,))
        version = ("built-in" if prompt.version == prompt_store.BUILTIN
                   else f"version {prompt.version}")
        st.caption(f"Prompt: {version}")
        st.markdown("**System instruction**")
        st.code(prompt.template.system, language=None, wrap_lines=True)
        st.markdown("**Prompt**")
        st.code(prompt.template.template, language=None, wrap_lines=True)
        if not account.is_admin:
            continue
        with st.expander("Edit this prompt (admins)"):
            fields = ", ".join("{" + f + "}" for f in sorted(prompt_store.PROMPTS[step].fields))
            with st.form(f"edit_{step}"):
                system = st.text_area("System instruction", value=prompt.template.system,
                                      key=f"system_{step}")
                template = st.text_area("Prompt", value=prompt.template.template, height=220,
                                        key=f"template_{step}",
                                        help=f"Placeholders: {fields or 'none'}")
                note = st.text_input("What changed (optional)", key=f"note_{step}")
                if st.form_submit_button("Save as new version"):
                    try:
                        new_id = prompt_store.save_version(db, account, step, system, template,
                                                           note)
                        st.session_state.pop(f"note_{step}", None)
                        ui.flash(f"Saved version {new_id}.")
                        st.rerun()
                    except (prompt_store.PromptError, AuthError) as exc:
                        st.error(str(exc))
            versions = prompt_store.list_versions(db, step)
            if versions:
                st.markdown("**Versions** (newest is active)")
            for v in versions:
                cols = st.columns([4, 1])
                who = v.author or "a deleted user"
                cols[0].caption(f"v{v.id} · {v.created_at:%Y-%m-%d %H:%M} UTC · {who}"
                                + (f" · {v.note}" if v.note else ""))
                if v.id != prompt.version:
                    cols[1].button("Restore", key=f"restore_{v.id}", on_click=restore,
                                   args=(v.id, step))
            if prompt.version != prompt_store.BUILTIN:
                st.button("Restore the built-in text", key=f"restore_builtin_{step}",
                          on_click=restore, args=(None, step))
