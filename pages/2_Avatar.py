"""Avatar: 1 to 3 reference photos of one person → a studio character portrait."""

import streamlit as st

from viba import pipelines, studio, ui
from viba.i18n import t

account = ui.guard("Avatar", icon=":material/face:")
settings, db = ui.boot()

st.title(t("Avatar"))
st.caption(t("avatar_intro"))
config = studio.gemini_config_or_help(settings)

with st.form("avatar", clear_on_submit=True):
    files = st.file_uploader(t("reference_photos"), type=studio.UPLOAD_TYPES,
                             accept_multiple_files=True)
    submitted = st.form_submit_button(t("generate"), type="primary", icon=":material/bolt:",
                                      disabled=config is None)

if submitted and config is not None:
    images, errors = studio.prepare(files or [], settings)
    if not files:
        st.warning(t("need_files"))
    elif len(files) > pipelines.MAX_AVATAR_PHOTOS:
        st.error(t("too_many").format(n=pipelines.MAX_AVATAR_PHOTOS))
    elif not errors and studio.submit(account, settings, db, "avatar", images, {}, config):
        st.toast(t("queued"), icon=":material/schedule:")

st.subheader(t("recent"))
studio.recent_jobs(account, settings, db, "avatar")
