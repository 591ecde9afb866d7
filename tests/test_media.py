"""The app's own HTTP routes (app.py), over real HTTP on a real `streamlit run app.py`: stored
images for one login session only, and /health. Tested as an attacker would: guessed and
altered addresses, another user's login, a login that ended, paths that are not keys."""

from __future__ import annotations

import contextlib
import io
import json
import urllib.error
import urllib.request
import uuid
import zipfile
from datetime import timedelta

import pytest
from PIL import Image
from test_jobs import models

from viba.accounts import auth, sessions
from viba.core.config import load_settings
from viba.engine.gemini import ImageResult, Usage
from viba.engine.images import prepare_image
from viba.studio import generations, metadata
from viba.web import addresses

from fake_gemini import png_bytes
from helpers import PASSWORD, add


def fetch(url: str) -> tuple[int, dict[str, str], bytes]:
    try:
        with urllib.request.urlopen(url, timeout=20) as resp:
            return resp.status, lower(resp.headers), resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, lower(exc.headers), exc.read()


def lower(headers) -> dict[str, str]:
    return {name.lower(): value for name, value in headers.items()}


@pytest.fixture()
def owned(db, store, member):
    """An avatar generation of member's with one output: (input key, output key, its bytes)."""
    image = prepare_image(png_bytes(f"route-in-{uuid.uuid4()}"), "me.png")
    params = {"models": {"avatar": models()["avatar"]}, "options": {}}
    job_id = generations.create(db, store, member.id, "avatar", [image], params, "test")
    view = generations.find(db, member.id, job_id)
    made = png_bytes(f"route-out-{uuid.uuid4()}", size=(64, 80))
    result = ImageResult(made, "image/png", models()["avatar"], Usage(1, 2, 3), 0.1)
    generations.add_output(db, store, view, "avatar", result, None)
    output = generations.find(db, member.id, job_id).output_keys[0]
    return view.input_keys[0], output, store.load(output)


@pytest.fixture()
def settings(app_env):
    """The server's settings, as far as its addresses are signed with them."""
    return load_settings(
        VIBA_COOKIE_KEY=app_env["VIBA_COOKIE_KEY"], VIBA_DATA_DIR=app_env["VIBA_DATA_DIR"]
    )


@pytest.fixture()
def sign(settings):
    def address(session_id, key, kind="thumb"):
        return addresses.address(settings, session_id, key, kind)

    return address


def login(db, account) -> uuid.UUID:
    return sessions.start(db, account.id, timedelta(hours=1))[0]


def refused_alike(db, good: str, mine: uuid.UUID, theirs: uuid.UUID, *refused: str) -> None:
    """Each address refused, and the good one (of login `mine`) tampered with (its signature
    altered, given with login `theirs`, given without one), get one and the same 404; then so
    does the good one, once its login ends."""
    tampered = [good.replace("t=", "t=0")[:-1], good.replace(mine.hex, theirs.hex)]
    asked = [*refused, *tampered, good.split("?")[0]]
    answers = [fetch(address) for address in asked]
    assert [a[0] for a in answers] == [404] * len(asked)
    assert len({a[2] for a in answers}) == 1
    sessions.end(db, mine)
    assert fetch(good)[0] == 404  # the address ends with the login


def test_the_owner_gets_the_thumbnail_and_the_image_cached_privately(
    streamlit_server, db, member, owned, sign
):
    _, output, made = owned
    sid = login(db, member)
    status, headers, body = fetch(streamlit_server.url + sign(sid, output))
    assert status == 200 and headers["content-type"] == "image/webp" and body[:4] == b"RIFF"
    assert headers["cache-control"] == "private, max-age=31536000, immutable"
    assert headers["x-content-type-options"] == "nosniff"
    status, headers, body = fetch(streamlit_server.url + sign(sid, output, "image"))
    assert status == 200 and headers["content-type"] == "image/png" and body == made
    # At screen size: made when first asked, a file after (the same bytes again).
    status, headers, body = fetch(streamlit_server.url + sign(sid, output, "screen"))
    assert status == 200 and headers["content-type"] == "image/webp" and body[:4] == b"RIFF"
    assert headers["cache-control"] == "private, max-age=31536000, immutable"
    with Image.open(io.BytesIO(body)) as shown:
        assert shown.size == (64, 80)  # a small image is not enlarged
    assert fetch(streamlit_server.url + sign(sid, output, "screen"))[2] == body


