"""Boards: named collections of outputs, shared with a role per member; `?board=` opens one."""

from viba.web import boards_view
from viba.web.boundary import boundary
from viba.web.guard import guard

ctx = guard(__file__)
with boundary():
    boards_view.boards_page(ctx)
