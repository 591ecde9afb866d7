"""The four studio features end to end in headless Chromium against `streamlit run`, with the
real google-genai SDK talking to the test suite's fake Gemini: upload, generate, see the
result, download it, and find the row and its stored images in the database."""

from __future__ import annotations

import io
import random
import re
import signal
import threading
import urllib.request
import uuid
import zipfile
from collections.abc import Callable

import pytest
from PIL import Image
from playwright.sync_api import Page, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from sqlalchemy import select

from viba.accounts import auth
from viba.store.models import Blob, GenerationHistory

import fake_gemini as fg
from fake_gemini import png_bytes
from helpers import (
    PASSWORD,
    StreamlitServer,
    go_to,
    main,
    open_logged_in,
    queue_name,
    screenshot,
    settled,
    wait_until,
)
from helpers import (
    generation_rows as rows,
)

pytestmark = pytest.mark.browser


@pytest.fixture()
def member(db, admin):
    return auth.register(db, f"studio-{uuid.uuid4().hex[:8]}@example.com", "Stu Dio", PASSWORD)


def upload(page: Page, index: int, *files: tuple[str, bytes]) -> None:
    """Add files to the index-th uploader and wait until each has uploaded (its chip's
    spinner and "Cancel upload" give way to "Remove"). A rerun that redraws the form right
    then can drop the pending files (seen about 1 run in 20 just after login), so they are
    added again when their chips do not get there, as a person would."""
    inputs = main(page).locator('input[type="file"]')

    def uploaded(timeout: float) -> None:
        for name, _ in files:
            remove = main(page).get_by_role("button", name=f"Remove {name}", exact=True)
            expect(remove.first).to_be_visible(timeout=timeout)

    for _ in range(3):
        inputs.nth(index).set_input_files(
            [{"name": n, "mimeType": "image/png", "buffer": b} for n, b in files]
        )
        try:
            uploaded(5000)
            return
        except AssertionError:
            continue
    uploaded(5000)


def generate(page: Page) -> None:
    """Click Generate once the page has no run going (a click during a run's redraw of the
    form can be dropped)."""
    settled(page)
    main(page).get_by_role("button", name="Generate").click()


def generate_until(page: Page, made: Callable[[], object]) -> None:
    """Generate, and once more if after 10 s the job is not in the database (`made`): a click
    on a form just filled in from another generation can still be dropped (seen about 1 run
    in 25). The database says whether it was, so a slow submit is never sent twice."""
    generate(page)
    try:
        wait_until(made, timeout=10)
    except AssertionError:
        generate(page)
        wait_until(made)


def tick_compare(page: Page, n: int) -> None:
    """Tick the n-th Compare and wait until the app has the pick: the tick is keyed by the
    pick's state (…_0 not picked, …_1 picked), so its key changes once the server has it. A
    click that lands while the page reruns can be dropped, or leave a tick shown that the
    server never got (the next click then unticks it): click until the key says picked."""
    for _ in range(4):
        box = main(page).locator('[class*="st-key-cmp_"]').nth(n)
        key = next(c for c in box.get_attribute("class").split() if c.startswith("st-key-cmp_"))
        if key.endswith("_1"):
            return
        box.get_by_text("Compare").click()
        try:
            expect(main(page).locator(f".{key[:-1]}1")).to_be_visible(timeout=5000)
            return
        except AssertionError:
            settled(page)
    raise AssertionError(f"the app never took the pick of Compare {n}")


def stored(db, keys):
    with db.session() as s:
        return set(s.scalars(select(Blob.key).where(Blob.key.in_(keys))))


def download_first(page: Page) -> bytes:
    """Click the first Download. A click that lands while the job card's last poll redraws
    it can ask for the file the previous draw offered, which that redraw just let go (seen
    about once in 300 runs); a person clicks again, and so does this."""
    for attempt in range(3):
        try:
            with page.expect_download(timeout=10_000) as info:
                main(page).get_by_role("button", name="Download", exact=True).first.click()
            return open(info.value.path(), "rb").read()
        except PlaywrightTimeout:
            if attempt == 2:
                raise
            settled(page)
    raise AssertionError("unreachable")


