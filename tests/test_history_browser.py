"""History and Admin in the real app (`streamlit run`) and headless Chromium: thumbnails,
opening an item, deleting it after confirmation, an admin's CSV export."""

from __future__ import annotations

import csv
import io
import re
import uuid
from datetime import timedelta

import pytest
from playwright.sync_api import Page, expect

from viba.accounts import auth
from viba.store.models import utcnow

from fake_gemini import png_bytes
from helpers import PASSWORD, add, heading, main, open_logged_in, screenshot

pytestmark = pytest.mark.browser


def seed(db, store, user, n=6):
    ids = []
    for i in range(n):
        inp = store.save(png_bytes(f"in {uuid.uuid4()}"), "image/png").key
        outs = [
            store.save(png_bytes(f"out {uuid.uuid4()}"), "image/png").key
            for _ in range(4 if i % 2 == 0 else 1)
        ]
        ids.append(
            add(
                db,
                user,
                type="derivation" if i % 2 == 0 else "avatar",
                at=utcnow() - timedelta(minutes=n - i),
                inputs=[inp],
                outputs=outs,
                description=f"Picture number {i}",
                names=(f"photo{i}.png",),
            )
        )
    return ids


def test_history_lists_thumbnails_opens_one_and_deletes_it(
    page: Page, streamlit_server, db, user, app_store
):
    ids = seed(db, app_store, user)
    open_logged_in(page, streamlit_server, user, "History")
    expect(heading(page, "History")).to_be_visible()
    cards = main(page).get_by_role("button", name="Open")
    expect(cards).to_have_count(len(ids))
    expect(main(page).locator('[data-testid="stImage"] img')).to_have_count(len(ids))
    screenshot(page, "history")
    newest = ids[-1]
    cards.first.click()  # the newest
    expect(heading(page, "Outputs")).to_be_visible()
    expect(page).to_have_url(re.compile(f"id={newest}"))
    expect(main(page).get_by_text("Picture number 5")).to_be_visible()
    # Its input and output at screen size, by addresses the route makes them for, loaded.
    expect(main(page).locator('[data-testid="stImage"] img[src*="/images/screen/"]')).to_have_count(
        2
    )
    page.wait_for_function(
        "() => [...document.querySelectorAll('img[src*=\"/images/screen/\"]')]"
        ".every(img => img.complete && img.naturalWidth > 0)"
    )
    screenshot(page, "history-detail")
    main(page).get_by_role("button", name="Delete").click()
    main(page).get_by_role("button", name="Yes, delete").click()
    expect(main(page).get_by_role("button", name="Open")).to_have_count(len(ids) - 1)
    expect(page).not_to_have_url(re.compile(str(newest)))


def test_admin_browses_generations_and_exports_csv(
    page: Page, streamlit_server, db, admin, app_store
):
    owner = auth.register(db, f"b-{uuid.uuid4().hex[:8]}@example.com", "Bea", PASSWORD)
    ids = seed(db, app_store, owner, n=3)
    open_logged_in(page, streamlit_server, admin, "Admin")
    expect(heading(page, "Admin")).to_be_visible()
    screenshot(page, "admin-users")
    main(page).get_by_text("Generations", exact=True).click()
    main(page).get_by_label("User email contains").fill(owner.email)
    main(page).get_by_label("User email contains").press("Enter")
    expect(main(page).get_by_text("Rows 1–3 of 3")).to_be_visible()
    screenshot(page, "admin-generations")
    with page.expect_download() as download:
        main(page).get_by_role("button", name="Export CSV (all matching rows)").click()
    text = download.value.path().read_text(encoding="utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [r["id"] for r in rows] == [str(i) for i in reversed(ids)]


def test_in_history_link_on_a_studio_page_opens_that_generation(
    page: Page, streamlit_server, db, user, app_store
):
    ids = seed(db, app_store, user, n=2)  # the second is an avatar
    open_logged_in(page, streamlit_server, user, "Avatar")  # waits for the login cookie
    main(page).get_by_role("link", name="In history").first.click()
    expect(page).to_have_url(re.compile(f"/History\\?id={ids[1]}"))
    expect(heading(page, "Outputs")).to_be_visible()
    page.reload()  # the URL alone opens it again
    expect(heading(page, "Outputs")).to_be_visible()


def test_the_list_updates_by_itself_when_a_generation_finishes(
    page: Page, streamlit_server, db, admin
):
    from sqlalchemy import update

    from viba.store.models import GenerationHistory

    user = auth.register(db, f"poll-{uuid.uuid4().hex[:8]}@example.com", "Polly", PASSWORD)
    gid = add(db, user, status="processing", at=utcnow(), names=("waiting.png",))
    with db.session() as s:  # fresh for an hour: no server's sweep takes it for interrupted
        s.execute(
            update(GenerationHistory)
            .where(GenerationHistory.id == gid)
            .values(updated_at=utcnow() + timedelta(hours=1))
        )
    open_logged_in(page, streamlit_server, user, "History")
    expect(main(page).get_by_text(re.compile("· running"))).to_be_visible()
    with db.session() as s:
        s.execute(
            update(GenerationHistory)
            .where(GenerationHistory.id == gid)
            .values(status="completed", updated_at=utcnow())
        )
    expect(main(page).get_by_text(re.compile("· done"))).to_be_visible(timeout=10_000)  # no reload


def test_a_downloaded_image_dropped_on_history_opens_its_generation(
    page: Page, streamlit_server, db, user, app_store
):
    """The dropped file waits on the server's disk (viba.web.uploads): the page reads it from
    there, its settings and generation id inside."""
    from viba.studio import generations, history

    (gid,) = seed(db, app_store, user, n=1)
    view = generations.find(db, user.id, gid)
    downloaded = history.output_download(app_store, view, view.output_keys[0], 1)
    open_logged_in(page, streamlit_server, user, "History")
    main(page).get_by_text("Open from a downloaded image").click()
    drop = main(page).get_by_test_id("stForm")
    drop.locator('input[type="file"]').set_input_files(
        [{"name": "mine.png", "mimeType": "image/png", "buffer": downloaded}]
    )
    expect(drop.get_by_role("button", name="Remove mine.png")).to_be_visible()
    drop.get_by_role("button", name="Open", exact=True).click()
    expect(page).to_have_url(re.compile(f"/History\\?id={gid}"))
    expect(heading(page, "Outputs")).to_be_visible()
