"""Region edit under an output in History: draw a box with two range sliders over a preview,
say what to change; a job changes that box only (viba.studio.region_edit)."""

from __future__ import annotations

import io
from typing import Any

import streamlit as st
from PIL import Image, ImageDraw

from viba.core.errors import UserError
from viba.store.image_store import StorageError
from viba.studio.generations import GenerationView
from viba.web.boundary import action
from viba.web.browser_session import flash
from viba.web.context import PageContext
from viba.web.language import t


def _box(prefix: str) -> tuple[float, float, float, float]:
    left, right = st.session_state.get(f"{prefix}_x", (25, 75))
    top, bottom = st.session_state.get(f"{prefix}_y", (25, 75))
    return left / 100, top / 100, right / 100, bottom / 100


@action
def _edit(ctx: PageContext, view: GenerationView, prefix: str) -> None:
    key = view.output_keys[int(st.session_state.get(f"{prefix}_which") or 0)]
    words = st.session_state.get(f"{prefix}_words", "")
    ctx.runner.region_edit(ctx.account.id, view.id, key, _box(prefix), words, ctx.gemini_config())
    st.session_state[f"{prefix}_words"] = ""
    flash(t("queued"))


def _preview(data: bytes, box: tuple[float, float, float, float]) -> bytes:
    with Image.open(io.BytesIO(data)) as img:
        shown = img.convert("RGB")
    w, h = shown.size
    draw = ImageDraw.Draw(shown)
    rect = (box[0] * w, box[1] * h, box[2] * w - 1, box[3] * h - 1)
    draw.rectangle(rect, outline=(255, 40, 90), width=max(2, w // 150))
    out = io.BytesIO()
    shown.save(out, "PNG")
    return out.getvalue()


def region_box(ctx: PageContext, view: GenerationView, container: Any) -> None:
    prefix = f"region_{view.id}"
    with container.expander(t("edit_region"), icon=":material/crop_free:"):
        which = 0
        if len(view.output_keys) > 1:
            which = st.selectbox(
                t("which_outputs"),
                range(len(view.output_keys)),
                key=f"{prefix}_which",
                format_func=lambda i: t("output_n").format(n=i + 1),
            )
        sliders, picture = st.columns([1, 1])
        with sliders:
            st.slider(t("region_across"), 0, 100, (25, 75), key=f"{prefix}_x")
            st.slider(t("region_down"), 0, 100, (25, 75), key=f"{prefix}_y")
            st.text_area(t("region_words"), key=f"{prefix}_words", max_chars=2000)
            st.button(
                t("region_go"), key=f"{prefix}_go", icon=":material/auto_fix_high:",
                type="primary", on_click=_edit, args=(ctx, view, prefix),
            )  # fmt: skip
            st.caption(t("region_note"))
        try:
            preview = _preview(ctx.store.thumbnail(view.output_keys[which]), _box(prefix))
        except (StorageError, OSError, UserError):
            return
        picture.image(preview, width="stretch")
