"""Boards: named collections of outputs, private to their owner until shared.

A board has one owner (who made it) and members, each an editor (adds and removes outputs)
or a viewer (sees them). Admins see every board and may delete one. Every check is made
here, in the transaction of the change, from the database as it is now: a page's Account
may be stale (a member removed a moment ago can do nothing more). A board that does not
exist and one the user may not see give the same sentence, so ids cannot be probed.

Sharing and unsharing, and deleting a board, are audit entries.
"""

from __future__ import annotations

import unicodedata
import uuid
from collections.abc import Iterator, Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, delete, func, or_, select
from sqlalchemy.orm import Session

from viba.accounts import auth
from viba.accounts.account import Account, AuthError
from viba.accounts.auth import normalise_email
from viba.core.errors import UserError
from viba.store import audit
from viba.store.db import Database, rowcount, sqlite_write_lock
from viba.store.image_store import ImageStore
from viba.store.models import (
    BOARD_ROLES,
    Board,
    BoardItem,
    BoardMember,
    GenerationHistory,
    User,
    utcnow,
)
from viba.studio import generations, history
from viba.studio.generations import GenerationView
from viba.studio.metadata import Piece

MAX_NAME = 80
MAX_BOARDS = 100  # per owner
MAX_MEMBERS = 50  # per board
MAX_ITEMS = 500  # per board: its page and its zip stay bounded
OWNER, EDITOR, VIEWER, ADMIN = "owner", "editor", "viewer", "admin"
EDITS = (OWNER, EDITOR)
NOT_FOUND = "That board does not exist or is not shared with you."


class BoardError(UserError, ValueError):
    """A board change that cannot be made; the message is for the user."""


@dataclass(frozen=True)
class BoardView:
    id: uuid.UUID
    name: str
    owner_id: uuid.UUID
    owner_name: str
    role: str  # what the viewer of this view is there: owner, editor, viewer or admin
    items: int
    updated_at: datetime

    @property
    def can_edit(self) -> bool:
        return self.role in EDITS


@dataclass(frozen=True)
class ItemView:
    id: int
    generation: GenerationView
    output_key: str
    added_by: str  # the name of who added it ("" once their account is gone)
    added_by_id: uuid.UUID | None
    added_at: datetime


@dataclass(frozen=True)
class MemberView:
    user_id: uuid.UUID
    email: str
    full_name: str
    role: str


def clean_name(name: str, what: str = "board", error: type[UserError] = BoardError) -> str:
    """A board's (or a preset's: `what`) name as kept: one line, trimmed, at most MAX_NAME
    characters; else `error` with one sentence."""
    text = " ".join(name.split())
    if not text:
        raise error(f"Give the {what} a name.")
    if any(unicodedata.category(c).startswith("C") for c in text):
        raise error(f"A {what}'s name cannot contain control characters.")
    if len(text) > MAX_NAME:
        raise error(f"A {what}'s name can be at most {MAX_NAME} characters.")
    return text


def _role(s: Session, board: Board, user_id: uuid.UUID) -> str | None:
    if board.owner_id == user_id:
        return OWNER
    role = s.scalar(
        select(BoardMember.role).where(
            BoardMember.board_id == board.id, BoardMember.user_id == user_id
        )
    )
    if role is not None:
        return role
    return ADMIN if auth.is_admin_now(s, user_id) else None


def _board(
    s: Session, user_id: uuid.UUID, board_id: uuid.UUID, allowed: Sequence[str], lock: bool
) -> tuple[Board, str]:
    """The board and the user's role there, or BoardError; lock: the board's row is held to
    commit (its items, members and name change one writer at a time)."""
    if lock:
        sqlite_write_lock(s)
    board = s.get(Board, board_id, with_for_update=lock)
    role = _role(s, board, user_id) if board is not None else None
    if board is None or role is None:
        raise BoardError(NOT_FOUND)
    if role not in allowed:
        if EDITOR in allowed:
            raise BoardError("You can look at this board but not change it.")
        raise BoardError("Only the board's owner can do this.")
    return board, role


