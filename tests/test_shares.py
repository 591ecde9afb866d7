"""Share links for people without an account (viba.studio.shares, viba.web.share_page), over
real HTTP on a real `streamlit run app.py`, tried as an attacker would: guessed and altered
tokens, expired and revoked links, places that are not on the link, enumeration."""

from __future__ import annotations

import urllib.error
import urllib.request
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from viba.store.models import ShareLink, ShareView, utcnow
from viba.studio import boards, generations, shares
from viba.studio.shares import ShareError

from fake_gemini import png_bytes
from helpers import add, person

PROMPT = "Make a derivation picture."  # what helpers.add records as the prompt


def fetch(url: str, lang: str = "en") -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, headers={"Accept-Language": lang})
    try:
        with urllib.request.urlopen(request, timeout=20) as resp:
            return resp.status, {k.lower(): v for k, v in resp.headers.items()}, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, {k.lower(): v for k, v in exc.headers.items()}, exc.read()


@pytest.fixture(autouse=True)
def _admin_first(admin):
    """The first account is an admin: made first, the people below are ordinary users."""


def made(db, store, owner, n=2):
    keys = [store.save(png_bytes(f"share {uuid.uuid4()}"), "image/png").key for _ in range(n)]
    return add(db, owner, type="derivation", outputs=keys), keys


def test_an_output_link_shows_that_image_only_without_its_settings(streamlit_server, db, store):
    owner = person(db)
    gid, keys = made(db, store, owner)
    token = shares.share_output(db, owner, gid, keys[1])
    base = f"{streamlit_server.url}/s/{token}"
    status, headers, body = fetch(base)
    assert status == 200 and headers["content-type"].startswith("text/html")
    assert (
        headers["cache-control"] == "no-store"
        and "default-src 'none'" in (headers["content-security-policy"])
    )
    assert b"<script" not in body and body.count(b"<img") == 1
    assert keys[1].encode() not in body and str(gid).encode() not in body  # no key, no id
    status, headers, image = fetch(f"{base}/i/1")
    assert status == 200 and headers["content-type"] == "image/png"
    assert image == store.load(keys[1]) and PROMPT.encode() not in image  # stripped
    assert fetch(f"{base}/t/1")[1]["content-type"] == "image/webp"
    for beyond in ("i/2", "i/0", "t/2", "x/1", "i/-1", "i/1e3", "i/99999999999"):
        assert fetch(f"{base}/{beyond}")[0] == 404, beyond
    # Opened twice more: three views logged, with who asked.
    fetch(base)
    fetch(base, lang="zh-CN,zh;q=0.9")
    (link,) = shares.links(db, owner)
    assert link.views == 3 and link.live and link.what == "derivation #2"
    with db.session() as s:
        agents = s.scalars(select(ShareView.user_agent).where(ShareView.link_id == link.id))
        assert all(a and "Python-urllib" in a for a in agents)


def test_a_kept_link_carries_the_settings_and_prompt(streamlit_server, db, store):
    owner = person(db)
    gid, keys = made(db, store, owner, n=1)
    token = shares.share_output(db, owner, gid, keys[0], days=2, keep_settings=True)
    status, _, image = fetch(f"{streamlit_server.url}/s/{token}/i/1")
    assert status == 200 and PROMPT.encode() in image


