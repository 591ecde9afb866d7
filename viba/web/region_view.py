"""Region edit under an output in History: mark the part to change (a box with two range
sliders over a preview, or a brush painted over the output, brush.js), say what to change; a
job changes that part only (viba.studio.region_edit)."""

from __future__ import annotations

import base64
import io
from pathlib import Path
from typing import Any

import streamlit as st
from PIL import Image, ImageDraw

from viba.core.errors import UserError
from viba.engine.region import Brush
from viba.store.image_store import StorageError
from viba.studio.generations import GenerationView
from viba.web.boundary import action
from viba.web.browser_session import flash
from viba.web.context import PageContext
from viba.web.language import t
from viba.web.thumbnails import refs

BOX, BRUSH = "box", "brush"
BRUSH_SIZES = {"small": 0.015, "medium": 0.035, "large": 0.07}  # radius, share of the width

_brush = st.components.v2.component(
    "viba_brush",
    js=Path(__file__).with_name("brush.js").read_text(encoding="utf-8"),
    css=(
        ".viba-brush .frame{position:relative;line-height:0;touch-action:none}"
        ".viba-brush img{width:100%;user-select:none}"
        ".viba-brush canvas{position:absolute;inset:0;width:100%;height:100%;opacity:.55;"
        "cursor:crosshair}"
        ".viba-brush .tools{display:flex;gap:.5rem;margin-top:.5rem}"
        ".viba-brush button{font:inherit;padding:.25rem .75rem;border-radius:.5rem;"
        "border:1px solid var(--st-border-color, #ccc);background:transparent;"
        "color:inherit;cursor:pointer}"
    ),
)


def _box(prefix: str) -> tuple[float, float, float, float]:
    left, right = st.session_state.get(f"{prefix}_x", (25, 75))
    top, bottom = st.session_state.get(f"{prefix}_y", (25, 75))
    return left / 100, top / 100, right / 100, bottom / 100


def _strokes(prefix: str) -> Any:
    """The brush's strokes as the browser sent them (checked by Brush.parse)."""
    state: Any = st.session_state.get(f"{prefix}_brush")
    return state.get("strokes") if hasattr(state, "get") else None


@action
def _edit(ctx: PageContext, view: GenerationView, prefix: str) -> None:
    key = view.output_keys[int(st.session_state.get(f"{prefix}_which") or 0)]
    words = st.session_state.get(f"{prefix}_words", "")
    painted = st.session_state.get(f"{prefix}_mode") == BRUSH
    mark = Brush.parse(_strokes(prefix)) if painted else _box(prefix)
    ctx.runner.region_edit(ctx.account.id, view.id, key, mark, words, ctx.gemini_config())
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
        mode = st.segmented_control(
            t("region_mode"), [BOX, BRUSH], key=f"{prefix}_mode", default=BOX,
            format_func=lambda m: t(f"region_{m}"),
        ) or BOX  # fmt: skip
        tools, picture = st.columns([1, 1])
        with tools:
            if mode == BOX:
                st.slider(t("region_across"), 0, 100, (25, 75), key=f"{prefix}_x")
                st.slider(t("region_down"), 0, 100, (25, 75), key=f"{prefix}_y")
            else:
                st.select_slider(
                    t("brush_size"), list(BRUSH_SIZES), key=f"{prefix}_size", value="medium",
                    format_func=lambda s: t(f"brush_{s}"),
                )  # fmt: skip
                st.caption(t("brush_hint"))
            st.text_area(t("region_words"), key=f"{prefix}_words", max_chars=2000)
            st.button(
                t("region_go"), key=f"{prefix}_go", icon=":material/auto_fix_high:",
                type="primary", on_click=_edit, args=(ctx, view, prefix),
            )  # fmt: skip
            st.caption(t("region_note"))
        key = view.output_keys[which]
        if mode == BRUSH:
            with picture:
                _painter(ctx, key, prefix)
            return
        try:
            preview = _preview(ctx.store.thumbnail(key), _box(prefix))
        except (StorageError, OSError, UserError):
            return
        picture.image(preview, width="stretch")


def _painter(ctx: PageContext, key: str, prefix: str) -> None:
    """The brush over the output's thumbnail (by address where the app serves images)."""
    try:
        found = refs(ctx.store, [key]).get(key)
    except (StorageError, OSError):
        found = None
    if found is None:
        return
    src = found if isinstance(found, str) else (
        "data:image/webp;base64," + base64.b64encode(found).decode()
    )  # fmt: skip
    try:  # what the browser sent goes back to it only as a checked painting
        Brush.parse(strokes := _strokes(prefix))
    except UserError:
        strokes = []
    _brush(
        key=f"{prefix}_brush",
        data={
            "src": src,
            "radius": BRUSH_SIZES.get(str(st.session_state.get(f"{prefix}_size")), 0.035),
            "strokes": strokes,
            "labels": {"undo": t("brush_undo"), "clear": t("brush_clear")},
        },
        default={"strokes": []},
        on_strokes_change=lambda: None,
    )