def _as_uuid(value: uuid.UUID | str) -> uuid.UUID:
    try:
        return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
    except ValueError:
        raise BoardError(NOT_FOUND) from None


# --- boards ----------------------------------------------------------------------------------


def create(db: Database, actor: Account, name: str) -> uuid.UUID:
    name = clean_name(name)
    with db.locked_session(f"boards:{actor.id}") as s:
        mine = select(func.count()).select_from(Board).where(Board.owner_id == actor.id)
        if (s.scalar(mine) or 0) >= MAX_BOARDS:
            raise BoardError(f"You have {MAX_BOARDS} boards, the most one person can have.")
        taken = select(Board.id).where(Board.owner_id == actor.id, Board.name == name)
        if s.scalar(taken) is not None:
            raise BoardError(f"You already have a board named {name}.")
        board = Board(name=name, owner_id=actor.id)
        s.add(board)
        s.flush()
        return board.id


def rename(db: Database, actor: Account, board_id: uuid.UUID | str, name: str) -> None:
    name = clean_name(name)
    with db.locked_session(f"boards:{actor.id}") as s:
        board, _ = _board(s, actor.id, _as_uuid(board_id), (OWNER,), lock=True)
        taken = select(Board.id).where(
            Board.owner_id == actor.id, Board.name == name, Board.id != board.id
        )
        if s.scalar(taken) is not None:
            raise BoardError(f"You already have a board named {name}.")
        board.name = name
        board.updated_at = utcnow()


def delete_board(db: Database, actor: Account, board_id: uuid.UUID | str) -> None:
    """The owner's, or an admin's: the board goes, the generations stay."""
    with db.session() as s:
        board, role = _board(s, actor.id, _as_uuid(board_id), (OWNER, ADMIN), lock=True)
        audit.record(
            s,
            audit.BOARD_DELETED,
            actor_id=actor.id,
            actor_email=actor.email,
            target_user_id=board.owner_id,
            board=str(board.id),
            name=board.name,
            as_admin=role == ADMIN,
        )
        s.delete(board)


def _views(s: Session, user_id: uuid.UUID, boards: Sequence[Board], role_of) -> list[BoardView]:
    ids = [b.id for b in boards]
    counts = dict(
        s.execute(
            select(BoardItem.board_id, func.count())
            .where(BoardItem.board_id.in_(ids))
            .group_by(BoardItem.board_id)
        ).all()
    )
    names = dict(
        s.execute(
            select(User.id, User.full_name).where(User.id.in_({b.owner_id for b in boards}))
        ).all()
    )
    return [
        BoardView(
            b.id,
            b.name,
            b.owner_id,
            names.get(b.owner_id, ""),
            role_of(b),
            counts.get(b.id, 0),
            b.updated_at,
        )
        for b in boards
    ]


def visible(db: Database, actor: Account, everyone: bool = False) -> list[BoardView]:
    """The boards this user owns or is a member of, newest first; everyone: an admin's list
    of every board (ignored for others)."""
    with db.session() as s:
        roles = dict(
            s.execute(
                select(BoardMember.board_id, BoardMember.role).where(
                    BoardMember.user_id == actor.id
                )
            ).all()
        )
        admin = everyone and auth.is_admin_now(s, actor.id)
        query = select(Board).order_by(Board.updated_at.desc(), Board.id)
        if not admin:
            query = query.where(or_(Board.owner_id == actor.id, Board.id.in_(list(roles))))
        boards = s.scalars(query).all()

        def role_of(b: Board) -> str:
            return OWNER if b.owner_id == actor.id else roles.get(b.id, ADMIN)

        return _views(s, actor.id, boards, role_of)


def editable(db: Database, actor: Account) -> list[BoardView]:
    """The boards this user may add to (their own and those they edit)."""
    return [b for b in visible(db, actor) if b.can_edit]


