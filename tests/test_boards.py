"""Boards: named collections of outputs, private by default, shared with a role per member
(viba.studio.boards), on SQLite and PostgreSQL."""

from __future__ import annotations

import io
import uuid
import zipfile

import pytest
from sqlalchemy import select

from viba.store.models import AuditEntry
from viba.studio import boards, generations, history
from viba.studio.boards import BoardError

from fake_gemini import png_bytes
from helpers import add, at_once, person


@pytest.fixture(autouse=True)
def _admin_first(admin):
    """The first account is an admin: made first, the people below are ordinary users."""


def made(db, store, owner, n=2, type="avatar"):
    """A completed generation of `owner` with n stored outputs; its id and output keys."""
    keys = [store.save(png_bytes(f"{uuid.uuid4()}"), "image/png").key for _ in range(n)]
    return add(db, owner, type=type, outputs=keys), keys


def audit_actions(db, board_id):
    with db.session() as s:
        rows = s.scalars(select(AuditEntry).order_by(AuditEntry.id)).all()
        return [r.action for r in rows if r.details.get("board") == str(board_id)]


def test_a_board_is_private_until_shared_and_then_each_role_does_what_it_may(db, store):
    owner, editor, viewer, stranger = (person(db, n) for n in ("Olga", "Ed", "Vi", "Sam"))
    board = boards.create(db, owner, "  Spring   campaign ")
    assert boards.get(db, owner, board).name == "Spring campaign"
    gid, keys = made(db, store, owner)
    assert boards.add(db, owner, board, gid) == 2
    for someone in (editor, viewer, stranger):
        with pytest.raises(BoardError, match=f"^{boards.NOT_FOUND}$"):
            boards.items(db, someone, board)
        assert all(b.id != board for b in boards.visible(db, someone))
        assert not boards.may_see_image(db, someone.id, keys[0])

    boards.share(db, owner, board, editor.email.upper(), "editor")
    boards.share(db, owner, board, viewer.email, "viewer")
    assert [m.full_name for m in boards.members(db, viewer, board)] == ["Ed", "Vi"]
    assert {b.id: b.role for b in boards.visible(db, viewer)}[board] == "viewer"
    assert [i.output_key for i in boards.items(db, viewer, board)] == keys[::-1]  # newest first
    assert boards.may_see_image(db, viewer.id, keys[1])

    # The editor adds their own generation; the viewer changes nothing.
    their, their_keys = made(db, store, editor, n=1)
    assert boards.add(db, editor, board, their) == 1
    with pytest.raises(BoardError, match="^You can look at this board but not change it.$"):
        boards.add(db, viewer, board, gid)
    item = boards.items(db, owner, board)[0]
    assert (item.output_key, item.added_by) == (their_keys[0], "Ed")
    with pytest.raises(BoardError, match="^You can look at this board but not change it.$"):
        boards.remove(db, viewer, board, item.id)
    # Only the owner shares, renames, deletes.
    for who in (editor, viewer):
        with pytest.raises(BoardError):
            boards.share(db, who, board, stranger.email, "editor")
        with pytest.raises(BoardError):
            boards.rename(db, who, board, "Mine now")
        with pytest.raises(BoardError):
            boards.delete_board(db, who, board)
    # Nobody adds someone else's generation, even to a board they edit.
    with pytest.raises(BoardError, match="^That generation is not yours to add.$"):
        boards.add(db, editor, board, gid)
    boards.remove(db, editor, board, item.id)
    assert len(boards.items(db, owner, board)) == 2

    # A removed member loses the board and its images at once.
    boards.unshare(db, owner, board, viewer.id)
    with pytest.raises(BoardError, match=f"^{boards.NOT_FOUND}$"):
        boards.items(db, viewer, board)
    assert not boards.may_see_image(db, viewer.id, keys[1])
    boards.unshare(db, editor, board, editor.id)  # leaving
    assert boards.members(db, owner, board) == []
    assert audit_actions(db, board) == [
        "board_shared",
        "board_shared",
        "board_unshared",
        "board_unshared",
    ]
    boards.delete_board(db, owner, board)
    with pytest.raises(BoardError, match=f"^{boards.NOT_FOUND}$"):
        boards.get(db, owner, board)
    assert generations.find(db, owner.id, gid) is not None  # the generation stays


