"""Images to the browser through the app's own HTTP routes (app.py), each address belonging to
a login.

A page shows a stored image by an address `/images/<kind>/<key>?s=<session>&t=<signature>`:
kind is `thumb` (the preview), `screen` (at screen size, made on first ask) or `image` (the
image as stored). The signature (HMAC-SHA256 with a key derived from VIBA_COOKIE_KEY) binds
the address to that login session and image; the route then checks that the session is still
live and that its user may see the image (one of their generations uses it, it is on a board
or a preset offered to them, or they are an admin). Anything else is one 404: a guessed,
altered, copied-after-logout or someone else's address learns nothing.

Thumbnails and screen-size images are made once and kept as files (ThumbCache); the answer is
private and immutable (an address names one image's content, for one login), so the browser
fetches each once.
"""

from __future__ import annotations

import logging
import uuid
from pathlib import Path

from sqlalchemy import or_, select
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route

from viba import services
from viba.accounts import sessions
from viba.core.config import Settings, get_settings
from viba.store.db import Database, DatabaseUnavailable
from viba.store.image_store import KEY_RE, MIME_BY_EXT, StorageError
from viba.studio import boards, generations, presets
from viba.web import thumbnails
from viba.web.addresses import signed_session

log = logging.getLogger(__name__)

KINDS = ("thumb", "screen", "image")
CACHE = "private, max-age=31536000, immutable"


def not_found() -> Response:
    """The one answer to anything that is not an image this login may see, or not its live
    address (viba.web.live): a new object per request (a middleware that adds a header to a
    shared one would add it to all)."""
    return Response("Not found.", status_code=404, media_type="text/plain")


def _served(settings: Settings, kind: str, key: str, sid: str, token: str) -> Response:
    session_id = signed_session(settings, kind, key, sid, token)
    if session_id is None:
        return not_found()
    found = services.services(settings)
    if not _may_see(found.db, session_id, key):
        return not_found()
    headers = {"Cache-Control": CACHE, "X-Content-Type-Options": "nosniff"}
    if kind == "image":
        data = found.store.load(key)
        return Response(data, media_type=MIME_BY_EXT[key.rsplit(".", 1)[1]], headers=headers)
    path = thumbnails.process_cache(kind).file_for(found.store, key)
    if isinstance(path, Path):
        return FileResponse(path, media_type="image/webp", headers=headers)
    if path is None:
        return not_found()
    return Response(path, media_type="image/webp", headers=headers)


def _may_see(db: Database, session_id: uuid.UUID, key: str) -> bool:
    """The login is live and its account may see the image (its own generations', an
    admin's, a board's it is on, a preset's offered to it): one transaction, one question."""
    with db.session() as s:  # sessions.check inside takes this same session
        account = sessions.check(db, session_id)
        if account is None:
            return False
        ways = (
            generations.image_visible(account.id, account.is_admin, key),
            boards.image_visible(account.id, key),
            presets.image_visible(account.id, key),
        )
        return bool(s.scalar(select(or_(*(way.exists() for way in ways)))))


async def media(request: Request) -> Response:
    kind, key = request.path_params["kind"], request.path_params["key"]
    sid, token = request.query_params.get("s", ""), request.query_params.get("t", "")
    if kind not in KINDS or not KEY_RE.match(key) or len(sid) != 32 or len(token) != 32:
        return not_found()
    try:
        return await run_in_threadpool(_served, get_settings(), kind, key, sid, token)
    except (DatabaseUnavailable, StorageError) as exc:
        log.warning("an image could not be served: %s", exc)
        return Response(
            "The image cannot be read right now; reload the page.",
            status_code=503,
            media_type="text/plain",
        )


async def health(request: Request) -> Response:
    """200 when the process serves and reaches its database and job queue, else 503 with
    what is wrong (no detail of the database's address)."""
    checks = await run_in_threadpool(_health, get_settings())
    ok = all(v == "ok" for v in checks.values())
    return JSONResponse(
        {"status": "ok" if ok else "unavailable", **checks},
        status_code=200 if ok else 503,
        headers={"Cache-Control": "no-store"},
    )


def _health(settings: Settings) -> dict[str, str]:
    try:
        found = services.services(settings)
    except Exception as exc:  # the database cannot be reached or migrated
        log.warning("health: %s", exc)
        return {"database": "unreachable", "queue": "unknown"}
    database = "ok" if found.db.ping() else "unreachable"
    return {"database": database, "queue": found.queue_health()}


ROUTES = [
    Route("/health", health, methods=["GET", "HEAD"]),
    Route("/images/{kind}/{key:path}", media, methods=["GET", "HEAD"]),
]