def test_no_other_address_reaches_an_image(streamlit_server, db, member, admin, owned, sign):
    inputs, output, _ = owned
    mine = login(db, member)
    other = auth.register(db, f"snoop-{uuid.uuid4().hex[:8]}@example.com", "Snoop", PASSWORD)
    theirs = login(db, other)
    good = sign(mine, output)
    refused = [
        good.replace("t=", "t=0")[:-1],  # the signature altered
        good.replace(mine.hex, uuid.uuid4().hex),  # another session with this signature
        sign(uuid.uuid4(), output),  # a signed address of a session that does not exist
        sign(theirs, output),  # another user's live login, correctly signed
        sign(theirs, inputs, "image"),  # nor their inputs
        sign(theirs, output, "screen"),  # nor at screen size
        sign(mine, output, "thumb").replace("/thumb/", "/screen/"),  # a thumbnail's signature
        sign(mine, output, "other"),  # a kind that is not one
        good.split("?")[0],  # no signature
        f"/images/thumb/img/x.png?s={mine.hex}&t={'0' * 32}",  # not a key
        sign(mine, "img/" + "0" * 64 + ".png"),  # a well-formed key nobody has
    ]
    answers = [fetch(streamlit_server.url + url) for url in refused]
    assert [a[0] for a in answers] == [404] * len(refused)
    assert len({a[2] for a in answers}) == 1  # one and the same answer: nothing to tell apart
    # A path out of the folder does not even reach the route (the server refuses it).
    status, _, body = fetch(
        streamlit_server.url + f"/images/thumb/img/%2e%2e/%2e%2e/etc/passwd?s={mine.hex}&t=0"
    )
    assert status in (400, 404) and b"Traceback" not in body
    # An admin sees any user's images; the owner's address stops working at logout.
    assert fetch(streamlit_server.url + sign(login(db, admin), output))[0] == 200
    assert fetch(streamlit_server.url + good)[0] == 200
    sessions.end(db, mine)
    assert fetch(streamlit_server.url + good)[0] == 404


def test_health_says_the_database_and_the_queue_answer(streamlit_server):
    status, headers, body = fetch(streamlit_server.url + "/health")
    assert status == 200 and headers["cache-control"] == "no-store"
    assert json.loads(body) == {"status": "ok", "database": "ok", "queue": "ok"}


def test_a_boards_zip_streams_to_a_login_that_may_see_the_board_and_to_no_other(
    streamlit_server, db, member, owned, settings
):

    from viba.studio import boards
    from viba.web import downloads

    _, output, made = owned
    board = boards.create(db, member, f"Zip {uuid.uuid4().hex[:6]}")
    (generation,) = [v.id for v in generations.recent(db, member.id) if output in v.output_keys]
    boards.add(db, member, board, generation)
    viewer = auth.register(db, f"view-{uuid.uuid4().hex[:8]}@example.com", "Viewer", PASSWORD)
    stranger = auth.register(db, f"away-{uuid.uuid4().hex[:8]}@example.com", "Away", PASSWORD)
    boards.share(db, member, board, viewer.email, boards.VIEWER)
    mine, theirs, away = login(db, member), login(db, viewer), login(db, stranger)

    def url(session_id, board_id=board):
        return streamlit_server.url + downloads.board_zip_address(settings, session_id, board_id)

    for sid in (mine, theirs):  # the owner, and a member it is shared with
        status, headers, body = fetch(url(sid))
        assert status == 200 and headers["content-type"] == "application/zip"
        assert headers["content-disposition"].startswith("attachment;")
        assert headers["cache-control"] == "no-store"
        with zipfile.ZipFile(io.BytesIO(body)) as zf:
            assert zf.testzip() is None and len(zf.namelist()) == 1
            assert zf.read(zf.namelist()[0])[:8] == made[:8]  # the output, settings inside
    refused_alike(
        db,
        url(mine),
        mine,
        theirs,
        url(away),  # a live login that may not see the board, correctly signed
        url(mine, uuid.uuid4()),  # a board that does not exist
    )