def test_admins_see_every_board_and_may_delete_one_but_not_change_it(db, store, admin):
    owner = person(db)
    board = boards.create(db, owner, "Private")
    gid, keys = made(db, store, owner, n=1)
    boards.add(db, owner, board, gid)
    assert board not in {b.id for b in boards.visible(db, admin)}  # their own list
    assert {b.id: b.role for b in boards.visible(db, admin, everyone=True)}[board] == "admin"
    nosy = person(db, "Nosy")
    assert board not in {b.id for b in boards.visible(db, nosy, everyone=True)}
    assert [i.output_key for i in boards.items(db, admin, board)] == keys
    with pytest.raises(BoardError):
        boards.share(db, admin, board, admin.email, "editor")
    with pytest.raises(BoardError):
        boards.add(db, admin, board, gid)
    boards.delete_board(db, admin, board)
    assert audit_actions(db, board) == ["board_deleted"]


def test_guessed_bad_and_foreign_ids_all_get_the_same_sentence(db, store):
    owner, other = person(db), person(db, "Otto")
    board = boards.create(db, owner, "Mine")
    gid, keys = made(db, store, owner, n=1)
    for bad in (uuid.uuid4(), "not-a-uuid", "", str(board).upper() + "0"):
        with pytest.raises(BoardError, match=f"^{boards.NOT_FOUND}$"):
            boards.items(db, owner, bad)
    for action in (
        lambda: boards.items(db, other, board),
        lambda: boards.members(db, other, board),
        lambda: boards.add(db, other, board, gid),
        lambda: boards.remove(db, other, board, 1),
        lambda: boards.rename(db, other, board, "x"),
        lambda: boards.delete_board(db, other, board),
        lambda: boards.share(db, other, board, other.email, "viewer"),
        lambda: boards.unshare(db, other, board, other.id),
    ):
        with pytest.raises(BoardError, match=f"^{boards.NOT_FOUND}$"):
            action()
    # An output that is not the generation's, and a generation with none.
    with pytest.raises(BoardError, match="not one of the generation's outputs"):
        boards.add(db, owner, board, gid, [f"img/{'0' * 64}.png"])
    empty = add(db, owner, status="processing")
    with pytest.raises(BoardError, match="^That generation has no outputs yet.$"):
        boards.add(db, owner, board, empty)


def test_names_are_one_trimmed_line_unique_per_owner(db):
    owner, other = person(db), person(db, "Otto")
    boards.create(db, owner, "Look book")
    with pytest.raises(BoardError, match="^You already have a board named Look book.$"):
        boards.create(db, owner, " Look  book ")
    boards.create(db, other, "Look book")  # another owner's may share the name
    for bad, sentence in (
        ("   ", "Give the board a name."),
        ("a\x00b", "A board's name cannot contain control characters."),
        ("x" * 81, "A board's name can be at most 80 characters."),
    ):
        with pytest.raises(BoardError, match=f"^{sentence}$"):
            boards.create(db, owner, bad)
    shown = boards.create(db, owner, "<b>**bold**</b> [x](javascript:alert(1))")
    assert boards.get(db, owner, shown).name == "<b>**bold**</b> [x](javascript:alert(1))"


