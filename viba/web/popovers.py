"""Popovers whose content runs only while they are open.

A plain st.popover runs its content on every page run, open or not: a job card's outputs each
had a Refine form and a Use as input picker, so a page of 6 cards drew 48 widgets nobody had
opened, and Streamlit copies the whole session state for each text area and selectbox it
draws (bench/page_run.py). Opened with on_change="rerun", the popover tracks its state
(opening or closing it reruns the page) and its content is drawn only while it is open.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


@contextmanager
def lazy_popover(container: Any, label: str, icon: str, key: str) -> Iterator[bool]:
    """`with lazy_popover(...) as shown:` inside the popover; draw its content only if shown.
    key: the popover's widget key (st.session_state[key] is whether it is open)."""
    popover = container.popover(label, icon=icon, width="stretch", key=key, on_change="rerun")
    with popover:
        yield bool(popover.open)