def test_a_generations_zip_streams_to_its_owner_only(
    streamlit_server, db, store, member, owned, settings
):
    from viba.studio import history
    from viba.web import downloads

    source, output, made = owned
    (view,) = [v for v in generations.recent(db, member.id) if output in v.output_keys]
    other = auth.register(db, f"else-{uuid.uuid4().hex[:8]}@example.com", "Else", PASSWORD)
    mine, theirs = login(db, member), login(db, other)

    def url(session_id, everything, generation=view.id):
        address = downloads.generation_zip_address(settings, session_id, generation, everything)
        return streamlit_server.url + address

    status, headers, body = fetch(url(mine, everything=False))
    assert status == 200 and headers["content-type"] == "application/zip"
    assert headers["content-disposition"] == f'attachment; filename="{history.zip_name(view)}"'
    assert headers["cache-control"] == "no-store"
    with zipfile.ZipFile(io.BytesIO(body)) as zf:
        assert zf.testzip() is None
        assert zf.namelist() == [history.file_name(view, output, 1)]
        inside = zf.read(zf.namelist()[0])
        assert inside == history.output_download(store, view, output, 1)  # settings inside
        assert metadata.read(inside)["generation_id"] == str(view.id)
    status, _, body = fetch(url(mine, everything=True))
    with zipfile.ZipFile(io.BytesIO(body)) as zf:
        assert status == 200 and zf.testzip() is None
        assert zf.read(f"inputs/{history.file_name(view, source, 1, 'input-')}") == store.load(
            source
        )
        assert json.loads(zf.read("generation.json"))["id"] == str(view.id)
    good = url(mine, everything=False)
    refused_alike(
        db,
        good,
        mine,
        theirs,
        url(theirs, everything=False),  # another live login, correctly signed
        url(mine, False, uuid.uuid4()),  # a generation that does not exist
        good.replace("/outputs/", "/all/"),  # the outputs' signature for everything
        good.replace("/outputs/", "/nothing/"),  # not a zip there is
    )


def test_a_boards_zip_whose_image_is_gone_midway_fails_as_a_download_not_as_a_whole_zip(
    streamlit_server, db, store, member, settings
):
    import http.client

    from viba.studio import boards
    from viba.web import downloads

    board = boards.create(db, member, f"Broken {uuid.uuid4().hex[:6]}")
    keys = [store.save(png_bytes(f"gone-{uuid.uuid4()}"), "image/png").key for _ in range(2)]
    boards.add(db, member, board, add(db, member, outputs=keys))
    store.backend.delete(keys[0])  # the store loses one (a bucket emptied by hand, a restore)
    address = streamlit_server.url + downloads.board_zip_address(settings, login(db, member), board)
    with urllib.request.urlopen(address, timeout=20) as resp:
        assert resp.status == 200  # the answer had begun before the loss showed
        with pytest.raises(http.client.IncompleteRead):
            resp.read()


def test_zips_take_turns_for_their_images_and_one_stopped_midway_gives_its_turn_back(
    db, store, member, monkeypatch
):
    import threading

    from viba.studio import history
    from viba.web import downloads

    keys = [store.save(png_bytes(f"turn-{uuid.uuid4()}"), "image/png").key for _ in range(2)]
    view = generations.find(db, member.id, add(db, member, outputs=keys))
    monkeypatch.setattr(downloads, "_images", threading.BoundedSemaphore(1))
    monkeypatch.setattr(downloads, "WAIT_SECONDS", 0.05)

    def zip_of():
        return history.generation_zip_parts(store, view, False, downloads.image_turn)

    def files(pieces) -> dict[str, bytes]:
        with zipfile.ZipFile(io.BytesIO(b"".join(pieces))) as zf:
            return {name: zf.read(name) for name in zf.namelist()}

    first = zip_of()
    head = next(first)  # its first image read: the one turn is taken
    with pytest.raises(downloads.Busy):
        next(zip_of())  # a second zip waits, then gives up
    whole = files([head, *first])  # the first goes on to its end, turn by turn
    assert len(whole) == 2 and files(zip_of()) == whole  # and the turn is free again
    stopped = zip_of()
    next(stopped)
    stopped.close()  # a browser that went away midway: its turn comes back
    assert files(zip_of()) == whole


