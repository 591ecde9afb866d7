"""Viba Studio: all application logic (no page code). Importable without a Streamlit server."""
