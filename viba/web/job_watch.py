"""Every page keeps an eye on its owner's jobs: the browser tab's title counts the ones running,
and a job that finishes while its owner is on another page shows a toast there.

Each page run reads the user's unfinished jobs (one small query); only while there are some
does the page's watcher (viba.web.live) ask whether they are still the ones running, and run
the page again when not, so an idle page costs nothing. A job is announced on any page but its
own feature's, whose job card already shows it.
"""

from __future__ import annotations

import uuid

import streamlit as st

from viba.studio import features, generations
from viba.web import context, live
from viba.web.browser_session import session
from viba.web.language import t


def watch(ctx: context.PageContext, title: str, feature: str | None = None) -> None:
    """At the top of a page (from its guard): the title with the running count, and, while
    jobs run, a watcher that runs the page again when one ends that the page does not draw
    (then says so, on a feature's page not of its own jobs: their cards show it)."""
    running = _look(ctx, title, feature)
    session().watching = title
    if running:
        live.watch_running(running)


def started(jobs: dict[uuid.UUID, str]) -> None:
    """Jobs (id -> feature) queued after the page's watch (a submit runs only its form's
    part of the page): the title counts them now. Their cards, drawn by that part, watch
    them, and the count follows what the cards hear (viba.web.live)."""
    box = session()
    if not jobs or box.watching is None:
        return
    box.watched_jobs = {**(box.watched_jobs or {}), **jobs}
    _title(box.watching, len(box.watched_jobs))


def _look(ctx: context.PageContext, title: str, feature: str | None) -> list[uuid.UUID]:
    """Announce the watched jobs that ended, note the new ones; the running ones."""
    box = session()
    watched: dict[uuid.UUID, str] = dict(box.watched_jobs or {})
    now = generations.statuses(ctx.db, ctx.account.id, also=watched)
    newest = generations.newest_running((job, state.status) for job, state in now.items())
    running = {job: now[job].kind for job in newest}
    for job, kind in watched.items():
        if job in running:
            continue
        status = now[job].status if job in now else "deleted"
        if kind != feature and status in ("completed", "failed"):
            word = t("job_done" if status == "completed" else "job_failed")
            st.toast(word.format(feature=t(kind)), icon=_icon(kind, status))
    box.watched_jobs = running
    _title(title, len(running))
    return list(running)


def _title(title: str, count: int) -> None:
    st.set_page_config(page_title=(f"({count}) " if count else "") + f"{t(title)} · Viba Studio")


def _icon(kind: str, status: str) -> str:
    if status == "failed":
        return ":material/error:"
    try:
        return features.get(kind).icon
    except features.InputError:
        return ":material/check_circle:"
