"""Every page keeps an eye on its owner's jobs: the browser tab's title counts the ones running,
and a job that finishes while its owner is on another page shows a toast there.

Each page run reads the user's unfinished jobs (one small query); only while there are some
does a fragment look again every WATCH_SECONDS, so an idle page costs nothing. A job is
announced on any page but its own feature's, whose job card already shows it.
"""

from __future__ import annotations

import uuid

import streamlit as st

from viba.studio import features, generations
from viba.web import context
from viba.web.boundary import boundary
from viba.web.browser_session import session
from viba.web.language import t

WATCH_SECONDS = 2.0


def watch(ctx: context.PageContext, title: str, feature: str | None = None) -> None:
    """At the top of a page (from its guard): the title with the running count, and, while
    jobs run, a watcher that says when each is done (on a feature's page, not of its own
    jobs: their cards show it)."""
    running = _look(ctx, title, feature)
    if running:
        _watcher(ctx, title, feature)


@st.fragment(run_every=WATCH_SECONDS)
def _watcher(ctx: context.PageContext, title: str, feature: str | None) -> None:
    with boundary():
        if not _look(ctx, title, feature):
            st.rerun(scope="app")  # nothing left to watch: the page runs once, without it


def _look(ctx: context.PageContext, title: str, feature: str | None) -> int:
    """Announce the watched jobs that ended, note the new ones; the running count."""
    box = session()
    watched: dict[uuid.UUID, str] = dict(box.watched_jobs or {})
    now = generations.statuses(ctx.db, ctx.account.id, also=watched)
    running = {job: kind for job, (kind, status) in now.items() if status in generations.UNFINISHED}
    for job, kind in watched.items():
        if job in running:
            continue
        status = now.get(job, (kind, "deleted"))[1]
        if kind != feature and status in ("completed", "failed"):
            word = t("job_done" if status == "completed" else "job_failed")
            st.toast(word.format(feature=t(kind)), icon=_icon(kind, status))
    box.watched_jobs = running
    count = len(running)
    st.set_page_config(page_title=(f"({count}) " if count else "") + f"{t(title)} · Viba Studio")
    return count


def _icon(kind: str, status: str) -> str:
    if status == "failed":
        return ":material/error:"
    try:
        return features.get(kind).icon
    except features.InputError:
        return ":material/check_circle:"
