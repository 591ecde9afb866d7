"""Boards in the real app (`streamlit run`) and headless Chromium: a member sees a board's
images through the app's own route; once removed, the same addresses answer 404."""

from __future__ import annotations

import uuid

import pytest
from playwright.sync_api import Page, expect

from viba.accounts import auth
from viba.studio import boards

from fake_gemini import png_bytes
from helpers import PASSWORD, add, main, open_logged_in

pytestmark = pytest.mark.browser


def test_a_viewer_sees_a_boards_images_until_removed(
    page: Page, streamlit_server, db, admin, app_store
):
    owner, viewer = (
        auth.register(db, f"{n}-{uuid.uuid4().hex[:8]}@example.com", n.title(), PASSWORD)
        for n in ("owner", "viewer")
    )
    keys = [app_store.save(png_bytes(f"board {uuid.uuid4()}"), "image/png").key for _ in range(2)]
    gid = add(db, owner, type="derivation", outputs=keys)
    board = boards.create(db, owner, "Moodboard 看板")
    boards.add(db, owner, board, gid)
    boards.share(db, owner, board, viewer.email, "viewer")

    open_logged_in(page, streamlit_server, viewer, f"Boards?board={board}")
    expect(main(page).get_by_role("heading", name="Moodboard 看板")).to_be_visible()
    images = main(page).locator('img[src*="/images/thumb/"]')
    expect(images).to_have_count(2)
    for i in range(2):
        expect(images.nth(i)).to_have_js_property("complete", True)
        assert images.nth(i).evaluate("img => img.naturalWidth") > 0
    src = images.first.get_attribute("src")
    assert page.request.get(src).status == 200
    expect(main(page).get_by_role("button", name="Remove")).to_have_count(0)

    boards.unshare(db, owner, board, viewer.id)
    assert page.request.get(src).status == 404  # the address belonged to a member
    page.reload()
    expect(main(page).get_by_text(boards.NOT_FOUND)).to_be_visible()
