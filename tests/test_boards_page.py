"""The Boards page and "Add to board" through AppTest, against the real database and store."""

from __future__ import annotations

import uuid

import pytest

from viba.core.config import get_settings
from viba.studio import boards

from fake_gemini import png_bytes
from helpers import add, main_texts, open_page, open_popover, person

PAGE = "pages/9_Boards.py"


@pytest.fixture(autouse=True)
def _env(app_environ, admin):
    return app_environ


@pytest.fixture()
def store(app_store):
    """The app's own store: the pages read what the tests put there."""
    return app_store


def made(db, store, owner, n=2):
    keys = [store.save(png_bytes(f"board {uuid.uuid4()}"), "image/png").key for _ in range(n)]
    return add(db, owner, type="derivation", outputs=keys), keys


def test_create_a_board_share_it_and_a_viewer_sees_its_images_but_cannot_change_them(db, store):
    owner, viewer = person(db, "Olive"), person(db, "Victor")
    at = open_page(PAGE, owner)
    assert not at.exception and "No boards yet: make one on the Boards page." in main_texts(at)
    at.text_input(key="board_new_name").input("Lookbook **spring** <b>x</b>")
    at.button(key="FormSubmitter:board_new-Create board").click().run()
    assert not at.exception
    (board,) = boards.visible(db, owner)
    assert at.query_params["board"] == str(board.id)
    # The name is data: escaped, never read as markdown or HTML.
    assert at.subheader[0].value == r"Lookbook \*\*spring\*\* \<b\>x\</b\>"
    assert "Private: only you (and admins) see it." in main_texts(at)
    gid, keys = made(db, store, owner)
    boards.add(db, owner, board.id, gid)
    at.run()
    assert len(at.main.get("image")) == 2 and len(at.main.get("download_button")) == 1
    at.text_input(key=f"board_share_email_{board.id}").input(viewer.email)
    at.selectbox(key=f"board_share_role_{board.id}").select("viewer")
    at.button(key=f"FormSubmitter:board_share_{board.id}-Share").click().run()
    assert [t.value for t in at.toast] == ["Shared with Victor."]
    assert any("Victor" in t.value and "viewer" in t.value for t in at.text)

    seen = open_page(PAGE, viewer)
    assert not seen.exception
    seen.button(key=f"board_open_{board.id}").click().run()
    assert len(seen.main.get("image")) == 2
    removes = [b for b in seen.button if b.key and b.key.startswith("board_rm_")]
    assert removes == [] and not seen.get("form")  # no remove, no share form
    assert seen.button(key=f"board_member_rm_{board.id}_{viewer.id}").label == "Leave"

    # The owner removes one image; the viewer's next run shows one.
    first = boards.items(db, owner, board.id)[0]
    at.button(key=f"board_rm_{first.id}").click().run()
    assert [t.value for t in at.toast] == ["Removed from the board."]
    assert len(seen.run().main.get("image")) == 1


def test_someone_elses_or_a_made_up_board_shows_one_sentence_and_nothing_of_it(db, store):
    owner, other = person(db, "Olive"), person(db, "Oscar")
    board = boards.create(db, owner, "Secret plans")
    gid, _ = made(db, store, owner)
    boards.add(db, owner, board, gid)
    for wanted in (str(board), str(uuid.uuid4()), "../../etc"):
        at = open_page(PAGE, other, {"board": wanted})
        assert not at.exception
        assert [e.value for e in at.error] == [boards.NOT_FOUND]
        assert "Secret plans" not in str(at.main) and not at.main.get("image")


def test_add_from_a_job_card_and_from_history(db, store):
    owner = person(db, "Olive")
    board = boards.create(db, owner, "Picks")
    gid, keys = made(db, store, owner, n=3)
    at = open_page("pages/1_Derivation.py", owner)
    assert not at.exception
    open_popover(at, f"board_{gid}_pop")
    at.selectbox(key=f"board_{gid}_pick").select(str(board))
    at.selectbox(key=f"board_{gid}_which").select(2)
    at.button(key=f"board_{gid}_add").click().run()
    assert [t.value for t in at.toast] == ["Added to Picks."]
    assert [i.output_key for i in boards.items(db, owner, board)] == [keys[1]]
    at.button(key=f"board_{gid}_add").click().run()
    assert [t.value for t in at.toast] == ["Already on Picks."]

    detail = open_page("pages/5_History.py", owner, {"id": str(gid)})
    open_popover(detail, f"board_{gid}_pop")
    detail.selectbox(key=f"board_{gid}_pick").select(str(board))
    detail.selectbox(key=f"board_{gid}_which").select(0)  # all of them
    detail.button(key=f"board_{gid}_add").click().run()
    assert [t.value for t in detail.toast] == ["Added to Picks."]
    assert sorted(i.output_key for i in boards.items(db, owner, board)) == sorted(keys)


