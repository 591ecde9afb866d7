"""Downloads too large to hold, streamed by the app's own route: a board's zip.

Streamlit's download button makes what it offers when clicked and holds it in the web's memory
(its media store) to serve it, and the zip was made whole first: a board holds up to 500
outputs, a gigabyte or more at 2K or 4K, past Render starter's 512 MB by itself. Here the
page links to `/boards/<id>/zip?s=<session>&t=<signature>`, and the route writes the zip a
piece at a time, each output read from the store when its piece is sent
(viba.studio.history.picked_zip_parts): one output in memory at once, however large the board.

The address belongs to one login, as an image's does (viba.web.addresses): signed for its
session and the board, the session checked when it is asked, and the board's own rule of who
may see it (viba.studio.boards). Anything else is the media route's one 404.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from viba import services
from viba.accounts import sessions
from viba.core.config import Settings, get_settings
from viba.store.db import DatabaseUnavailable
from viba.store.image_store import StorageError
from viba.studio import boards
from viba.web import addresses, media, thumbnails

log = logging.getLogger(__name__)

_KIND = "board-zip"  # the signature's kind: this route's, not an image's


def board_zip_address(settings: Settings, session_id: uuid.UUID, board_id: uuid.UUID) -> str:
    token = addresses.signature(settings, _KIND, board_id.hex, session_id)
    return f"/boards/{board_id.hex}/zip?s={session_id.hex}&t={token}"


def board_zip_here(board_id: uuid.UUID) -> str | None:
    """The zip's address for this run's login, or None where the page cannot link to it (no
    login, the routes not mounted: `streamlit run Home.py`, AppTest)."""
    here = thumbnails.page_login()
    return None if here is None else here[0] + board_zip_address(get_settings(), here[1], board_id)


def _parts(settings: Settings, board: str, sid: str, token: str) -> Iterator[bytes] | None:
    """The zip's pieces, once the address, its login and the board are checked; else None."""
    try:
        board_id = uuid.UUID(hex=board)
    except ValueError:
        return None
    session_id = addresses.signed_session(settings, _KIND, board_id.hex, sid, token)
    if session_id is None:
        return None
    found = services.services(settings)
    account = sessions.check(found.db, session_id)
    if account is None:
        return None
    try:
        return boards.board_zip_parts(found.db, found.store, account, board_id)
    except boards.BoardError:  # not a board this login may see: the same 404
        return None


def _logged(parts: Iterator[bytes], board: str) -> Iterator[bytes]:
    """The pieces; a store that fails midway is said in the log and breaks the connection, so
    the browser says the download failed (ending the stream would hand it a zip cut short
    as if it were whole)."""
    try:
        yield from parts
    except (DatabaseUnavailable, StorageError) as exc:
        log.warning("the zip of board %s stopped: %s", board, exc)
        raise


async def board_zip(request: Request) -> Response:
    board = request.path_params["board"]
    sid, token = request.query_params.get("s", ""), request.query_params.get("t", "")
    if len(board) != 32 or len(sid) != 32 or len(token) != 32:
        return media.not_found()
    try:
        parts = await run_in_threadpool(_parts, get_settings(), board, sid, token)
    except DatabaseUnavailable as exc:
        log.warning("a board's zip could not be started: %s", exc)
        return Response("Try again in a moment.", status_code=503, media_type="text/plain")
    if parts is None:
        return media.not_found()
    headers = {
        "Content-Disposition": f'attachment; filename="viba-board-{board[:8]}.zip"',
        "Cache-Control": "no-store",
        "X-Content-Type-Options": "nosniff",
    }
    # A plain iterator: Starlette asks for each piece in a worker thread, so the event loop
    # never waits on the store, and the next output is read only once this one is sent.
    return StreamingResponse(_logged(parts, board), media_type="application/zip", headers=headers)


ROUTES = [Route("/boards/{board}/zip", board_zip, methods=["GET"])]
