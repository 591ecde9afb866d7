"""Downloads too large to hold, streamed by the app's own routes: a board's zip, and a
generation's (its outputs, or everything: outputs, inputs, description and settings).

Streamlit's download button makes what it offers when clicked and holds it in the web's memory
(its media store) to serve it, and the zip was made whole first: a board holds up to 500
outputs, a gigabyte or more at 2K or 4K, past Render starter's 512 MB by itself; one
generation's four 4K outputs and three 25 MB inputs are a hundred megabytes or more, and a few
people pressing its button together would pass it too. Here the page links to
`/boards/<id>/zip` or `/generations/<id>/<outputs|all>/zip`, each `?s=<session>&t=<signature>`,
and the route writes the zip a piece at a time, each image read from the store when its piece
is sent (viba.studio.history): one image in memory at once, however large the zip.

The address belongs to one login, as an image's does (viba.web.addresses): signed for its
session and what it names, the session checked when it is asked, and then who may see it: the
board's own rule (viba.studio.boards), a generation's owner only (as its buttons are).
Anything else is the media route's one 404.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import uuid
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Generator, Iterator
from typing import Any, cast

import anyio
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route
from starlette.types import Send

from viba import services
from viba.accounts import sessions
from viba.accounts.account import Account
from viba.core.config import Settings, get_settings
from viba.store.db import DatabaseUnavailable
from viba.store.image_store import StorageError
from viba.studio import boards, generations, history
from viba.studio.metadata import Piece
from viba.web import addresses, media, thumbnails

log = logging.getLogger(__name__)

_BOARD = "board-zip"  # the signatures' kinds: these routes', not an image's
_GENERATION = {"outputs": "outputs-zip", "all": "generation-zip"}

Found = tuple[str, Iterator[Piece]]  # the zip's file name, and its pieces
CHUNK = 256 * 1024  # what is handed to the connection at once
# Images the process's zips hold at once: a zip holds one while it is sent, so ten people
# downloading 4K sets together took the web 100 MB higher (bench/downloads.py). A zip waits
# for a turn between two images, in a worker thread; after WAIT_SECONDS its download breaks
# (the browser says it failed, the log says why).
IMAGES_AT_ONCE = 4
WAIT_SECONDS = 60.0
_images = threading.BoundedSemaphore(IMAGES_AT_ONCE)


class Busy(RuntimeError):
    """No turn for the zip's next image within WAIT_SECONDS."""


@contextlib.contextmanager
def image_turn() -> Iterator[None]:
    """Held by a zip being sent from an image's read until its last piece is taken."""
    turns = _images
    if not turns.acquire(timeout=WAIT_SECONDS):
        raise Busy(f"no turn to read an image within {WAIT_SECONDS:g} s")
    try:
        yield
    finally:
        turns.release()


Finder = Callable[[services.Services, Account, uuid.UUID], Found | None]


def board_zip_address(settings: Settings, session_id: uuid.UUID, board_id: uuid.UUID) -> str:
    token = addresses.signature(settings, _BOARD, board_id.hex, session_id)
    return f"/boards/{board_id.hex}/zip?s={session_id.hex}&t={token}"


def generation_zip_address(
    settings: Settings, session_id: uuid.UUID, generation_id: uuid.UUID, everything: bool
) -> str:
    what = "all" if everything else "outputs"
    token = addresses.signature(settings, _GENERATION[what], generation_id.hex, session_id)
    return f"/generations/{generation_id.hex}/{what}/zip?s={session_id.hex}&t={token}"


def zip_button(
    container: Any,
    label: str,
    streamed: str | None,
    make: Callable[[], bytes],
    file_name: str,
    key: str,
) -> None:
    """A zip to download: a link to the route that streams it (`streamed`, an address of
    board_zip_here or generation_zip_here), or where the page has none (AppTest, `streamlit
    run Home.py`), Streamlit's button, which makes it whole in memory when clicked."""
    if streamed is not None:
        container.link_button(label, streamed, icon=":material/folder_zip:")
        return
    container.download_button(
        label,
        data=make,
        file_name=file_name,
        mime="application/zip",
        key=key,
        icon=":material/folder_zip:",
        on_click="ignore",
    )


def board_zip_here(board_id: uuid.UUID) -> str | None:
    """The zip's address for this run's login, or None where the page cannot link to it (no
    login, the routes not mounted: `streamlit run Home.py`, AppTest)."""
    here = thumbnails.page_login()
    return None if here is None else here[0] + board_zip_address(get_settings(), here[1], board_id)


def generation_zip_here(generation_id: uuid.UUID, everything: bool) -> str | None:
    """As board_zip_here, for a generation's zip."""
    here = thumbnails.page_login()
    if here is None:
        return None
    return here[0] + generation_zip_address(get_settings(), here[1], generation_id, everything)