def get(db: Database, actor: Account, board_id: uuid.UUID | str) -> BoardView:
    with db.session() as s:
        board, role = _board(s, actor.id, _as_uuid(board_id), (*EDITS, VIEWER, ADMIN), False)
        return _views(s, actor.id, [board], lambda _b: role)[0]


# --- members ---------------------------------------------------------------------------------


def share(
    db: Database, actor: Account, board_id: uuid.UUID | str, email: str, role: str
) -> MemberView:
    """The owner shares the board with an account by its email, as editor or viewer (again:
    the role changes)."""
    if role not in BOARD_ROLES:
        raise BoardError("A member is an editor or a viewer.")
    try:
        address = normalise_email(email)
    except AuthError:
        raise BoardError("That is not an email address.") from None
    with db.session() as s:
        board, _ = _board(s, actor.id, _as_uuid(board_id), (OWNER,), lock=True)
        user = s.scalar(select(User).where(User.email == address, User.is_active.is_(True)))
        if user is None:
            raise BoardError(f"No active account uses {address}.")
        if user.id == board.owner_id:
            raise BoardError("That is the board's owner.")
        member = s.get(BoardMember, (board.id, user.id))
        if member is None:
            count = select(func.count()).where(BoardMember.board_id == board.id)
            if (s.scalar(count) or 0) >= MAX_MEMBERS:
                raise BoardError(f"A board can be shared with at most {MAX_MEMBERS} people.")
            s.add(BoardMember(board_id=board.id, user_id=user.id, role=role))
        else:
            member.role = role
        audit.record(
            s,
            audit.BOARD_SHARED,
            actor_id=actor.id,
            actor_email=actor.email,
            target_user_id=user.id,
            board=str(board.id),
            role=role,
        )
        return MemberView(user.id, user.email, user.full_name, role)


def unshare(db: Database, actor: Account, board_id: uuid.UUID | str, user_id: uuid.UUID) -> None:
    """The owner removes a member, or a member leaves."""
    with db.session() as s:
        allowed = (OWNER, EDITOR, VIEWER) if user_id == actor.id else (OWNER,)
        board, role = _board(s, actor.id, _as_uuid(board_id), allowed, lock=True)
        if role == OWNER and user_id == actor.id:
            raise BoardError("The owner cannot leave their own board; delete it instead.")
        gone = s.execute(
            delete(BoardMember).where(
                BoardMember.board_id == board.id, BoardMember.user_id == user_id
            )
        )
        if rowcount(gone):
            audit.record(
                s,
                audit.BOARD_UNSHARED,
                actor_id=actor.id,
                actor_email=actor.email,
                target_user_id=user_id,
                board=str(board.id),
            )


def members(db: Database, actor: Account, board_id: uuid.UUID | str) -> list[MemberView]:
    with db.session() as s:
        board, _ = _board(s, actor.id, _as_uuid(board_id), (*EDITS, VIEWER, ADMIN), False)
        rows = s.execute(
            select(User.id, User.email, User.full_name, BoardMember.role)
            .join(BoardMember, BoardMember.user_id == User.id)
            .where(BoardMember.board_id == board.id)
            .order_by(User.full_name, User.email)
        ).all()
        return [MemberView(*r) for r in rows]


# --- items -----------------------------------------------------------------------------------


