"""Admin > Models: the model catalog as the app sees it (the file with the admins' changes),
the models Gemini's list offers the server key that the catalog lacks (adopt or hide each),
and retiring a model with its replacement. Every change goes through viba.studio.model_admin,
which checks the role and writes the audit entry."""

from __future__ import annotations

from typing import Any

import streamlit as st

from viba.accounts import auth
from viba.accounts.account import Account
from viba.core.errors import UserError
from viba.engine import availability
from viba.engine.catalog import SIZES, ModelInfo
from viba.engine.gemini import GeminiConfig, ListedModel
from viba.store.db import Database
from viba.studio import features, model_admin, model_rights
from viba.web.browser_session import flash
from viba.web.language import current_language, t, t_columns

STANDARD_RATIOS = ("1:1", "2:3", "3:2", "3:4", "4:3", "4:5", "5:4", "9:16", "16:9", "21:9")
EXTREME_RATIOS = ("1:4", "4:1", "1:8", "8:1")
TOKENS_PER_SIZE = {"512": 747, "1K": 1120, "2K": 1680, "4K": 2520}  # Gemini 3 image models


def models_section(db: Database, actor: Account, config: GeminiConfig | None) -> None:
    model_admin.refresh(db, force=True)
    catalog = features.catalog()
    changes = model_admin.load(db)
    lang = current_language()
    st.dataframe(
        t_columns([_row(m, lang, m.id in changes.fields) for m in catalog.models.values()]),
        hide_index=True,
        width="stretch",
    )
    st.subheader(t("Listed by Gemini, not in the catalog"))
    known = availability.for_config(config) if config is not None else None
    if known is None:
        st.caption(t("Set GEMINI_API_KEY (the server's key) to see what Gemini lists."))
    elif known.models is None:
        st.warning(t(known.problem or "Gemini's model list could not be read."))
    else:
        new = model_admin.listed_not_in_catalog(sorted(known.models), catalog, changes.hidden)
        details = {m.id: m for m in known.listed}
        if not new:
            st.caption(t("Every model the server's key lists is in the catalog (or hidden)."))
        for model_id in new:
            _new_model(db, actor, details.get(model_id) or ListedModel(model_id))
    _retire(db, actor)
    _rights(db, actor)
    if changes.hidden:
        st.subheader(t("Hidden from the list"))
        for model_id in sorted(changes.hidden):
            left, right = st.columns([4, 1])
            left.text(model_id)
            if right.button(t("Show again"), key=f"unhide_{model_id}"):
                _act("Shown again.", lambda m=model_id: model_admin.hide(db, actor, m, False))


def _row(m: ModelInfo, lang: str, changed: bool) -> dict[str, Any]:
    return {
        "model": m.id,
        "capability": t(m.capability),
        "status": t(m.status),
        "label": m.label_in(lang),
        "sizes": ", ".join(m.sizes),
        "replacement": m.replacement or "",
        "source": t("changed on this page" if changed else "catalog file"),
    }


def _new_model(db: Database, actor: Account, listed: ListedModel) -> None:
    """One listed model: what the list says, Adopt (a form) and Hide."""
    with st.expander(f"{listed.id} · {listed.display_name or listed.id}"):
        if listed.description:
            st.text(listed.description)  # Google's words: text, never markdown
        if listed.input_token_limit:
            st.caption(
                t("Input {input} / output {output} tokens").format(
                    input=listed.input_token_limit, output=listed.output_token_limit
                )
            )
        with st.form(f"adopt_{listed.id}"):
            capability = st.radio(
                t("Capability"), ["image", "text"], horizontal=True, format_func=t
            )
            label = st.text_input(t("Label"), value=listed.display_name or listed.id, max_chars=80)
            label_zh = st.text_input(t("Label in 中文"), max_chars=80)
            sizes = st.multiselect(t("Sizes (image models)"), SIZES, default=["1K", "2K", "4K"])
            ratios = st.multiselect(
                t("Aspect ratios (image models)"),
                STANDARD_RATIOS + EXTREME_RATIOS,
                default=list(STANDARD_RATIOS),
            )
            a, b, c = st.columns(3)
            price_in = a.number_input(t("Input USD / 1M"), min_value=0.0, step=0.05)
            price_out = b.number_input(t("Output USD / 1M"), min_value=0.0, step=0.05)
            price_img = c.number_input(t("Image output USD / 1M"), min_value=0.0, step=1.0)
            if st.form_submit_button(t("Adopt"), type="primary"):
                price = {"input": price_in, "output": price_out, "image_output": price_img}
                _act(
                    "Adopted: it is offered from now on.",
                    lambda: model_admin.adopt(
                        db,
                        actor,
                        listed.id,
                        capability,
                        label,
                        label_zh,
                        sizes,
                        ratios,
                        price,
                        {s: TOKENS_PER_SIZE[s] for s in sizes},
                    ),
                )
        if st.button(t("Hide"), key=f"hide_{listed.id}"):
            _act("Hidden.", lambda: model_admin.hide(db, actor, listed.id))


def _retire(db: Database, actor: Account) -> None:
    """Mark a usable model deprecated or shut down, with its replacement."""
    catalog = features.catalog()
    usable = [m for m in catalog.models.values() if m.usable]
    st.subheader(t("Retire a model"))
    model = st.selectbox(
        t("Model"), [m.id for m in usable], key="retire_model", index=None, placeholder="…"
    )
    if model is None:
        return
    info = catalog.get(model)
    assert info is not None
    status = st.radio(
        t("Status"), ["deprecated", "shut_down"], horizontal=True, format_func=t, key="retire_st"
    )
    others = [m.id for m in usable if m.capability == info.capability and m.id != model]
    replacement = st.selectbox(
        t("Replacement"), others, key="retire_replacement", index=0 if others else None
    )
    if st.button(t("Retire"), key="retire_go", type="primary"):
        _act(
            "Retired: choices of it now use the replacement."
            if status == "shut_down"
            else "Marked deprecated.",
            lambda: model_admin.retire(db, actor, model, status, replacement),
        )


def _rights(db: Database, actor: Account) -> None:
    """Which models everyone, or one person (by email), may pick."""
    st.subheader(t("Who may pick which models"))
    lists = model_rights.rights(db)
    for scope, email, models in model_rights.described(db):
        who = t("Everyone") if scope == model_rights.EVERYONE else email
        st.text(f"{who}: {', '.join(models)}")
    if not lists:
        st.caption(t("Everyone may pick every model."))
    email = st.text_input(t("For (an account's email; empty: everyone)"), key="rights_email")
    user_id = None
    if email.strip():
        account = auth.get_account_by_email(db, email)
        if account is None:
            st.caption(t("No active account uses that email."))
            return
        user_id = account.id
    scope = model_rights.EVERYONE if user_id is None else str(user_id)
    usable = [m.id for m in features.catalog().models.values() if m.usable]
    current = lists.get(scope) or usable
    chosen = st.multiselect(
        t("Models they may pick"),
        usable,
        default=[m for m in current if m in usable],
        key=f"rights_models_{scope}",
    )
    save, clear = st.columns(2)
    if save.button(t("Save"), key="rights_save", type="primary"):
        _act("Saved.", lambda: model_rights.set_rights(db, actor, user_id, chosen))
    if scope in lists and clear.button(t("Remove this list"), key="rights_clear"):
        _act("Removed.", lambda: model_rights.set_rights(db, actor, user_id, None))


def _act(label: str, action: Any) -> None:
    try:
        action()
    except UserError as exc:
        flash(str(exc))
    else:
        flash(label)
    st.rerun()
