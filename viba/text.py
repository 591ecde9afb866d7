"""Text from users and from the model, made safe for Streamlit's markdown elements."""

from __future__ import annotations

import re

# What can make a link, an image, HTML, code, emphasis, a table, a heading, maths or one of
# Streamlit's :color[...] directives; the rest of the text stays as it is.
_MARKDOWN_SPECIALS = re.compile(r"([\\`*_\[\]<>~$|#])")


def md_escape(text: str) -> str:
    """Text from a user or the model, made safe to put inside markdown: shown as written, no
    links, images, HTML or formatting."""
    return _MARKDOWN_SPECIALS.sub(r"\\\1", text)