def add(
    db: Database,
    actor: Account,
    board_id: uuid.UUID | str,
    generation_id: uuid.UUID,
    keys: Sequence[str] | None = None,
) -> int:
    """Put outputs of one of the actor's generations (an admin: anyone's) on a board they
    own or edit: `keys`, or all its outputs. How many were new there."""
    with db.session() as s:
        board, _ = _board(s, actor.id, _as_uuid(board_id), EDITS, lock=True)
        row = s.get(GenerationHistory, generation_id)
        if row is None or (row.user_id != actor.id and not auth.is_admin_now(s, actor.id)):
            raise BoardError("That generation is not yours to add.")
        outputs = list(row.output_keys or [])
        wanted = list(dict.fromkeys(outputs if keys is None else keys))
        if not outputs:
            raise BoardError("That generation has no outputs yet.")
        if not wanted or any(k not in outputs for k in wanted):
            raise BoardError("That image is not one of the generation's outputs.")
        there = set(
            s.scalars(
                select(BoardItem.output_key).where(
                    BoardItem.board_id == board.id, BoardItem.generation_id == row.id
                )
            )
        )
        new = [k for k in wanted if k not in there]
        count = s.scalar(select(func.count()).where(BoardItem.board_id == board.id)) or 0
        if count + len(new) > MAX_ITEMS:
            raise BoardError(f"A board holds at most {MAX_ITEMS} images; this one is full.")
        for key in new:
            s.add(
                BoardItem(
                    board_id=board.id, generation_id=row.id, output_key=key, added_by=actor.id
                )
            )
        if new:
            board.updated_at = utcnow()
        return len(new)


def remove(db: Database, actor: Account, board_id: uuid.UUID | str, item_id: int) -> None:
    """An editor or the owner takes an output off the board (the generation stays)."""
    with db.session() as s:
        board, _ = _board(s, actor.id, _as_uuid(board_id), EDITS, lock=True)
        s.execute(delete(BoardItem).where(BoardItem.board_id == board.id, BoardItem.id == item_id))
        board.updated_at = utcnow()


def items(db: Database, actor: Account, board_id: uuid.UUID | str) -> list[ItemView]:
    """The board's outputs, newest added first, with who added each."""
    with db.session() as s:
        board, _ = _board(s, actor.id, _as_uuid(board_id), (*EDITS, VIEWER, ADMIN), False)
        rows = s.execute(
            select(BoardItem, GenerationHistory, User.full_name)
            .join(GenerationHistory, GenerationHistory.id == BoardItem.generation_id)
            .outerjoin(User, User.id == BoardItem.added_by)
            .where(BoardItem.board_id == board.id)
            .order_by(BoardItem.added_at.desc(), BoardItem.id.desc())
            .limit(MAX_ITEMS)
        ).all()
        views: dict[uuid.UUID, GenerationView] = {}
        found = []
        for item, gen, name in rows:
            view = views.setdefault(gen.id, generations.view_of(gen))
            if item.output_key not in view.output_keys:  # the output was deleted since
                continue
            found.append(
                ItemView(item.id, view, item.output_key, name or "", item.added_by, item.added_at)
            )
        return found


def zip_name(board_id: uuid.UUID) -> str:
    """The file name a board's zip is downloaded as."""
    return f"viba-board-{board_id.hex[:8]}.zip"


def board_zip(db: Database, store: ImageStore, actor: Account, board_id: uuid.UUID) -> bytes:
    """The board's outputs in one zip, each with its settings inside."""
    return b"".join(board_zip_parts(db, store, actor, board_id))


def board_zip_parts(
    db: Database,
    store: ImageStore,
    actor: Account,
    board_id: uuid.UUID | str,
    each: history.Turn = nullcontext,
) -> Iterator[Piece]:
    """board_zip in pieces (history.picked_zip_parts), oldest added first. Who may see the
    board is checked now, before the first piece (a BoardError as `items`)."""
    found = items(db, actor, board_id)
    picked = [(i.generation, i.output_key) for i in reversed(found)]
    return history.picked_zip_parts(store, picked, each)


def image_visible(user_id: uuid.UUID, key: str) -> Select[Any]:
    """The rows that let this user see an output: it is on a board they own or are a member
    of."""
    return (
        select(BoardItem.id)
        .join(Board, Board.id == BoardItem.board_id)
        .outerjoin(
            BoardMember,
            (BoardMember.board_id == Board.id) & (BoardMember.user_id == user_id),
        )
        .where(
            BoardItem.output_key == key,
            or_(Board.owner_id == user_id, BoardMember.user_id.is_not(None)),
        )
    )


def may_see_image(db: Database, user_id: uuid.UUID, key: str) -> bool:
    with db.session() as s:
        return s.scalar(image_visible(user_id, key).limit(1)) is not None
