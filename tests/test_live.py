"""The /live route (viba.web.live) over real HTTP on a real `streamlit run app.py`: a login's
pages learn when its unfinished jobs change, and nothing of anyone else's. Tested as an
attacker would: another user's login, a login that ended, altered addresses, odd ids."""

from __future__ import annotations

import asyncio
import json
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from test_jobs import models
from test_media import fetch, login

from viba.core.config import load_settings
from viba.engine.gemini import ImageResult, Usage
from viba.engine.images import prepare_image
from viba.studio import generations
from viba.web import addresses, live

from fake_gemini import png_bytes
from helpers import person


@pytest.fixture()
def settings(app_env):
    return load_settings(
        VIBA_COOKIE_KEY=app_env["VIBA_COOKIE_KEY"], VIBA_DATA_DIR=app_env["VIBA_DATA_DIR"]
    )


def job(db, store, account) -> uuid.UUID:
    """A pending avatar generation of the account's (no queue: nothing runs it)."""
    image = prepare_image(png_bytes(f"live-{uuid.uuid4()}"), "me.png")
    params = {"models": {"avatar": models()["avatar"]}, "options": {}}
    return generations.create(db, store, account.id, "avatar", [image], params, "test")


def ask(server, settings, session_id, ids=(), raw: str | None = None, known: str = ""):
    url = server.url + live.address(settings, session_id)
    url += "&ids=" + (raw if raw is not None else ",".join(i.hex for i in ids)) + "&v=" + known
    status, headers, body = fetch(url)
    return status, headers, (json.loads(body) if status == 200 else body)


def test_a_login_sees_its_jobs_change_and_end(streamlit_server, db, store, member, settings):
    sid = login(db, member)
    first, second = job(db, store, member), job(db, store, member)
    status, headers, answer = ask(streamlit_server, settings, sid, [first])
    assert status == 200 and headers["cache-control"] == "no-store"
    drawn = generations.find(db, member.id, first)
    assert answer["jobs"] == {first.hex: drawn.version}  # what a page drew of it
    assert {first.hex, second.hex} <= set(answer["running"])
    # An output stored: a new version; the job ended: no longer running.
    made = ImageResult(png_bytes("live-out"), "image/png", models()["avatar"], Usage(1, 2, 3), 0.1)
    generations.add_output(db, store, drawn, "avatar", made, None)
    _, _, changed = ask(streamlit_server, settings, sid, [first])
    assert changed["jobs"][first.hex] not in ("", drawn.version)
    generations.finish(db, first, tokens=3, seconds=0.1)
    _, _, ended = ask(streamlit_server, settings, sid, [first])
    assert ended["jobs"][first.hex].startswith("completed@")
    assert first.hex not in ended["running"] and second.hex in ended["running"]
    # A failed one ends too; a made-up id is simply not there.
    generations.fail(db, second, "failed")
    made_up = uuid.uuid4()
    _, _, answer = ask(streamlit_server, settings, sid, [first, second, made_up])
    assert second.hex not in answer["running"] and answer["jobs"][second.hex].startswith("failed@")
    assert made_up.hex not in answer["jobs"]


def test_another_login_learns_nothing_of_my_jobs(streamlit_server, db, store, member, settings):
    mine = job(db, store, member)
    other = person(db, "Eve")
    status, _, answer = ask(streamlit_server, settings, login(db, other), [mine])
    assert status == 200 and (answer["jobs"], answer["running"]) == ({}, [])


