"""The app's entry for `streamlit run app.py`: the pages (Home.py and pages/, as before) and the
app's own HTTP routes beside them (Streamlit 1.67 runs on Starlette):

- `/health`: the process serves and reaches its database and job queue (Render's health check)
- `/images/<kind>/<key>`: stored images for the pages, each address tied to a login session
- `/live`: the versions of a login's unfinished jobs, asked by its pages (viba.web.live)
- `/s/<token>`: a share link's read-only page for people without an account (and its images)
- `/boards/<id>/zip`: a board's outputs as one zip, streamed, for a login that may see it

Files picked in an uploader wait on disk until Generate (viba.web.uploads), not in memory.

At start the process builds its services and starts the job runner (with VIBA_WORKER=in-process
its worker, which picks up the queue's waiting jobs at once, before any page is opened).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import streamlit as st
from starlette.concurrency import run_in_threadpool

from viba import services
from viba.core.config import get_settings
from viba.web import addresses, downloads, live, media, share_page, uploads

log = logging.getLogger("viba.app")


def _start() -> None:
    try:
        services.services(get_settings()).start_runner()
    except Exception:  # the first page run says what is wrong, and tries again
        log.exception("the app's services could not start; pages will retry")


def _stop() -> None:
    """A deploy's SIGTERM: uvicorn has stopped serving; the worker of this process (if any)
    lets its running jobs finish for up to VIBA_SHUTDOWN_GRACE_SECONDS, then hands the rest
    back to the queue. uvicorn then ends the process by the signal it got."""
    try:
        services.services(get_settings()).stop_runner()
    except Exception:
        log.exception("the job runner did not stop cleanly")


@asynccontextmanager
async def lifespan(app: Any) -> AsyncIterator[None]:
    uploads.spool_this_process()
    await run_in_threadpool(_start)
    yield
    await run_in_threadpool(_stop)


addresses.routes_mounted()
app = st.App(
    "Home.py",
    routes=[*media.ROUTES, *live.ROUTES, *share_page.ROUTES, *downloads.ROUTES],
    lifespan=lifespan,
)