def test_browsers_that_leave_a_zip_midway_leave_no_turn_taken(
    streamlit_server, db, store, member, settings
):
    """Over real HTTP: IMAGES_AT_ONCE downloads cut off after their first bytes, then one
    more download must still get every turn it needs (a turn lost would stall it for
    WAIT_SECONDS and break it)."""
    import os
    import socket
    import urllib.parse

    from PIL import Image

    from viba.web import downloads

    def noise(i: int) -> bytes:  # incompressible: a zip larger than the sockets' buffers
        out = io.BytesIO()
        Image.frombytes("RGB", (1100, 1100), os.urandom(1100 * 1100 * 3)).save(out, "PNG")
        return out.getvalue()

    keys = [store.save(noise(i), "image/png").key for i in range(4)]
    gid = add(db, member, outputs=keys)
    address = downloads.generation_zip_address(settings, login(db, member), gid, False)
    where = urllib.parse.urlsplit(streamlit_server.url)
    for _ in range(downloads.IMAGES_AT_ONCE):
        with socket.create_connection((where.hostname, where.port), timeout=20) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            sock.sendall(f"GET {address} HTTP/1.1\r\nHost: {where.netloc}\r\n\r\n".encode())
            assert sock.recv(4096).startswith(b"HTTP/1.1 200")
        # closed with most of the zip unsent
    with urllib.request.urlopen(streamlit_server.url + address, timeout=50) as resp:
        body = resp.read()
    with zipfile.ZipFile(io.BytesIO(body)) as zf:
        assert zf.testzip() is None and len(zf.namelist()) == 4


@pytest.mark.parametrize("asgi", ["2.4", "2.0"])  # a send that raises; a disconnect message
def test_a_download_the_browser_leaves_gives_its_turn_back_at_once(
    db, store, member, monkeypatch, asgi
):
    """Not when the garbage collector gets to it: four left that way would stall every zip."""
    import gc
    import threading

    import anyio

    from viba.studio import history
    from viba.web import downloads

    keys = [store.save(png_bytes(f"left-{uuid.uuid4()}"), "image/png").key for _ in range(2)]
    view = generations.find(db, member.id, add(db, member, outputs=keys))
    monkeypatch.setattr(downloads, "_images", threading.BoundedSemaphore(1))
    parts = history.generation_zip_parts(store, view, False, downloads.image_turn)
    response = downloads.Download(downloads._chunks(parts, "left.zip"))
    sent: list[dict] = []
    gone = anyio.Event()

    async def send(message) -> None:
        sent.append(message)
        if len(sent) == 2:  # the first piece went; then the browser is gone
            gone.set()
            if asgi == "2.4":
                raise OSError("connection reset")
            await anyio.sleep_forever()

    async def receive() -> dict:
        await gone.wait()
        return {"type": "http.disconnect"}

    freed: list[bool] = []

    async def serve() -> None:
        scope = {"type": "http", "asgi": {"spec_version": asgi}}
        with contextlib.suppress(Exception):
            await response(scope, receive, send)
        # Asked while the server runs on (its loop's end would close what was left open).
        freed.append(downloads._images.acquire(blocking=False))

    gc.disable()
    try:  # in a thread of its own: a browser test's loop may still be set on this one
        server = threading.Thread(target=anyio.run, args=(serve,))
        server.start()
        server.join(timeout=30)
    finally:
        gc.enable()
    assert freed == [True]  # the one turn is free
