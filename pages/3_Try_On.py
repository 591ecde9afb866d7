"""Try-On: a person image and a garment image → the person wearing the garment."""

import streamlit as st

from viba import studio, ui
from viba.i18n import t

account = ui.guard("Try-On", icon=":material/checkroom:")
settings, db = ui.boot()

st.title(t("Try-On"))
st.caption(t("try_on_intro"))
config = studio.gemini_config_or_help(settings)
studio.two_image_form(account, settings, db, config, "try_on", t("garment"))
st.subheader(t("recent"))
studio.recent_jobs(account, settings, db, "try_on")
