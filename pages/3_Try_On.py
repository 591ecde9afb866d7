"""Try-On: Dress a person in a garment from another photo."""

import streamlit as st

from viba import ui

account = ui.guard("Try-On", icon=":material/checkroom:")

st.title("Try-On")
st.write("Dress a person in a garment from another photo.")
st.info("Coming next: this page is being built.", icon=":material/construction:")
