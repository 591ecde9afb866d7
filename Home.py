"""Viba Studio: entry page. Logged out it is the login/register page; logged in, the start."""

import streamlit as st

from viba import ui

account = ui.guard("Home", icon=":material/home:")

st.title(f"Welcome, {account.full_name}")
st.write("Pick a tool to start. Every generation is kept in your History.")
cols = st.columns(4)
for col, item in zip(cols, ui.STUDIO_PAGES[1:5]):
    with col, st.container(border=True):
        st.page_link(item.path, label=item.label, icon=item.icon)
