"""Unfinished jobs redrawn when they change, not on a timer.

A part of a page that shows unfinished generations (a job card, a Compare cell, History's
detail or list) draws them once and hands the browser what it drew: each job's version
(generations.live_version). The page's watcher (viba.web.job_watch) hands it the ids of its
owner's running jobs. A script in the page (live.js) keeps one request open to the app's own
route `/live`, which answers when the versions or the running jobs differ from its last answer;
only a part whose jobs changed runs again (its fragment). When the running jobs changed (one
ended, one began), the whole page runs again, unless each job that began or ended is drawn
by a part of the page: a job card or Compare cell draws its job finished, actions and all, in
its own run, and the script keeps the tab's title count (a Derivation then costs the web no
page run when it ends, only its card's).

The route answers every waiting request of the process from one query a second (Hub): a page
waiting on a job costs the web no script run and no query of its own, where a fragment polling
on a timer cost a script run a second per part and the watcher another every two (most of the
web's CPU while 20 people waited, bench/shapes.py).

The route's address belongs to one login, as an image's does (viba.web.addresses): signed for
its session, and the session is checked on every request; it tells only the versions of that
user's own generations.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import re
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import streamlit as st
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from viba import services
from viba.accounts import sessions
from viba.core.config import Settings, get_settings
from viba.store.db import Database, DatabaseUnavailable
from viba.studio import generations
from viba.web import addresses, media, thumbnails
from viba.web.boundary import boundary, show_flash
from viba.web.browser_session import session

log = logging.getLogger(__name__)

POLL_SECONDS = 1.0  # how often the rows are looked at; a variant shows within this of being stored
MAX_IDS = 60  # jobs one page asks about at most (6 cards of 4 models, a History page of 24)
_KIND = "live"  # the signature's kind: an address for this route, not for an image

_component = st.components.v2.component(
    "viba_live", js=Path(__file__).with_name("live.js").read_text(encoding="utf-8")
)


class Drawn(Protocol):
    """A generation as a part drew it."""

    @property
    def id(self) -> uuid.UUID: ...

    @property
    def status(self) -> str: ...

    @property
    def version(self) -> str: ...


def address(settings: Settings, session_id: uuid.UUID) -> str:
    """The route's address for one login session (ids go after it: `&ids=<hex>,<hex>`)."""
    token = addresses.signature(settings, _KIND, "", session_id)
    return f"/live?s={session_id.hex}&t={token}"


def _address() -> str | None:
    """The route's address for this run's login, or None where the page cannot ask it (no
    login, the routes not mounted: `streamlit run Home.py`, AppTest)."""
    here = thumbnails.page_login()
    return None if here is None else here[0] + address(get_settings(), here[1])


def _mount(key: str, jobs: dict[str, str], running: list[str] | None, done: bool = False) -> None:
    """done: every job of the part has ended; the script no longer asks about them, but knows
    the page draws them."""
    url = _address()
    if url is None:
        return
    data = {
        "url": url,
        "jobs": jobs,
        "running": running,
        "done": done,
        "every": int(POLL_SECONDS * 1000),
    }
    _component(key=key, data=data, on_changed_change=lambda: None)


def watch_running(running: Sequence[uuid.UUID]) -> None:
    """The page's watcher (outside any fragment, in the sidebar, where it takes no room from
    the page): the whole page runs again when the owner's running jobs are no longer these."""
    with st.sidebar:
        _mount("live_running", {}, sorted(job.hex for job in running))


def part(name: str, draw: Callable[[], Sequence[Drawn]], ends_here: bool = False) -> None:
    """Draw a part of the page that shows unfinished generations, and draw it again (alone)
    whenever one of them changes. Once none of them runs any more: with ends_here, the part
    draws them finished itself (a job card, its actions and all: a click on one runs this
    part, and an action that changes more of the page runs the page); else the whole page
    runs again. `draw` returns the generations it drew; `name` keeps the part's place apart
    from the page's other parts."""

    @st.fragment
    def live_part() -> None:
        with boundary():
            show_flash()  # what an action of this part said (cancelled, added to a board)
            drawn = draw()
            done = all(d.status not in generations.UNFINISHED for d in drawn)
            if done and not ends_here:
                st.rerun(scope="app")
            watched = session().watched_jobs
            if done and watched:  # seen ending here: not announced on another page
                for d in drawn:
                    watched.pop(d.id, None)
            _mount(f"live_{name}", {d.id.hex: d.version for d in drawn}, None, done)

    live_part()


# --- the route ------------------------------------------------------------------------------
#
# GET /live?s=<session>&t=<signature>&ids=<hex>,<hex>&v=<digest>: {jobs: {id: version} of the
# asked ids that are the login's own, running: the newest unfinished ids of the login's user,
# v: a digest of both}. Without v it answers at once; with the v of its last answer it waits
# (up to HOLD_SECONDS) until the answer would differ. The waiting requests of the process are
# answered from one query a POLL_SECONDS for all of them (Hub), so a page waiting on a job
# costs no query of its own: a request when something changed, and one per HOLD_SECONDS.

HOLD_SECONDS = 10.0  # at most this long a request waits (a deploy waits for it as well)
MAX_WAITING = 2000  # requests held at once; past this one is answered at once