def test_admins_list_everyones_boards_on_request_and_may_delete_one(db, store, admin):
    owner = person(db, "Olive")
    board = boards.create(db, owner, "Team board")
    at = open_page(PAGE, admin)
    assert f"board_open_{board}" not in {b.key for b in at.button}  # their own list first
    at.toggle(key="boards_everyone").set_value(True).run()
    at.button(key=f"board_open_{board}").click().run()
    assert not at.exception and at.subheader[0].value == "Team board"
    assert at.button(key=f"board_delete_{board}").disabled  # not before the confirmation
    at.checkbox(key=f"board_delete_sure_{board}").check().run()
    at.button(key=f"board_delete_{board}").click().run()
    assert [t.value for t in at.toast] == ["Board deleted; its generations are kept."]
    with pytest.raises(boards.BoardError):
        boards.get(db, owner, board)


def test_make_a_share_link_from_history_and_revoke_it_on_the_boards_page(db, store):
    from viba.studio import shares

    owner = person(db, "Olive")
    gid, keys = made(db, store, owner, n=2)
    detail = open_page("pages/5_History.py", owner, {"id": str(gid)})
    prefix = f"share_out_{gid}"
    detail.selectbox(key=f"{prefix}_which").select(1)  # the second image
    detail.number_input(key=f"{prefix}_days").set_value(3)
    detail.button(key=f"{prefix}_make").click().run()
    assert not detail.exception
    (code,) = [c.value for c in detail.code]
    assert code.startswith(f"{get_settings().public_url.rstrip('/')}/s/")
    token = code.rsplit("/", 1)[1]
    shared = shares.open_link(db, token)
    assert shared is not None and shared.items[0][1] == keys[1]
    assert "3 days from now" in " ".join(c.value for c in detail.caption)

    at = open_page(PAGE, owner)
    (link,) = shares.links(db, owner)
    assert any("Derivation · Image 2 · 0 views" in c.value for c in at.caption)
    at.button(key=f"share_revoke_{link.id}").click().run()
    assert [t.value for t in at.toast] == ["The link no longer opens."]
    assert shares.open_link(db, token) is None
    assert any("revoked" in c.value for c in at.caption)


def test_add_an_output_to_a_board_from_compare(db, store):
    from streamlit.testing.v1 import AppTest

    from viba.web import browser_session

    from helpers import ROOT, logged_in_box

    owner = person(db, "Olive")
    board = boards.create(db, owner, "From compare")
    gid, keys = made(db, store, owner, n=2)
    at = AppTest.from_file(str(ROOT / "Home.py"), default_timeout=30)
    box = logged_in_box(owner)
    box.compare = [(str(gid), keys[0]), (str(gid), keys[1])]
    at.session_state[browser_session.SESSION_KEY] = box
    at.switch_page("pages/5_History.py")
    at.query_params["compare"] = "1"
    at.run()
    assert not at.exception
    open_popover(at, f"board_{gid}_1_pop")
    at.selectbox(key=f"board_{gid}_1_pick").select(str(board))
    at.button(key=f"board_{gid}_1_add").click().run()
    assert [t.value for t in at.toast] == ["Added to From compare."]
    assert [i.output_key for i in boards.items(db, owner, board)] == [keys[1]]


def test_under_the_apps_routes_a_boards_zip_is_a_link_to_its_streamed_download(
    db, store, monkeypatch
):
    from viba.web import addresses, browser_session, downloads, thumbnails

    monkeypatch.setattr(addresses, "_routes_mounted", True)  # as app.py mounts them
    monkeypatch.setattr(thumbnails, "page_origin", lambda: "http://127.0.0.1:8501")
    owner = person(db, "Zoe")
    board = boards.create(db, owner, "Zipped")
    gid, _ = made(db, store, owner)
    boards.add(db, owner, board, gid)
    at = open_page(PAGE, owner, {"board": str(board)})
    assert not at.exception and not at.main.get("download_button")
    (link,) = at.main.get("link_button")
    assert link.proto.label == "Download all (zip)"
    session_id = at.session_state[browser_session.SESSION_KEY].session_id
    address = downloads.board_zip_address(get_settings(), session_id, board)
    assert link.proto.url == "http://127.0.0.1:8501" + address  # this login's, signed
    assert address.startswith(f"/boards/{board.hex}/zip?s={session_id.hex}&t=")
