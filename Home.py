"""Viba Studio: entry page. Logged out it is the login/register page; logged in, the start."""

import streamlit as st

from viba.core.text import md_escape
from viba.studio import features
from viba.web.guard import guard
from viba.web.language import t

ctx = guard(__file__)
st.title(t("Welcome, {name}").format(name=md_escape(ctx.account.full_name)))
st.write(t("Pick a tool to start. Every generation is kept in your History."))
for col, feature in zip(st.columns(len(features.all_features())), features.all_features()):
    with col, st.container(border=True):
        st.page_link(feature.page, label=t(feature.key), icon=feature.icon)
