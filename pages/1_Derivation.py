"""Derivation: Describe an image with a text model, then make four variants of it."""

import streamlit as st

from viba import ui

account = ui.guard("Derivation", icon=":material/auto_awesome:")

st.title("Derivation")
st.write("Describe an image with a text model, then make four variants of it.")
st.info("Coming next: this page is being built.", icon=":material/construction:")
