"""Operator commands, run as `python -m viba.commands.<name>`: live_check (every feature
against the real Gemini) and move_images (copy the stored images to another backend). Build
what they need through viba.services."""
