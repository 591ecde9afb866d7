"""Presets in the real app (`streamlit run`) and headless Chromium: a team preset's thumbnail
reaches another user through the app's route, and Use fills the form with its images."""

from __future__ import annotations

import uuid

import pytest
from playwright.sync_api import Page, expect

from viba.accounts import auth
from viba.studio import presets

from fake_gemini import png_bytes
from helpers import PASSWORD, add, main, open_logged_in, settled

pytestmark = pytest.mark.browser


def test_a_team_preset_shows_to_everyone_and_fills_the_form(
    page: Page, streamlit_server, db, admin, app_store
):
    inputs = [app_store.save(png_bytes(f"p {uuid.uuid4()}"), "image/png").key for _ in range(2)]
    out = app_store.save(png_bytes(f"o {uuid.uuid4()}"), "image/png").key
    gid = add(db, admin, type="try_on", inputs=inputs, outputs=[out], names=("me.png", "coat.png"))
    name = f"House style {uuid.uuid4().hex[:4]}"
    preset_id = presets.save(db, admin, gid, name, team=True)
    member = auth.register(db, f"pre-{uuid.uuid4().hex[:8]}@example.com", "Pre", PASSWORD)
    try:
        open_logged_in(page, streamlit_server, member, "Try_On")
        main(page).get_by_text("Presets (", exact=False).click()
        card = main(page).get_by_text(name, exact=True)
        expect(card).to_be_visible()
        thumbs = main(page).locator('img[src*="/images/thumb/"]')
        expect(thumbs.first).to_have_js_property("complete", True)
        assert thumbs.first.evaluate("img => img.naturalWidth") > 0
        # This preset's Use (others' team presets can be in the list too, and first). A click
        # that lands while the page reruns can be dropped: a person clicks again.
        use = main(page).locator(f".st-key-preset_use_{preset_id}").get_by_role("button")
        said = page.get_by_text("The form is filled in from the preset.")
        for _ in range(3):
            settled(page)
            use.click()
            try:
                expect(said).to_be_visible(timeout=5000)
                break
            except AssertionError:
                if not main(page).locator('input[type="file"]').count():
                    break  # filled in; its toast came and went
        expect(main(page).get_by_text("coat.png")).to_be_visible()
        expect(main(page).locator('input[type="file"]')).to_have_count(0)
    finally:
        presets.delete_preset(db, app_store, admin, preset_id)