def _ids(text: str) -> list[uuid.UUID] | None:
    """The asked ids (hex, comma separated, at most MAX_IDS), or None when any is not one."""
    if not text:
        return []
    parts = text.split(",")
    if len(parts) > MAX_IDS or any(len(p) != 32 for p in parts):
        return None
    try:
        return [uuid.UUID(hex=p) for p in parts]
    except ValueError:
        return None


def _state(
    rows: Sequence[generations.LiveRow], user_id: uuid.UUID, ids: Sequence[uuid.UUID]
) -> dict[str, Any]:
    """What the route answers one login, from rows of several users: its own only."""
    mine = [r for r in rows if r.user_id == user_id]
    wanted = set(ids)
    body: dict[str, Any] = {
        "jobs": {r.id.hex: r.version for r in mine if r.id in wanted},
        "running": sorted(
            job.hex for job in generations.newest_running((r.id, r.status) for r in mine)
        ),
    }
    digest = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()[:16]
    return body | {"v": digest}


@dataclass(eq=False)
class _Waiter:
    user_id: uuid.UUID
    ids: tuple[uuid.UUID, ...]
    known: str  # the digest of the answer the page has
    answer: asyncio.Future[dict[str, Any]]
    last: dict[str, Any] | None = None  # the state as last looked at


class Hub:
    """The process's waiting requests and the one query a POLL_SECONDS that answers them.
    Used on the event loop only (no lock): the query runs in a thread."""

    def __init__(self, db: Database, every: float = POLL_SECONDS) -> None:
        self.db = db
        self.every = every
        self._waiting: set[_Waiter] = set()
        self._looking: asyncio.Task[None] | None = None

    async def now(self, user_id: uuid.UUID, ids: Sequence[uuid.UUID]) -> dict[str, Any]:
        rows = await run_in_threadpool(generations.live_rows, self.db, [user_id], ids)
        return _state(rows, user_id, ids)

    async def changed(
        self, user_id: uuid.UUID, ids: Sequence[uuid.UUID], known: str, hold: float
    ) -> dict[str, Any]:
        """The login's state once it differs from `known`, or as it is after `hold`."""
        if len(self._waiting) >= MAX_WAITING:
            return await self.now(user_id, ids)
        waiter = _Waiter(user_id, tuple(ids), known, asyncio.get_running_loop().create_future())
        self._waiting.add(waiter)
        if self._looking is None or self._looking.done():
            self._looking = asyncio.create_task(self._look())
        try:
            return await asyncio.wait_for(asyncio.shield(waiter.answer), hold)
        except TimeoutError:
            return waiter.last if waiter.last is not None else await self.now(user_id, ids)
        finally:
            self._waiting.discard(waiter)

    async def _look(self) -> None:
        while self._waiting:
            await asyncio.sleep(self.every)
            batch = [w for w in self._waiting if not w.answer.done()]
            if not batch:
                continue
            users = {w.user_id for w in batch}
            ids = {job for w in batch for job in w.ids}
            try:
                rows = await run_in_threadpool(generations.live_rows, self.db, users, ids)
            except DatabaseUnavailable as exc:  # the requests' holds end; the pages ask again
                log.warning("live versions could not be read: %s", exc)
                continue
            except Exception:  # the loop goes on: a request held is answered at its hold's end
                log.exception("live versions could not be read")
                continue
            for waiter in batch:
                waiter.last = _state(rows, waiter.user_id, waiter.ids)
                if waiter.last["v"] != waiter.known and not waiter.answer.done():
                    waiter.answer.set_result(waiter.last)


_the_hub: Hub | None = None


def _hub(db: Database) -> Hub:
    """The process's hub (made on the event loop, so no lock)."""
    global _the_hub
    if _the_hub is None or _the_hub.db is not db:
        _the_hub = Hub(db)
    return _the_hub


def _login(settings: Settings, sid: str, token: str) -> uuid.UUID | None:
    """The user of the address's login, while the login lasts."""
    session_id = addresses.signed_session(settings, _KIND, "", sid, token)
    if session_id is None:
        return None
    account = sessions.check(services.services(settings).db, session_id)
    return account.id if account is not None else None


async def live(request: Request) -> Response:
    query = request.query_params
    sid, token, known = query.get("s", ""), query.get("t", ""), query.get("v", "")
    ids = _ids(query.get("ids", ""))
    if ids is None or len(sid) != 32 or len(token) != 32 or not _DIGEST.fullmatch(known):
        return media.not_found()
    settings = get_settings()
    try:
        user_id = await run_in_threadpool(_login, settings, sid, token)
        if user_id is None:
            return media.not_found()
        hub = _hub(services.services(settings).db)
        body = await (
            hub.changed(user_id, ids, known, HOLD_SECONDS) if known else hub.now(user_id, ids)
        )
    except DatabaseUnavailable as exc:
        log.warning("live versions could not be read: %s", exc)
        return Response("Try again.", status_code=503, media_type="text/plain")
    return JSONResponse(body, headers={"Cache-Control": "no-store"})


_DIGEST = re.compile(r"(?:[0-9a-f]{16})?")

ROUTES = [Route("/live", live, methods=["GET"])]