def test_anything_but_a_live_login_and_its_own_address_is_one_404(
    streamlit_server, db, store, member, settings
):
    mine = job(db, store, member)
    sid = login(db, member)
    url = streamlit_server.url + live.address(settings, sid) + "&ids=" + mine.hex
    assert fetch(url)[0] == 200
    token = addresses.signature(settings, "live", "", sid)
    altered = [
        url.replace(token, ("0" if token[0] != "0" else "1") + token[1:]),  # the signature
        url.replace(f"s={sid.hex}", f"s={uuid.uuid4().hex}"),  # another session, same token
        url.replace("&t=", "&x="),
        # An image address's signature for this session does not open the route.
        streamlit_server.url
        + f"/live?s={sid.hex}&t={addresses.signature(settings, 'thumb', 'img/x.png', sid)}",
    ]
    for bad in altered:
        assert fetch(bad)[0] == 404, bad
    for raw in ("zz" * 16, mine.hex[:-1], "../" + mine.hex, ",".join([mine.hex] * 61)):
        assert ask(streamlit_server, settings, sid, raw=raw)[0] == 404, raw
    for known in ("x" * 16, "0" * 15, "0" * 17, "%00" * 16):
        assert ask(streamlit_server, settings, sid, [mine], known=known)[0] == 404, known
    # A login that ended (logged out here or elsewhere) is refused at once.
    from viba.accounts import sessions

    sessions.end(db, sid)
    assert fetch(url)[0] == 404


def test_a_request_that_knows_the_state_is_answered_when_it_changes(
    streamlit_server, db, store, member, settings
):
    """With the digest of its last answer, the request waits; a write to the job answers it
    (the page's one open request learns of a change without asking again)."""
    first = job(db, store, member)
    sid = login(db, member)
    _, _, before = ask(streamlit_server, settings, sid, [first])
    answers: list = []
    waiting = threading.Thread(
        target=lambda: answers.append(
            ask(streamlit_server, settings, sid, [first], known=before["v"])
        )
    )
    waiting.start()
    # Written while the request waits (or before it arrives: then it is answered at once).
    generations.merge_details(db, first, description="a red square")
    waiting.join(30)
    status, _, after = answers[0]
    assert status == 200 and after["v"] != before["v"]
    assert after["jobs"][first.hex] != before["jobs"][first.hex]
    assert after["running"] == before["running"]


def test_the_hub_answers_every_waiting_page_from_one_query(db, store, admin, monkeypatch):
    """Three logins wait on their jobs: each look at the rows is one query for all three; the
    two whose jobs changed are answered, the third is not, and a hold with no change ends
    with the state as it was."""
    people = [person(db, f"hub{i}") for i in range(3)]
    jobs = [job(db, store, p) for p in people]
    looks: list[set] = []
    real = generations.live_rows

    def counted(db_, users, ids, *args):
        looks.append(set(users))
        return real(db_, users, ids, *args)

    monkeypatch.setattr(generations, "live_rows", counted)
    hub = live.Hub(db, every=0.05)

    async def scenario():
        known = [await hub.now(p.id, [j]) for p, j in zip(people, jobs)]
        looks.clear()
        waiting = [
            asyncio.create_task(hub.changed(p.id, [j], k["v"], hold=60))
            for p, j, k in zip(people, jobs, known)
        ]
        await asyncio.sleep(0)  # each registers before its first await
        await asyncio.to_thread(generations.merge_details, db, jobs[0], description="red")
        await asyncio.to_thread(generations.finish, db, jobs[1], 3, 0.1)
        changed = await asyncio.wait_for(asyncio.gather(waiting[0], waiting[1]), 30)
        assert not waiting[2].done()
        waiting[2].cancel()
        unchanged = await hub.changed(people[2].id, [jobs[2]], known[2]["v"], hold=0.2)
        return known, changed, unchanged

    # On a thread of its own: the browser tests' driver keeps an event loop on this one.
    with ThreadPoolExecutor(1) as pool:
        known, changed, unchanged = pool.submit(asyncio.run, scenario()).result(60)
    assert changed[0]["jobs"][jobs[0].hex] != known[0]["jobs"][jobs[0].hex]
    assert changed[1]["running"] == [] and changed[1]["jobs"][jobs[1].hex].startswith("completed")
    assert unchanged == known[2]
    assert looks and looks[0] == {p.id for p in people}  # one query for the three at once
    # Each login is told of its own jobs only, though one query read all three.
    assert set(changed[0]["jobs"]) == {jobs[0].hex} and changed[0]["running"] == [jobs[0].hex]
