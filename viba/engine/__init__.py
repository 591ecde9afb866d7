"""Talking to Gemini: the SDK adapter (gemini), the model catalog (catalog), the pipelines a
feature runs (pipelines), the built-in prompts (prompts), upload decoding (images) and which
models a key can call (availability). Knows no database, no Streamlit and no feature: the
step-to-capability map is handed to it. Imports viba.core and viba.i18n only."""
