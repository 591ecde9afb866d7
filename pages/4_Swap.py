"""Swap: Compose a person into a scene."""

import streamlit as st

from viba import ui

account = ui.guard("Swap", icon=":material/swap_horiz:")

st.title("Swap")
st.write("Compose a person into a scene.")
st.info("Coming next: this page is being built.", icon=":material/construction:")
