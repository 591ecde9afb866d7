"""The History page through AppTest against the real database and image store: pages of
thumbnails, filters, favourites, the detail view and delete with confirmation."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from sqlalchemy import select

from viba.jobs.runner import JobRunner
from viba.store.models import GenerationHistory
from viba.studio import history

from fake_gemini import png_bytes
from helpers import T0, add, forget_app_runner, open_page

PAGE = "pages/5_History.py"


@pytest.fixture(autouse=True)
def _env(app_environ):
    return app_environ


@pytest.fixture()
def store(app_store):
    """The app's own store: the pages read what the tests put there."""
    return app_store


def open_links(at) -> list[str]:
    """The items listed, as id=<uuid> (their Open buttons are keyed open_<uuid>)."""
    return [f"id={b.key[5:]}" for b in at.main.get("button") if (b.key or "").startswith("open_")]


def test_pages_of_24_newest_first_with_older_and_newer(db, store, user):
    key = store.save(png_bytes("thumb source"), "image/png").key
    ids = [add(db, user, at=T0 + timedelta(minutes=i), outputs=[key]) for i in range(30)]
    at = open_page(PAGE, user)
    assert not at.exception and not at.error
    first = open_links(at)
    assert first == [f"id={i}" for i in reversed(ids)][:24]
    at.button(key=f"open_{ids[-1]}").click().run()  # opening sets ?id= and shows it
    assert at.query_params["id"] == str(ids[-1]) and not at.exception
    assert [s.value for s in at.subheader] == ["Inputs", "Outputs", "Details"]
    at.button(key="history_back").click().run()
    assert "id" not in at.query_params
    assert len(at.main.get("image")) == 24  # thumbnails only
    assert "Page 1" in [c.value for c in at.main.get("caption")]
    at.button(key="history_older").click().run()
    assert open_links(at) == [f"id={i}" for i in reversed(ids)][24:]
    assert at.button(key="history_older").disabled
    at.button(key="history_newer").click().run()
    assert open_links(at) == first


def test_filters_narrow_the_list_and_favourites_toggle(db, store, user):
    a = add(db, user, type="swap", at=T0)
    b = add(db, user, type="try_on", status="failed", at=T0 + timedelta(hours=1))
    at = open_page(PAGE, user)
    at.multiselect(key="hf_types").set_value(["swap"]).run()
    assert open_links(at) == [f"id={a}"]
    at.multiselect(key="hf_types").set_value([]).run()
    at.multiselect(key="hf_statuses").set_value(["failed"]).run()
    assert open_links(at) == [f"id={b}"]
    assert at.button(key=f"fav_{b}").proto.type == "secondary"
    at.button(key=f"fav_{b}").click().run()
    assert history.is_favorite(db, user.id, b)
    assert at.button(key=f"fav_{b}").proto.type == "primary"  # a filled star
    at.toggle(key="hf_favorites").set_value(True).run()
    assert open_links(at) == [f"id={b}"]
    at.multiselect(key="hf_statuses").set_value([]).run()
    assert open_links(at) == [f"id={b}"]  # only favourites
    at.text_input(key="hf_text").input("nothing like this").run()
    assert open_links(at) == [] and "No generations match" in at.info[0].value
    at.date_input(key="hf_since").set_value(T0.date() + timedelta(days=2))
    at.date_input(key="hf_until").set_value(T0.date()).run()
    assert "start day is after the end day" in at.warning[0].value


def test_detail_shows_inputs_outputs_and_details_then_deletes_after_confirmation(db, store, user):
    inp = store.save(png_bytes("detail in"), "image/png").key
    outs = [store.save(png_bytes(f"detail out {i}"), "image/png").key for i in range(2)]
    gid = add(db, user, type="derivation", inputs=[inp], outputs=outs, description="A heron.")
    at = open_page(PAGE, user, {"id": str(gid)})
    assert not at.exception and not at.error
    assert [s.value for s in at.subheader] == ["Inputs", "Outputs", "Details"]
    assert len(at.main.get("image")) == 4  # an input, two outputs, the region edit preview
    table = at.dataframe[0].value
    assert str(gid) in table.to_string() and "gemini-3-pro-image" in table.to_string()
    assert "A heron." in [t.value for t in at.text]
    assert at.button(key=f"fav_{gid}").proto.type == "secondary"
    at.button(key=f"fav_{gid}").click().run()
    assert history.is_favorite(db, user.id, gid)
    assert at.button(key=f"fav_{gid}").proto.type == "primary"
    at.button(key=f"delete_{gid}").click().run()
    assert "cannot be undone" in at.warning[0].value
    at.button(key=f"cancel_delete_{gid}").click().run()
    assert not at.warning and history.get_generation(db, user.id, gid)
    at.button(key=f"delete_{gid}").click().run()
    at.button(key=f"yes_delete_{gid}").click().run()
    assert not at.exception
    with pytest.raises(history.NotFound):
        history.get_generation(db, user.id, gid)
    assert not store.exists(outs[0]) and not store.exists(inp)
    assert "id" not in at.query_params
    assert [t.value for t in at.toast] == ["Deleted (3 image(s) removed)."]