def check_done(db, user, feature, outputs: int) -> GenerationHistory:
    wait_until(
        lambda: (
            rows(db, user, feature)
            and rows(db, user, feature)[-1].status in ("completed", "failed")
        ),
        timeout=30,
    )
    row = rows(db, user, feature)[-1]
    assert row.status == "completed", row.error_message
    assert len(row.output_keys) == outputs
    keys = row.input_keys + row.output_keys
    assert stored(db, keys) == set(keys)  # images in the blobs table, not in the row
    assert all(k.startswith("img/") for k in keys)
    return row


def test_derivation_batch_end_to_end(page, streamlit_server, db, member, fake_gemini):
    open_logged_in(page, streamlit_server, member, "Derivation")
    upload(page, 0, ("first.png", png_bytes("d1")), ("second.png", png_bytes("d2")))
    generate(page)
    wait_until(lambda: len(rows(db, member, "derivation")) == 2)
    for _ in rows(db, member, "derivation"):
        wait_until(
            lambda: (
                rows(db, member, "derivation")[0].status == "completed"
                and rows(db, member, "derivation")[1].status == "completed"
            ),
            timeout=30,
        )
    # Each card: its input's thumbnail and its 4 variants.
    expect(main(page).get_by_role("img")).to_have_count(2 * (1 + 4), timeout=20_000)
    screenshot(page, "derivation")
    assert download_first(page)[:3] == b"\xff\xd8\xff"  # Gemini's JPEG, as it came
    # The card's zip is a link to the route that streams it (viba.web.downloads).
    link = main(page).get_by_role("link", name="Download all (zip)").first
    answer = page.request.get(link.get_attribute("href"))
    assert answer.ok and answer.headers["content-type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(answer.body())) as zf:
        assert zf.testzip() is None
        names = zf.namelist()
    assert len([n for n in names if n.endswith(".jpg")]) == 4 and "description.txt" in names
    for row in rows(db, member, "derivation"):
        assert len(row.output_keys) == 4 and row.details["description"]


def test_avatar_end_to_end(page, streamlit_server, db, member):
    open_logged_in(page, streamlit_server, member, "Avatar")
    upload(page, 0, ("me-1.png", png_bytes("a1")), ("me-2.png", png_bytes("a2")))
    generate(page)
    row = check_done(db, member, "avatar", 1)
    expect(main(page).get_by_role("button", name="Download", exact=True)).to_have_count(
        1, timeout=20_000
    )
    downloaded = download_first(page)
    assert downloaded[:3] == b"\xff\xd8\xff"  # Gemini's JPEG, as it came
    with Image.open(io.BytesIO(downloaded)) as full:
        assert full.size == (3584, 4800)  # Avatar's default: a 4K portrait (3:4)
    assert row.input_params["options"] == {"image_size": "4K", "aspect_ratio": "3:4"}
    # The card shows a preview (not the whole content width) and what was asked for; the
    # full size opens on demand.
    card_image = main(page).get_by_role("img").last
    assert card_image.bounding_box()["width"] < 500
    # It comes from the app's own route, by an address of this login, loaded and cached.
    src = card_image.get_attribute("src")
    assert src.startswith(f"{streamlit_server.url}/images/thumb/img/") and "&t=" in src
    expect(card_image).to_have_js_property("complete", True)
    assert card_image.evaluate("img => img.naturalWidth") > 0
    answer = page.request.get(src)
    assert answer.status == 200 and "immutable" in answer.headers["cache-control"]
    assert page.request.get(src.replace("&t=", "&t=f")[: len(src)]).status == 404
    # The size, the ratio and the estimated cost of its calls, as recorded (2,520 tokens at
    # $30/1M and the input: about 8 cents on Nano Banana 2.1).
    cost = check_done(db, member, "avatar", 1).details["cost_usd"]
    assert 2520 * 30 / 1e6 < cost < 0.1
    expect(main(page).get_by_text(f"4K · 3:4 · ≈ ${cost:.3f}")).to_be_visible()
    main(page).get_by_role("button", name="Full size").first.click()
    dialog = page.get_by_role("dialog")
    expect(dialog.get_by_role("img")).to_be_visible(timeout=10_000)
    # As large as a screen shows it (Streamlit's 1460 px); the caption gives the real size.
    natural = dialog.get_by_role("img").evaluate("img => [img.naturalWidth, img.naturalHeight]")
    assert natural == [1090, 1460]
    expect(dialog.get_by_text("3584 × 4800 px")).to_be_visible()


def uploads_held(server) -> int:
    """Bytes of uploaded files the server holds, by its own metrics."""
    with urllib.request.urlopen(f"{server.url}/_stcore/metrics", timeout=10) as answer:
        text = answer.read().decode()
    return sum(
        int(float(line.rsplit(" ", 1)[1]))
        for line in text.splitlines()
        if "UploadedFileManager" in line and not line.startswith("#")
    )


def uploads_on_disk(server) -> list[bytes]:
    """The files the server keeps picked uploads in (viba.web.uploads), under its TMPDIR."""
    return [p.read_bytes() for p in server.tmp_dir.glob("viba-uploads-*/up-*")]


def test_an_uploaded_photo_waits_on_disk_and_goes_once_its_job_is_queued(
    page, streamlit_server, db, member
):
    """Streamlit's uploader sends a picked file at once and keeps it until the session ends;
    here it waits in a file, not in the web process's memory, and goes once stored (12 MP
    photos: 4-6 MB each, per Generate)."""
    noise = Image.frombytes("RGB", (700, 700), random.randbytes(700 * 700 * 3))
    out = io.BytesIO()
    noise.save(out, format="PNG")
    photo = out.getvalue()
    open_logged_in(page, streamlit_server, member, "Avatar")
    upload(page, 0, ("big.png", photo))
    held = uploads_held(streamlit_server)
    assert held >= len(photo)  # sent when picked; the page sees it on Generate
    assert photo in uploads_on_disk(streamlit_server)
    generate(page)
    check_done(db, member, "avatar", 1)
    wait_until(lambda: uploads_held(streamlit_server) <= held - len(photo), timeout=20)
    assert photo not in uploads_on_disk(streamlit_server)


def test_try_on_end_to_end(page, streamlit_server, db, member, fake_gemini):
    open_logged_in(page, streamlit_server, member, "Try_On")
    upload(page, 0, ("person.png", png_bytes("p")))
    upload(page, 1, ("garment.png", png_bytes("g")))
    generate(page)
    row = check_done(db, member, "try_on", 1)
    expect(main(page).get_by_role("button", name="Download", exact=True)).to_have_count(
        1, timeout=20_000
    )
    assert download_first(page)[:3] == b"\xff\xd8\xff"  # Gemini's JPEG, as it came
    sent = [
        r for r in fake_gemini.generate_calls() if r.model == row.input_params["models"]["try_on"]
    ]
    assert len(sent[-1].images) == 2


def test_swap_with_a_previous_avatar_as_the_person(page, streamlit_server, db, member):
    open_logged_in(page, streamlit_server, member, "Avatar")
    upload(page, 0, ("me.png", png_bytes("swap-avatar")))
    generate(page)
    avatar = check_done(db, member, "avatar", 1)
    go_to(page, "Swap", "Swap")
    main(page).get_by_text("One of my avatars").click()
    expect(main(page).get_by_role("combobox", name="Avatar")).to_be_visible()
    upload(page, 0, ("beach.png", png_bytes("scene")))
    generate(page)
    row = check_done(db, member, "swap", 1)
    assert row.input_keys[0] == avatar.output_keys[0]  # the avatar image, stored once
    expect(main(page).get_by_role("button", name="Download", exact=True)).to_have_count(
        1, timeout=20_000
    )


def test_a_bad_upload_gets_a_clear_message_and_no_job(page, streamlit_server, db, member):
    open_logged_in(page, streamlit_server, member, "Avatar")
    upload(page, 0, ("broken.png", b"not an image at all"))
    generate(page)
    error = main(page).get_by_test_id("stAlert").filter(has_text="broken.png")
    expect(error).to_be_visible()
    expect(error).to_contain_text(re.compile("not an image", re.I))
    assert rows(db, member, "avatar") == []


def start_avatar_job(page: Page, server, db, member, name: str) -> None:
    """Log in on Avatar, submit one photo and wait until its job runs (the fake holds it)."""
    open_logged_in(page, server, member, "Avatar")
    upload(page, 0, (name, png_bytes(name)))
    generate(page)
    wait_until(
        lambda: rows(db, member, "avatar") and rows(db, member, "avatar")[-1].status == "processing"
    )


def test_job_survives_page_switch_and_reload(page, streamlit_server, db, member, fake_gemini):
    gate = threading.Event()
    fake_gemini.script(fg.gated(gate))
    try:
        start_avatar_job(page, streamlit_server, db, member, "slow.png")
        go_to(page, "Profile", "Profile")
        page.reload()
        gate.set()
        check_done(db, member, "avatar", 1)
        go_to(page, "Avatar", "Avatar")
        expect(main(page).get_by_role("button", name="Download", exact=True)).to_have_count(
            1, timeout=20_000
        )
    finally:
        gate.set()


def test_a_job_cut_by_kill_9_completes_after_the_restart(
    browser, app_env, db, member, fake_gemini, tmp_path
):
    gate = threading.Event()
    fake_gemini.script(fg.gated(gate))
    app_env = {**app_env, "VIBA_QUEUE": queue_name()}  # no other server of the run takes it
    server = StreamlitServer(app_env, tmp_path / "first.log")
    server.wait_healthy()
    page = browser.new_context().new_page()
    try:
        start_avatar_job(page, server, db, member, "cut.png")
        server.proc.kill()  # the process dies mid-job, with no chance to finish it
        server.stop()
        assert rows(db, member, "avatar")[-1].status == "processing"
        again = StreamlitServer(app_env, tmp_path / "second.log")
        again.wait_healthy()
        try:
            page.goto(f"{again.url}/Avatar")  # the first page run starts the runner
            wait_until(lambda: rows(db, member, "avatar")[-1].status == "completed", timeout=30)
            done = rows(db, member, "avatar")[-1]
            assert done.details["resumed"] == 1 and len(done.output_keys) == 1
            expect(main(page).get_by_role("button", name="Download", exact=True)).to_have_count(
                1, timeout=20_000
            )
        finally:
            again.stop()
        assert "Traceback" not in (tmp_path / "second.log").read_text(errors="replace")
    finally:
        gate.set()
        page.context.close()


def test_sigterm_mid_job_stops_serving_and_lets_the_job_finish(
    browser, app_env, db, member, fake_gemini, tmp_path
):
    """What Render does on a deploy: SIGTERM, then SIGKILL after maxShutdownDelaySeconds."""
    gate = threading.Event()
    fake_gemini.script(fg.gated(gate))
    app_env = {**app_env, "VIBA_QUEUE": queue_name()}  # this server's worker runs it
    server = StreamlitServer(app_env, tmp_path / "server.log")
    server.wait_healthy()
    page = browser.new_context().new_page()
    try:
        start_avatar_job(page, server, db, member, "deploy.png")
        wait_until(lambda: fake_gemini.generate_calls())
        server.proc.terminate()

        # it no longer serves pages...
        wait_until(lambda: not server.answers_health(timeout=1), timeout=20)
        log = tmp_path / "server.log"
        wait_until(lambda: "stopping: waiting up to" in log.read_text(errors="replace"))
        assert server.proc.poll() is None  # ...but waits for its job
        assert rows(db, member, "avatar")[-1].status == "processing"
        gate.set()
        # uvicorn ends the process by the signal it got, once the job is done
        assert server.proc.wait(timeout=60) in (0, -signal.SIGTERM)
        done = rows(db, member, "avatar")[-1]
        assert done.status == "completed" and len(done.output_keys) == 1
        assert "resumed" not in done.details
    finally:
        gate.set()
        server.stop()
        page.context.close()
    text = (tmp_path / "server.log").read_text(errors="replace")
    assert "all 1 job(s) finished" in text and "Traceback" not in text


def test_a_job_that_ends_while_its_owner_is_elsewhere_is_announced(
    page, streamlit_server, db, member, fake_gemini
):
    gate = threading.Event()
    fake_gemini.script(fg.gated(gate))  # the portrait's answer waits for the test
    try:
        open_logged_in(page, streamlit_server, member, "Avatar")
        upload(page, 0, ("me.png", png_bytes("watched")))
        generate(page)
        wait_until(
            lambda: (
                rows(db, member, "avatar") and rows(db, member, "avatar")[-1].status == "processing"
            )
        )
        # The tab counts the running job from the run that queued it, then on any page.
        expect(page).to_have_title("(1) Avatar · Viba Studio")
        go_to(page, "History", "History")
        expect(page).to_have_title("(1) History · Viba Studio", timeout=10_000)
        gate.set()
        expect(page.get_by_text("Your Avatar is done.")).to_be_visible(timeout=15_000)
        expect(page).to_have_title("History · Viba Studio")
    finally:
        gate.set()


def test_a_job_that_ends_on_its_own_page_redraws_its_card_and_runs_no_page(
    page, streamlit_server, db, member, fake_gemini
):
    """The card draws its job finished, actions and all, and the tab's count follows, with no
    run of the page; Run again on that card runs the page, which shows the new job too."""
    gate = threading.Event()
    fake_gemini.script(fg.gated(gate))

    def runs() -> list[str]:
        text = streamlit_server.log_path.read_text(errors="replace")
        return [
            line.rsplit("page run: ", 1)[1]
            for line in text.splitlines()
            if f"user_id={member.id}" in line and "page run:" in line
        ]

    try:
        open_logged_in(page, streamlit_server, member, "Avatar")
        upload(page, 0, ("me.png", png_bytes("ends here")))
        generate(page)
        wait_until(lambda: rows(db, member, "avatar"))
        expect(page).to_have_title("(1) Avatar · Viba Studio")
        settled(page)
        before = len(runs())
        gate.set()
        expect(main(page).get_by_text("Avatar · done")).to_be_visible(timeout=20_000)
        expect(main(page).get_by_role("button", name="Run again", exact=True)).to_be_visible()
        expect(page).to_have_title("Avatar · Viba Studio")
        settled(page)
        # Run again on the card, inside its own part: the whole page runs, with the new job.
        main(page).get_by_role("button", name="Run again", exact=True).click()
        wait_until(lambda: len(rows(db, member, "avatar")) == 2)
        expect(main(page).get_by_text("Avatar · done")).to_have_count(2, timeout=20_000)
        settled(page)
        # The fence: a page run of a finished job would be in the log before this one.
        go_to(page, "History", "History")
        settled(page)
        assert runs()[before:] == ["Avatar", "History"]  # Run again's, then History's
    finally:
        gate.set()


def test_generate_after_the_login_ended_elsewhere_queues_nothing(
    page, streamlit_server, db, member
):
    """Generate runs the form's part of the page alone, without the guard: it asks whether
    the login is still live before it queues anything."""
    from viba.accounts import sessions

    open_logged_in(page, streamlit_server, member, "Avatar")
    upload(page, 0, ("me.png", png_bytes("too late")))
    with db.session() as s:
        sessions.end_all(s, member.id, "logout")  # as a logout in another browser does
    generate(page)
    expect(page.get_by_text("Your session has ended")).to_be_visible(timeout=15_000)
    settled(page)
    assert rows(db, member, "avatar") == []


def test_the_language_holds_across_pages_and_reloads_and_is_kept_on_the_account(
    page, streamlit_server, db, member
):
    open_logged_in(page, streamlit_server, member, "Derivation")
    page.get_by_test_id("stSidebar").get_by_role("radio", name="中文").click()
    expect(main(page).get_by_role("heading", name="衍生", level=1)).to_be_visible()
    # Streamlit's own uploader text, drawn in 中文 by the page's style.
    zone = page.get_by_test_id("stFileUploaderDropzone").first
    after = "el => getComputedStyle(el, '::after').content"
    wait_until(lambda: zone.locator("button p").evaluate(after) == '"上传"')
    note = zone.get_by_test_id("stFileUploaderDropzoneInstructions").locator("span").first
    assert note.evaluate(after) == '"每个文件最大 25MB · PNG, JPG, WEBP, HEIC"'
    go_to(page, "历史记录", "历史记录")  # another page through the sidebar: still 中文
    page.reload()
    expect(main(page).get_by_role("heading", name="历史记录", level=1)).to_be_visible()
    assert auth.get_account(db, member.id).language == "zh"
    page.get_by_test_id("stSidebar").get_by_role("radio", name="English").click()
    expect(main(page).get_by_role("heading", name="History", level=1)).to_be_visible()
    wait_until(lambda: auth.get_account(db, member.id).language == "en")


def test_a_new_visitor_gets_the_browsers_language(browser, streamlit_server):
    context = browser.new_context(
        locale="zh-CN", extra_http_headers={"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.8"}
    )
    try:
        visitor = context.new_page()
        visitor.goto(f"{streamlit_server.url}/")
        expect(
            visitor.get_by_test_id("stSidebar").get_by_role("link", name="登录或注册")
        ).to_be_visible(timeout=20_000)
    finally:
        context.close()


def test_an_account_in_chinese_logs_in_to_chinese(page, streamlit_server, db, member):
    from viba.studio import preferences

    preferences.set_language(db, member.id, "zh")
    open_logged_in(page, streamlit_server, member, "Derivation")
    expect(main(page).get_by_role("heading", name="衍生", level=1)).to_be_visible()
    settled(page)
    expect(main(page).get_by_role("heading", name="衍生", level=1)).to_be_visible()
    screenshot(page, "derivation-zh")
    assert auth.get_account(db, member.id).language == "zh"  # not switched back by the page


def test_cancel_on_a_running_card(page, streamlit_server, db, member, fake_gemini):
    gate = threading.Event()
    fake_gemini.script(fg.gated(gate))
    try:
        open_logged_in(page, streamlit_server, member, "Avatar")
        upload(page, 0, ("me.png", png_bytes("cancel me")))
        generate(page)
        main(page).get_by_role("button", name="Cancel").click(timeout=20_000)
        wait_until(lambda: rows(db, member, "avatar")[-1].status == "cancelled")
        # One card shows it, once the page has redrawn (a CI run once caught the fragment's
        # card and the redrawn one both in the page for a moment, and a strict locator fails
        # at once on two).
        shown = main(page).get_by_text("Avatar · cancelled").filter(visible=True)
        expect(shown).to_have_count(1, timeout=10_000)
        expect(main(page).get_by_role("button", name="Cancel")).to_have_count(0)
    finally:
        gate.set()


def test_refine_an_output_in_the_browser_sends_the_conversation(
    page, streamlit_server, db, member, fake_gemini
):
    open_logged_in(page, streamlit_server, member, "Avatar")
    upload(page, 0, ("me.png", png_bytes("refine in browser")))
    generate(page)
    check_done(db, member, "avatar", 1)
    expect(main(page).get_by_role("button", name="Download", exact=True)).to_have_count(
        1, timeout=20_000
    )
    settled(page)
    main(page).get_by_role("button", name="Refine").first.click()
    box = page.get_by_role("textbox", name="What should change?")
    box.fill("a darker background")
    box.press("Control+Enter")  # the popover's form: submit
    wait_until(lambda: len(rows(db, member, "avatar")) == 2, timeout=20)
    child = check_done(db, member, "avatar", 1)
    assert child.parent_id == rows(db, member, "avatar")[0].id
    last = fake_gemini.generate_calls()[-1]
    assert [c["role"] for c in last.contents] == ["user", "model", "user"]
    assert last.contents[1]["parts"][0]["thoughtSignature"]


def test_iterate_in_the_browser_edit_use_as_input_compare_and_settings_in_the_file(
    page, streamlit_server, db, member, fake_gemini
):
    from viba.studio import metadata

    open_logged_in(page, streamlit_server, member, "Avatar")
    upload(page, 0, ("me.png", png_bytes("iterate")))
    generate(page)
    first = check_done(db, member, "avatar", 1)
    expect(main(page).get_by_role("button", name="Download", exact=True)).to_have_count(
        1, timeout=20_000
    )
    settled(page)
    # The download carries its settings.
    meta = metadata.read(download_first(page))
    assert meta["generation_id"] == str(first.id) and meta["feature"] == "avatar"
    # Use as input: the avatar as the garment of a Try-On.
    main(page).get_by_role("button", name="Use as input").first.click()
    page.get_by_role("combobox", name="In").click()
    page.get_by_role("option", name="Try-On · Garment").click()
    page.get_by_test_id("stPopoverBody").get_by_text("Open", exact=True).click()
    expect(main(page).get_by_role("heading", name="Try-On", level=1)).to_be_visible()
    expect(main(page).get_by_text("Filled in from an earlier generation")).to_be_visible()
    upload(page, 0, ("person.png", png_bytes("the person")))
    generate_until(page, lambda: rows(db, member, "try_on"))
    try_on = check_done(db, member, "try_on", 1)
    assert try_on.input_keys[1] == first.output_keys[0]
    # Edit and run again: the Try-On's form with its two stored inputs, at another size.
    settled(page)
    main(page).get_by_role("button", name="Edit and run again").first.click()
    expect(main(page).get_by_text("Filled in from an earlier generation")).to_be_visible()
    expect(main(page).locator('input[type="file"]')).to_have_count(0)
    generate_until(page, lambda: len(rows(db, member, "try_on")) == 2)
    again = check_done(db, member, "try_on", 1)
    assert again.input_keys == try_on.input_keys
    # Compare the two Try-On results side by side on History, once both cards are drawn
    # finished by a whole-page run (a card that finishes redraws itself, then the page).
    expect(main(page).get_by_role("button", name="Run again", exact=True)).to_have_count(2)
    expect(main(page).get_by_test_id("stCheckbox")).to_have_count(2)
    settled(page)
    for i in range(2):  # one on each card, History between (picks hold across pages)
        tick_compare(page, i)
        go_to(page, "History", "History")
        picked = (
            main(page).get_by_text("1 image picked to compare")
            if i == 0
            else main(page).get_by_role("button", name="Compare the 2 picked")
        )
        expect(picked).to_be_visible()
        if i == 0:
            go_to(page, "Try-On", "Try-On")
    main(page).get_by_role("button", name="Compare the 2 picked").click()
    expect(main(page).get_by_role("heading", name="Side by side")).to_be_visible()
    expect(main(page).get_by_role("img")).to_have_count(2, timeout=15_000)
    screenshot(page, "compare")


def test_a_phone_heic_upload_is_taken(page, streamlit_server, db, member):
    import io

    from PIL import Image

    heic = io.BytesIO()
    Image.new("RGB", (60, 80), (200, 100, 50)).save(heic, format="HEIF")
    open_logged_in(page, streamlit_server, member, "Derivation")
    upload(page, 0, ("phone.heic", heic.getvalue()))
    generate(page)
    done = check_done(db, member, "derivation", 4)
    assert done.input_params["input_names"] == ["phone.heic"]


def thumbnails(page: Page) -> list[list]:
    """[file name, natural width, natural height] of each thumbnail drawn (loaded) in the
    uploaders' file chips, in page order."""
    return (
        main(page)
        .locator('[data-testid="stFileChip"] img[data-viba-thumb]')
        .evaluate_all(
            "imgs => imgs.filter(i => i.complete && i.naturalWidth > 0)"
            "  .map(i => [i.alt, i.naturalWidth, i.naturalHeight])"
        )
    )


def drop(page: Page, index: int, name: str, data: bytes) -> None:
    """Drop a file on the index-th uploader, as a drag from the desktop does."""
    transfer = page.evaluate_handle(
        """([name, bytes]) => {
            const t = new DataTransfer();
            t.items.add(new File([new Uint8Array(bytes)], name, {type: "image/png"}));
            return t;
        }""",
        [name, list(data)],
    )
    zone = main(page).get_by_test_id("stFileUploaderDropzone").nth(index)
    zone.dispatch_event("drop", {"dataTransfer": transfer})


def test_picked_photos_show_as_thumbnails_and_a_removed_one_is_not_sent(
    page, streamlit_server, db, member, fake_gemini
):
    open_logged_in(page, streamlit_server, member, "Avatar")
    upload(
        page,
        0,
        ("me-1.png", png_bytes("t1", (40, 50))),
        ("me-2.png", png_bytes("t2", (60, 30))),
    )
    # Each chip shows the photo picked for it (its own pixels: its size), before any run.
    wait_until(lambda: thumbnails(page) == [["me-1.png", 40, 50], ["me-2.png", 60, 30]])
    screenshot(page, "upload-thumbnails")
    main(page).get_by_role("button", name="Remove me-2.png").click()
    wait_until(lambda: thumbnails(page) == [["me-1.png", 40, 50]])
    generate(page)
    row = check_done(db, member, "avatar", 1)
    assert row.input_params["input_names"] == ["me-1.png"]
    sent = [
        r for r in fake_gemini.generate_calls() if r.model == row.input_params["models"]["avatar"]
    ]
    assert len(sent[-1].images) == 1  # the removed photo never left the browser
    wait_until(lambda: thumbnails(page) == [])  # the form is cleared, and its thumbnails


def test_a_dropped_photo_shows_and_a_new_pick_replaces_it_in_a_one_file_slot(
    page, streamlit_server, db, member, fake_gemini
):
    open_logged_in(page, streamlit_server, member, "Try_On")
    drop(page, 0, "dropped.png", png_bytes("dropped", (30, 30)))
    wait_until(lambda: thumbnails(page) == [["dropped.png", 30, 30]])
    upload(page, 0, ("person.png", png_bytes("p", (50, 70))))
    # A type the slot refuses shows Streamlit's error on its chip, not a thumbnail.
    gif = io.BytesIO()
    Image.new("RGB", (20, 20), "blue").save(gif, format="GIF")
    garment = main(page).locator('input[type="file"]').nth(1)
    garment.set_input_files(
        [{"name": "moving.gif", "mimeType": "image/gif", "buffer": gif.getvalue()}]
    )
    chip = main(page).get_by_test_id("stFileChip").filter(has_text="moving.gif")
    expect(chip).to_have_attribute("aria-invalid", "true")
    # Two frames after it is drawn, the script has looked at it (it works once per frame).
    page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
    assert chip.locator("img").count() == 0
    assert thumbnails(page) == [["person.png", 50, 70]]
    # While a file uploads, its thumbnail shows dimmed beside the chip's spinner.
    held = []
    page.route("**/_stcore/upload_file/**", lambda route: held.append(route))
    garment.set_input_files(
        [{"name": "garment.png", "mimeType": "image/png", "buffer": png_bytes("g", (70, 50))}]
    )
    wait_until(lambda: thumbnails(page) == [["person.png", 50, 70], ["garment.png", 70, 50]])
    chip = main(page).get_by_test_id("stFileChip").filter(has_text="garment.png")
    expect(chip.get_by_test_id("stFileChipIconSpinner")).to_be_visible()
    opacity = "img => getComputedStyle(img).opacity"
    assert chip.locator("img").evaluate(opacity) == "0.5"
    wait_until(lambda: held)
    for route in held:
        route.continue_()
    page.unroute("**/_stcore/upload_file/**")
    expect(main(page).get_by_role("button", name="Remove garment.png")).to_be_visible()
    assert chip.locator("img").evaluate(opacity) == "1"
    generate(page)
    row = check_done(db, member, "try_on", 1)
    assert row.input_params["input_names"] == ["person.png", "garment.png"]


def test_one_input_across_two_models_shows_side_by_side(page, streamlit_server, db, member):
    from viba.studio import features

    catalog = features.catalog()
    other = next(m for m in catalog.for_step("avatar") if m.id != catalog.default_for("avatar"))
    open_logged_in(page, streamlit_server, member, "Avatar")
    upload(page, 0, ("me.png", png_bytes(f"compare {uuid.uuid4()}")))
    main(page).get_by_test_id("stMultiSelect").locator("input").click()
    page.get_by_role("option", name=re.compile(re.escape(other.label))).click()
    page.keyboard.press("Escape")
    generate(page)
    wait_until(
        lambda: (
            len(rows(db, member, "avatar")) == 2
            and all(r.status == "completed" for r in rows(db, member, "avatar"))
        ),
        timeout=30,
    )
    made = rows(db, member, "avatar")
    assert {r.input_params["models"]["avatar"] for r in made} == {
        catalog.default_for("avatar"),
        other.id,
    }
    # One grid, once the page has run (while a run redraws the list, the previous run's grid
    # can still show beside the new one).
    expect(main(page).get_by_text("the same input, 2 models")).to_have_count(1, timeout=20_000)
    # Each cell drawn finished: a cell shows its outputs while it runs too, under its progress
    # and Cancel, until the page hears that its job ended (a second or so; more on a busy box).
    expect(main(page).get_by_role("button", name="Cancel")).to_have_count(0, timeout=20_000)
    settled(page)
    expect(main(page).get_by_text("the same input, 2 models")).to_be_visible()
    for label in (catalog.get(catalog.default_for("avatar")).label, other.label):
        expect(main(page).get_by_text(label, exact=True)).to_be_visible()
    # The input once, and each model's output beside the other's.
    shown = main(page).locator('img[src*="/images/thumb/"]')
    expect(shown).to_have_count(3)
    boxes = [shown.nth(i).bounding_box() for i in (1, 2)]
    assert abs(boxes[0]["y"] - boxes[1]["y"]) < 5 and boxes[0]["x"] < boxes[1]["x"]
    main(page).get_by_text(other.label, exact=True).scroll_into_view_if_needed()
    screenshot(page, "compare-models")
