"""History: your generations, newest first, with filters; `?id=` opens one."""

from viba import history_view, ui

ctx = ui.guard("History", icon=":material/history:")
with ui.boundary():
    history_view.history_page(ctx)
