"""Profile: your name, password and Gemini API key."""

from viba.web import profile_view
from viba.web.boundary import boundary
from viba.web.guard import guard

ctx = guard(__file__)
with boundary():
    profile_view.profile_page(ctx)
