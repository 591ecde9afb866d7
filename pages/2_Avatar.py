"""Avatar: 1 to 3 reference photos of one person → a studio character portrait."""

from viba import studio, ui

ctx = ui.guard("Avatar", icon=":material/face:")
with ui.boundary():
    studio.feature_page(ctx, "avatar")
