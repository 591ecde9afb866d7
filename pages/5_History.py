"""History: Every generation you made, with its inputs and outputs."""

import streamlit as st

from viba import ui

account = ui.guard("History", icon=":material/history:")

st.title("History")
st.write("Every generation you made, with its inputs and outputs.")
st.info("Coming next: this page is being built.", icon=":material/construction:")
