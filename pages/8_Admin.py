"""Admin: users, generations, usage and the audit log (admins only; `?gen=` opens any
generation)."""

from viba import admin_view, ui

ctx = ui.guard("Admin", icon=":material/admin_panel_settings:", admin=True)
with ui.boundary():
    admin_view.admin_page(ctx)
