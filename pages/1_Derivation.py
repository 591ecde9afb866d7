"""Derivation: each uploaded image is described by a text model, then an image model makes four
variants of it. One background job per image."""

import streamlit as st

from viba import prompts, studio, ui
from viba.i18n import t

account = ui.guard("Derivation", icon=":material/auto_awesome:")
settings, db = ui.boot()

st.title(t("Derivation"))
st.caption(t("derivation_intro"))
config = studio.gemini_config_or_help(settings)

with st.form("derivation", clear_on_submit=True):
    files = st.file_uploader(t("images_to_derive"), type=studio.UPLOAD_TYPES,
                             accept_multiple_files=True)
    left, right = st.columns(2)
    creativity = left.slider(t("creativity"), 1, 10, 5, help=t("creativity_help"))
    skin = right.selectbox(t("skin_tone"), [None, *prompts.SKIN_TONES],
                           format_func=lambda v: t("keep_skin") if v is None else v)
    submitted = st.form_submit_button(t("generate"), type="primary", icon=":material/bolt:",
                                      disabled=config is None)

if submitted and config is not None:
    images, errors = studio.prepare(files or [], settings)
    if not files:
        st.warning(t("need_files"))
    queued = [studio.submit(account, settings, db, "derivation", [image],
                            {"creativity": creativity, "skin_tone": skin}, config)
              for image in images]
    if any(queued):
        st.toast(t("queued"), icon=":material/schedule:")

st.subheader(t("recent"))
studio.recent_jobs(account, settings, db, "derivation")
