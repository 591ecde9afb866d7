"""System Prompts: the prompt and the model of every feature step."""

from viba import prompts_view, ui

ctx = ui.guard("System Prompts", icon=":material/tune:")
with ui.boundary():
    prompts_view.system_prompts_page(ctx)