def test_a_generations_set_is_a_link_to_its_streamed_zip_under_the_apps_routes(
    db, store, user, monkeypatch
):
    from viba.core.config import get_settings
    from viba.web import addresses, browser_session, downloads, thumbnails

    out = store.save(png_bytes("set out"), "image/png").key
    gid = add(db, user, type="derivation", outputs=[out], description="A heron.")
    at = open_page(PAGE, user, {"id": str(gid)})
    # `streamlit run Home.py` has no routes: Streamlit's button makes the zip when clicked.
    assert [b.label for b in at.main.get("download_button")] == ["Download", "Download set (zip)"]
    assert not at.main.get("link_button")
    monkeypatch.setattr(addresses, "_routes_mounted", True)  # as app.py mounts them
    monkeypatch.setattr(thumbnails, "page_origin", lambda: "http://127.0.0.1:8501")
    at = open_page(PAGE, user, {"id": str(gid)})
    assert not at.exception
    assert [b.label for b in at.main.get("download_button")] == ["Download"]
    (link,) = [b for b in at.main.get("link_button") if b.proto.label == "Download set (zip)"]
    session_id = at.session_state[browser_session.SESSION_KEY].session_id
    address = downloads.generation_zip_address(get_settings(), session_id, gid, everything=True)
    assert link.proto.url == "http://127.0.0.1:8501" + address  # this login's, signed
    assert address.startswith(f"/generations/{gid.hex}/all/zip?s={session_id.hex}&t=")


def test_under_the_apps_routes_the_detail_shows_images_by_address_not_made_in_the_run(
    db, store, user, monkeypatch
):
    from viba.store.image_store import ImageStore
    from viba.web import addresses, thumbnails

    inp = store.save(png_bytes("screen in"), "image/png").key
    outs = [store.save(png_bytes(f"screen out {i}"), "image/png").key for i in range(2)]
    gid = add(db, user, type="derivation", inputs=[inp], outputs=outs)
    made: list[str] = []
    screen_image = ImageStore.screen_image
    monkeypatch.setattr(
        ImageStore, "screen_image", lambda self, key: made.append(key) or screen_image(self, key)
    )
    at = open_page(PAGE, user, {"id": str(gid)})
    assert sorted(made) == sorted([inp, *outs])  # `streamlit run Home.py`: made in the run
    made.clear()
    monkeypatch.setattr(addresses, "_routes_mounted", True)  # as app.py mounts them
    monkeypatch.setattr(thumbnails, "page_origin", lambda: "http://127.0.0.1:8501")
    at = open_page(PAGE, user, {"id": str(gid)})
    assert not at.exception and made == []  # the route makes them when the browser asks
    shown = [img.url for el in at.main.get("image") for img in el.proto.imgs]
    screens = [u for u in shown if "/images/screen/" in u]
    assert [u.split("/images/screen/")[1].split("?")[0] for u in screens] == [inp, *outs]
    assert all(u.startswith("http://127.0.0.1:8501/images/screen/") for u in screens)
    # An image gone from the store is said on the page, as before, not left to a broken link.
    store.backend.delete(outs[1])
    at = open_page(PAGE, user, {"id": str(gid)})
    assert not at.exception and len(at.warning) == 1 and "missing" in at.warning[0].value


@pytest.mark.parametrize("wanted", ["other", "not-a-uuid", str(uuid.uuid4())])
def test_someone_elses_or_a_bad_id_shows_one_message_and_nothing_of_it(
    db, store, user, admin, wanted
):
    secret = store.save(png_bytes("admin's picture"), "image/png").key
    theirs = add(db, admin, outputs=[secret], description="private words")
    at = open_page(PAGE, user, {"id": str(theirs) if wanted == "other" else wanted})
    assert not at.exception
    assert [e.value for e in at.error] == ["That generation does not exist, or it is not yours."]
    assert not at.main.get("image") and "private words" not in str(at.main)
    with db.session() as s:
        assert s.scalar(select(GenerationHistory.id).where(GenerationHistory.id == theirs))


def test_history_and_admin_work_when_the_job_runner_cannot_start(db, store, admin, monkeypatch):
    """Reading generations needs the store, not the scheduler: with no runner made yet and
    every attempt to start one failing (each page run tries), History (list and detail) and
    Admin still work."""

    def refuse(*args, **kwargs):
        raise AssertionError("a job runner was started")

    forget_app_runner()
    monkeypatch.setattr(JobRunner, "__init__", refuse)
    key = store.save(png_bytes("no runner"), "image/png").key
    gid = add(db, admin, outputs=[key], description="no worker here")
    try:
        for page, query in [
            (PAGE, None),
            (PAGE, {"id": str(gid)}),
            ("pages/8_Admin.py", None),
            ("pages/8_Admin.py", {"gen": str(gid)}),
        ]:
            at = open_page(page, admin, query)
            assert not at.exception and not at.error, (page, query)
        assert "no worker here" in [t.value for t in at.text]
    finally:
        forget_app_runner()
