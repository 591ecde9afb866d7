"""Derivation: each uploaded image is described by a text model, then an image model makes four
variants of it. One background job per image."""

from viba import studio, ui

ctx = ui.guard("Derivation", icon=":material/auto_awesome:")
with ui.boundary():
    studio.feature_page(ctx, "derivation")
