"""System Prompts: the prompt and the model of every feature step."""

from viba.web import prompts_view
from viba.web.boundary import boundary
from viba.web.guard import guard

ctx = guard(__file__)
with boundary():
    prompts_view.system_prompts_page(ctx)