def _board(found: services.Services, account: Account, board_id: uuid.UUID) -> Found | None:
    try:
        parts = boards.board_zip_parts(found.db, found.store, account, board_id, image_turn)
    except boards.BoardError:  # not a board this login may see: the same 404
        return None
    return boards.zip_name(board_id), parts


def _generation(everything: bool) -> Finder:
    def find(found: services.Services, account: Account, generation_id: uuid.UUID) -> Found | None:
        view = generations.find(found.db, account.id, generation_id)  # the owner's only
        if view is None:
            return None
        parts = history.generation_zip_parts(found.store, view, everything, image_turn)
        return history.zip_name(view), parts

    return find


def _checked(
    settings: Settings, kind: str, ident: str, sid: str, token: str, finder: Finder
) -> Found | None:
    """The zip, once the address and its login are checked and `finder` finds it among what
    this login may have; else None."""
    try:
        wanted = uuid.UUID(hex=ident)
    except ValueError:
        return None
    session_id = addresses.signed_session(settings, kind, wanted.hex, sid, token)
    if session_id is None:
        return None
    found = services.services(settings)
    account = sessions.check(found.db, session_id)
    return None if account is None else finder(found, account, wanted)


def _logged(parts: Iterator[Piece], name: str) -> Generator[memoryview, None, None]:
    """The pieces, in chunks of at most CHUNK: the connection then holds back at most a chunk
    for a slow browser, not a copy of a whole image. A store that fails midway is said in the
    log and breaks the connection, so the browser says the download failed (ending the stream
    would hand it a zip cut short as if it were whole)."""
    try:
        for piece in parts:
            view = memoryview(piece)
            for at in range(0, len(view), CHUNK):
                yield view[at : at + CHUNK]
    except (DatabaseUnavailable, StorageError, Busy) as exc:
        log.warning("the download of %s stopped: %s", name, exc)
        raise


async def _chunks(parts: Iterator[Piece], name: str) -> AsyncIterator[memoryview]:
    """_logged's chunks, each made in a worker thread (the event loop never waits on the
    store), the next only once this one is sent. Closed, it closes the zip at once, which
    gives back the zip's turn (image_turn)."""
    chunks = _logged(parts, name)
    try:
        while (chunk := await run_in_threadpool(next, chunks, None)) is not None:
            yield chunk
    finally:
        chunks.close()
        closing = getattr(parts, "close", None)  # the zip's own generator, holding the turn
        if closing is not None:
            closing()


class Download(StreamingResponse):
    """A StreamingResponse that closes its chunks when the sending ends, however it ends. A
    browser that goes away leaves Starlette's loop with an error and the chunks suspended;
    they would be closed only when the garbage collector finds them (a reference cycle
    through the error), and meanwhile the zip would keep its turn: four such and every zip
    of the process waits WAIT_SECONDS and breaks."""

    async def stream_response(self, send: Send) -> None:
        try:
            await super().stream_response(send)
        finally:
            with anyio.CancelScope(shield=True):  # a cancelled send still closes them
                await cast(AsyncGenerator[memoryview, None], self.body_iterator).aclose()


async def _streamed(request: Request, kind: str, ident: str, finder: Finder) -> Response:
    sid, token = request.query_params.get("s", ""), request.query_params.get("t", "")
    if len(ident) != 32 or len(sid) != 32 or len(token) != 32:
        return media.not_found()
    try:
        found = await run_in_threadpool(_checked, get_settings(), kind, ident, sid, token, finder)
    except DatabaseUnavailable as exc:
        log.warning("a zip could not be started: %s", exc)
        return Response("Try again in a moment.", status_code=503, media_type="text/plain")
    if found is None:
        return media.not_found()
    name, parts = found
    headers = {
        "Content-Disposition": f'attachment; filename="{name}"',
        "Cache-Control": "no-store",
        "X-Content-Type-Options": "nosniff",
    }
    return Download(_chunks(parts, name), media_type="application/zip", headers=headers)


async def board_zip(request: Request) -> Response:
    return await _streamed(request, _BOARD, request.path_params["board"], _board)


async def generation_zip(request: Request) -> Response:
    what = request.path_params["what"]
    if what not in _GENERATION:
        return media.not_found()
    generation = request.path_params["generation"]
    return await _streamed(request, _GENERATION[what], generation, _generation(what == "all"))


ROUTES = [
    Route("/boards/{board}/zip", board_zip, methods=["GET"]),
    Route("/generations/{generation}/{what}/zip", generation_zip, methods=["GET"]),
]
