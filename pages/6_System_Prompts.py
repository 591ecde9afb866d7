"""System Prompts: The prompt and model of every feature step."""

import streamlit as st

from viba import ui

account = ui.guard("System Prompts", icon=":material/tune:")

st.title("System Prompts")
st.write("The prompt and model of every feature step.")
st.info("Coming next: this page is being built.", icon=":material/construction:")