def test_guessed_altered_expired_and_revoked_links_all_get_one_answer(
    streamlit_server, db, store, admin
):
    owner = person(db)
    gid, keys = made(db, store, owner, n=1)
    good = shares.share_output(db, owner, gid, keys[0])
    expired = shares.share_output(db, owner, gid, keys[0])
    revoked = shares.share_output(db, owner, gid, keys[0])
    by_admin = shares.share_output(db, owner, gid, keys[0])
    with db.session() as s:
        s.execute(
            update(ShareLink)
            .where(ShareLink.token_hash == shares.token_hash(expired))
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
    ids = {v.what: v.id for v in shares.links(db, owner)}
    assert len(ids) == 1  # four links to the same output
    for token in (revoked, by_admin):
        with db.session() as s:
            link_id = s.scalar(
                select(ShareLink.id).where(ShareLink.token_hash == shares.token_hash(token))
            )
        shares.revoke(db, owner if token == revoked else admin, link_id)
    other = person(db, "Snoop")
    with pytest.raises(ShareError, match="^That link does not exist or is not yours.$"):
        shares.revoke(db, other, link_id)
    refused = [
        expired,
        revoked,
        by_admin,
        good[:-1] + ("A" if good[-1] != "A" else "B"),  # one character changed
        "A" * 32,  # well-formed, nobody's
        good[:-1],  # too short
        good + "A",  # too long
        shares.token_hash(good)[:32],  # what the database keeps does not open it
    ]
    answers = [fetch(f"{streamlit_server.url}/s/{t}") for t in refused]
    assert [a[0] for a in answers] == [404] * len(refused)
    assert len({a[2] for a in answers}) == 1  # nothing to tell them apart
    assert b"This link does not exist, has expired or was revoked." in answers[0][2]
    # A path out of the route does not even reach it (the server refuses it).
    status, _, body = fetch(f"{streamlit_server.url}/s/..%2f..%2fetc%2fpasswd")
    assert status in (400, 404) and b"Traceback" not in body
    zh = fetch(f"{streamlit_server.url}/s/{expired}", lang="zh-CN")
    assert "此链接不存在、已过期或已被撤销。" in zh[2].decode()
    assert fetch(f"{streamlit_server.url}/s/{revoked}/i/1")[0] == 404
    assert fetch(f"{streamlit_server.url}/s/{good}")[0] == 200
    # The maker's account deactivated: their links open nothing.
    with db.session() as s:
        from viba.store.models import User

        s.execute(update(User).where(User.id == owner.id).values(is_active=False))
    assert fetch(f"{streamlit_server.url}/s/{good}")[0] == 404


def test_a_board_link_shows_the_board_as_it_is_now(streamlit_server, db, store):
    owner = person(db)
    board = boards.create(db, owner, "<script>alert(1)</script> Spring")
    gid, keys = made(db, store, owner, n=2)
    boards.add(db, owner, board, gid)
    token = shares.share_board(db, owner, board)
    status, _, body = fetch(f"{streamlit_server.url}/s/{token}")
    assert status == 200 and body.count(b"<img") == 2
    assert b"<script>" not in body and b"&lt;script&gt;alert(1)&lt;/script&gt; Spring" in body
    item = boards.items(db, owner, board)[0]
    boards.remove(db, owner, board, item.id)
    assert fetch(f"{streamlit_server.url}/s/{token}")[2].count(b"<img") == 1
    assert fetch(f"{streamlit_server.url}/s/{token}/i/2")[0] == 404
    # Only the owner makes a board's link; deleting the board ends it.
    editor = person(db, "Ed")
    boards.share(db, owner, board, editor.email, "editor")
    with pytest.raises(boards.BoardError, match="^Only the board's owner can do this.$"):
        shares.share_board(db, editor, board)
    boards.delete_board(db, owner, board)
    assert fetch(f"{streamlit_server.url}/s/{token}")[0] == 404


def test_only_your_own_outputs_are_shared_for_1_to_90_days(db, store):
    owner, other = person(db), person(db, "Otto")
    gid, keys = made(db, store, owner, n=1)
    with pytest.raises(ShareError, match="^That generation is not yours to share.$"):
        shares.share_output(db, other, gid, keys[0])
    with pytest.raises(ShareError, match="not one of the generation's outputs"):
        shares.share_output(db, owner, gid, f"img/{'0' * 64}.png")
    for days in (0, 91, -1):
        with pytest.raises(ShareError, match="^A link lasts from 1 to 90 days.$"):
            shares.share_output(db, owner, gid, keys[0], days=days)
    token = shares.share_output(db, owner, gid, keys[0], days=90)
    shared = shares.open_link(db, token)
    assert shared is not None and timedelta(days=89) < shared.expires_at - utcnow()
    assert generations.find(db, owner.id, gid) is not None
