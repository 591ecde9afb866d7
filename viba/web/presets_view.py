"""Presets in the pages: the presets above a feature's form (thumbnail, name, Use, Delete)
and "Save as preset" under a generation in History. Checks are viba.studio.presets's."""

from __future__ import annotations

import uuid
from typing import Any

import streamlit as st

from viba.core.text import md_escape
from viba.studio import boards, presets
from viba.studio.features import Feature
from viba.studio.generations import GenerationView
from viba.web import thumbnails
from viba.web.boundary import action
from viba.web.browser_session import flash, session
from viba.web.context import PageContext
from viba.web.language import t

COLUMNS = 4


@action
def _use(ctx: PageContext, preset_id: uuid.UUID) -> None:
    session().prefill = presets.as_prefill(ctx.db, ctx.account, preset_id)
    flash(t("preset_used"))


@action
def _delete(ctx: PageContext, preset_id: uuid.UUID) -> None:
    presets.delete_preset(ctx.db, ctx.store, ctx.account, preset_id)
    flash(t("preset_deleted"))


def preset_strip(ctx: PageContext, feature: Feature) -> None:
    """The presets offered for this feature, each with its thumbnail: Use fills the form."""
    found = presets.offered(ctx.db, ctx.account, feature.key)
    if not found:
        return
    with st.expander(t("presets_n").format(n=len(found)), icon=":material/bookmarks:"):
        shown = thumbnails.refs(ctx.store, [p.thumb_key for p in found if p.thumb_key])
        cols = st.columns(COLUMNS)
        for n, preset in enumerate(found):
            with cols[n % COLUMNS]:
                image = shown.get(preset.thumb_key or "")
                if image is not None:
                    st.image(image, width="stretch")
                st.text(preset.name)  # plain text: a name is data
                whose = t("team_preset") if preset.team else t("your_preset")
                st.caption(md_escape(f"{whose} · {_summary(preset.settings)}"))
                use, drop = st.columns(2)
                use.button(
                    t("use_preset"), key=f"preset_use_{preset.id}", on_click=_use,
                    args=(ctx, preset.id),
                )  # fmt: skip
                if preset.owner_id == ctx.account.id or (preset.team and ctx.account.is_admin):
                    drop.button(
                        t("delete"), key=f"preset_del_{preset.id}", on_click=_delete,
                        args=(ctx, preset.id),
                    )  # fmt: skip


def _summary(settings: dict[str, Any]) -> str:
    options = settings.get("options") or {}
    return " · ".join(str(options[k]) for k in ("image_size", "aspect_ratio") if options.get(k))


@action
def _save(ctx: PageContext, view: GenerationView) -> None:
    name = st.session_state.get(f"preset_name_{view.id}", "")
    team = bool(st.session_state.get(f"preset_team_{view.id}"))
    presets.save(ctx.db, ctx.account, view.id, name, team=team)
    flash(t("preset_saved").format(name=" ".join(name.split())))


def save_popover(ctx: PageContext, view: GenerationView, container: Any) -> None:
    with container.popover(t("save_preset"), icon=":material/bookmark_add:", width="stretch"):
        st.text_input(t("preset_name"), key=f"preset_name_{view.id}", max_chars=boards.MAX_NAME)
        if ctx.account.is_admin:
            st.checkbox(t("preset_for_team"), key=f"preset_team_{view.id}")
        st.button(
            t("save"), key=f"preset_save_{view.id}", icon=":material/bookmark_add:",
            on_click=_save, args=(ctx, view),
        )  # fmt: skip
