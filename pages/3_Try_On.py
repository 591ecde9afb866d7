"""Try-On: a person image and a garment image → the person wearing the garment."""

from viba import studio, ui

ctx = ui.guard("Try-On", icon=":material/checkroom:")
with ui.boundary():
    studio.feature_page(ctx, "try_on")
