"""Swap: a person (an upload or one of your avatars) composed into a scene."""

import streamlit as st

from viba import studio, ui
from viba.i18n import t

account = ui.guard("Swap", icon=":material/swap_horiz:")
settings, db = ui.boot()

st.title(t("Swap"))
st.caption(t("swap_intro"))
config = studio.gemini_config_or_help(settings)
studio.two_image_form(account, settings, db, config, "swap", t("scene"), avatars=True)
st.subheader(t("recent"))
studio.recent_jobs(account, settings, db, "swap")
