"""Text from users and from the model, made safe for Streamlit's markdown elements."""

from __future__ import annotations

import re

from viba.core.errors import UserError

# What can make a link, an image, HTML, code, emphasis, a table, a heading, maths or one of
# Streamlit's :color[...] directives; the rest of the text stays as it is.
_MARKDOWN_SPECIALS = re.compile(r"([\\`*_\[\]<>~$|#])")


class BadSearchText(UserError, ValueError):
    pass


def search_text(value: str, limit: int = 200) -> str:
    """Text typed into a search or filter box: refused (one sentence) when it holds control
    characters such as NUL, which no stored text contains and PostgreSQL refuses outright."""
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise BadSearchText("Search text cannot contain control characters; type it again.")
    return value[:limit]


def md_escape(text: str) -> str:
    """Text from a user or the model, made safe to put inside markdown: shown as written, no
    links, images, HTML or formatting."""
    return _MARKDOWN_SPECIALS.sub(r"\\\1", text)
