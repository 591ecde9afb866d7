"""Admin: users, generations, usage and the audit log (admins only; `?gen=` opens any
generation)."""

from viba.web import admin_view
from viba.web.boundary import boundary
from viba.web.guard import guard

ctx = guard(__file__)
with boundary():
    admin_view.admin_page(ctx)