def test_sharing_names_an_active_account_and_changes_a_role_in_place(db):
    owner, friend = person(db), person(db, "Fay")
    board = boards.create(db, owner, "Shared")
    for email, sentence in (
        ("nobody@example.com", "No active account uses nobody@example.com."),
        ("not an email", "That is not an email address."),
        (owner.email, "That is the board's owner."),
    ):
        with pytest.raises(BoardError, match=f"^{sentence}$"):
            boards.share(db, owner, board, email, "viewer")
    with pytest.raises(BoardError, match="^A member is an editor or a viewer.$"):
        boards.share(db, owner, board, friend.email, "owner")
    boards.share(db, owner, board, friend.email, "viewer")
    boards.share(db, owner, board, friend.email, "editor")
    assert [(m.full_name, m.role) for m in boards.members(db, owner, board)] == [("Fay", "editor")]
    assert boards.get(db, friend, board).can_edit


def test_adding_twice_keeps_one_and_the_zip_holds_each_output_once(db, store):
    owner = person(db)
    board = boards.create(db, owner, "Picks")
    gid, keys = made(db, store, owner, n=3)
    assert boards.add(db, owner, board, gid, [keys[0]]) == 1
    assert boards.add(db, owner, board, gid, [keys[0], keys[0]]) == 0
    assert boards.add(db, owner, board, gid) == 2
    view = generations.find(db, owner.id, gid)
    with zipfile.ZipFile(io.BytesIO(boards.board_zip(db, store, owner, board))) as zf:
        names = zf.namelist()
    assert sorted(names) == sorted(history.file_name(view, k, i + 1) for i, k in enumerate(keys))


def test_adds_at_once_never_pass_a_boards_limit(db, store, monkeypatch):
    """Eight editors adding at the same moment to a board with room for three: exactly three
    outputs land (the board's row is held while its items are counted and added)."""
    monkeypatch.setattr(boards, "MAX_ITEMS", 3)
    owner = person(db)
    board = boards.create(db, owner, "Tight")
    people = [person(db, f"P{i}") for i in range(8)]
    work = []
    for p in people:
        boards.share(db, owner, board, p.email, "editor")
        work.append((p, made(db, store, p, n=1)[0]))
    added, refused = at_once(
        [lambda p=p, gid=gid: boards.add(db, p, board, gid) for p, gid in work], BoardError
    )
    assert sum(added) == 3 and len(refused) == 5
    assert set(refused) == {"A board holds at most 3 images; this one is full."}
    assert len(boards.items(db, owner, board)) == 3


def test_a_deleted_generation_leaves_its_boards(db, store):
    owner = person(db)
    board = boards.create(db, owner, "Gone")
    gid, keys = made(db, store, owner, n=1)
    boards.add(db, owner, board, gid)
    history.delete_generation(db, store, owner.id, gid)
    assert boards.items(db, owner, board) == []
    assert boards.get(db, owner, board).items == 0


def test_a_boards_zip_comes_in_pieces_each_output_read_when_its_piece_is_asked_for(
    db, store, monkeypatch
):
    owner, stranger = person(db), person(db, "Sam")
    board = boards.create(db, owner, "Big")
    gid, keys = made(db, store, owner, n=3)
    boards.add(db, owner, board, gid)
    with pytest.raises(BoardError):  # who may see it is asked before the first piece
        boards.board_zip_parts(db, store, stranger, board)
    read: list[str] = []
    load = store.load
    monkeypatch.setattr(store, "load", lambda key: read.append(key) or load(key))
    parts = boards.board_zip_parts(db, store, owner, board)
    assert read == []
    pieces = [next(parts)]
    seen = [len(read)]  # outputs read when each piece came
    for piece in parts:
        pieces.append(piece)
        seen.append(len(read))
    assert seen[0] == 1  # one output in memory, not the board
    assert seen == sorted(seen) and set(seen) == {1, 2, 3}  # the next read when it is reached
    with zipfile.ZipFile(io.BytesIO(b"".join(pieces))) as zf:
        assert zf.testzip() is None
        assert sorted(zf.namelist()) == sorted(
            history.file_name(generations.find(db, owner.id, gid), k, i + 1)
            for i, k in enumerate(keys)
        )
