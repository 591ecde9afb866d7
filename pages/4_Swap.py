"""Swap: a person (an upload or one of your avatars) composed into a scene."""

from viba import studio, ui

ctx = ui.guard("Swap", icon=":material/swap_horiz:")
with ui.boundary():
    studio.feature_page(ctx, "swap")
