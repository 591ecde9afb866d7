"""History: your generations, newest first, with filters; `?id=` opens one."""

from viba.web import history_view
from viba.web.boundary import boundary
from viba.web.guard import guard

ctx = guard(__file__)
with boundary():
    history_view.history_page(ctx)
