"""The error boundary of a page run: a UserError shows its sentence, anything else is logged
and shown as one sentence; never a stack trace."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, NoReturn, ParamSpec

import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx

from viba.accounts import sessions
from viba.core.errors import UNEXPECTED, UserError
from viba.core.text import md_escape
from viba.store.db import Database
from viba.web.browser_session import session
from viba.web.language import t

log = logging.getLogger(__name__)
P = ParamSpec("P")


def fail(message: str) -> NoReturn:
    """Show one clear message and end the run (no stack trace)."""
    st.error(md_escape(t(message)), icon=":material/error:")
    st.stop()
    raise AssertionError("unreachable: st.stop() raises")


def still_logged_in(db: Database) -> bool:
    """Whether this browser's login is still live. The guard asks on every page run, but a
    widget's callback runs before the page, and a part of the page that runs alone (a
    fragment) skips the guard: what changes something asks first."""
    box = session()
    return box.session_id is not None and sessions.check(db, box.session_id) is not None


def in_part() -> bool:
    """Whether this run is of a part of the page alone (a fragment), not the whole page."""
    run = get_script_run_ctx()
    return bool(run is not None and run.fragment_ids_this_run)


def show_flash() -> None:
    """The toast a callback left for this run (viba.web.browser_session.flash), once."""
    box = session()
    if box.flash:
        message, box.flash = box.flash, None
        st.toast(md_escape(t(message)))


@contextmanager
def boundary() -> Iterator[None]:
    """Around a page's body: a UserError shows its sentence; anything else is logged with its
    trace and shown as one sentence. Streamlit's stop and rerun pass through."""
    try:
        yield
    except UserError as exc:
        st.error(md_escape(t(str(exc))), icon=":material/error:")
    except Exception:
        log.exception("a page failed")
        st.error(t(UNEXPECTED), icon=":material/error:")


def action(fn: Callable[P, Any]) -> Callable[P, None]:
    """A widget callback whose failure is shown as a toast on the next run, never a trace."""

    @functools.wraps(fn)
    def run(*args: P.args, **kwargs: P.kwargs) -> None:
        db = getattr(args[0], "db", None) if args else None  # a PageContext's
        try:  # the check too: the database may be down
            if isinstance(db, Database) and not still_logged_in(db):
                return  # ended elsewhere: the run that follows shows the login panel
            fn(*args, **kwargs)
        except UserError as exc:
            session().flash = str(exc)
        except Exception:
            log.exception("a callback failed")
            session().flash = UNEXPECTED

    return run
