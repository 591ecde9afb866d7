"""Profile: your name, password and Gemini API key."""

from viba import profile_view, ui

ctx = ui.guard("Profile", icon=":material/person:")
with ui.boundary():
    profile_view.profile_page(ctx)
