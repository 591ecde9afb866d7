"""Avatar: Turn 1-3 reference photos into a studio character portrait."""

import streamlit as st

from viba import ui

account = ui.guard("Avatar", icon=":material/face:")

st.title("Avatar")
st.write("Turn 1-3 reference photos into a studio character portrait.")
st.info("Coming next: this page is being built.", icon=":material/construction:")
