"""Share links: a read-only address for people without an account to one output or a board.

A link is a random token (192 bits, shown once to its maker); only its SHA-256 is kept, so
the database alone opens nothing. It expires (DEFAULT_DAYS unless chosen, at most MAX_DAYS),
can be revoked by its maker or an admin, and dies with its maker's account, its generation
or its board. Every opening of its page is logged (views, share_views). The images it serves
are the stored ones, without the settings and prompts a download carries, unless the maker
kept them. A board's link shows the board as it is now (an image taken off it goes).

What a link reaches is only what it names: its images by their place on it (1, 2, ...),
never by a key or an id, and an unknown, expired or revoked token gets one answer.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, func, select, update
from sqlalchemy.orm import Session

from viba.accounts import auth
from viba.accounts.account import Account
from viba.core.errors import UserError
from viba.store.db import Database
from viba.store.image_store import ImageStore, mime_for
from viba.store.models import (
    Board,
    BoardItem,
    GenerationHistory,
    ShareLink,
    ShareView,
    User,
    utcnow,
)
from viba.studio import boards, generations, history
from viba.studio.generations import GenerationView

DEFAULT_DAYS = 7
MAX_DAYS = 90
MAX_LINKS = 200  # live links per person
TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{32}$")


class ShareError(UserError, ValueError):
    """A link that cannot be made or changed; the message is for the user."""


@dataclass(frozen=True)
class LinkView:
    id: uuid.UUID
    what: str  # the board's name, or the output's feature and place ("avatar #2")
    board_id: uuid.UUID | None
    generation_id: uuid.UUID | None
    keep_settings: bool
    views: int
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None

    @property
    def live(self) -> bool:
        return self.revoked_at is None and self.expires_at > utcnow()


@dataclass(frozen=True)
class Shared:
    """What an opened link shows."""

    link_id: uuid.UUID
    title: str  # a board's name, or "" for one output (the page names its feature)
    feature: str | None  # one output's feature key
    keep_settings: bool
    items: list[tuple[GenerationView, str]]  # (generation, output key), in order
    expires_at: datetime


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _days(days: int) -> int:
    if not isinstance(days, int) or not 1 <= days <= MAX_DAYS:
        raise ShareError(f"A link lasts from 1 to {MAX_DAYS} days.")
    return days


def _new(s, actor: Account, days: int, keep: bool, **target) -> tuple[str, uuid.UUID]:
    live = (
        select(func.count())
        .select_from(ShareLink)
        .where(
            ShareLink.created_by == actor.id,
            ShareLink.revoked_at.is_(None),
            ShareLink.expires_at > utcnow(),
        )
    )
    if (s.scalar(live) or 0) >= MAX_LINKS:
        raise ShareError(f"You have {MAX_LINKS} live links; revoke some first.")
    token = secrets.token_urlsafe(24)
    link = ShareLink(
        token_hash=token_hash(token),
        created_by=actor.id,
        keep_settings=bool(keep),
        views=0,
        expires_at=utcnow() + timedelta(days=_days(days)),
        **target,
    )
    s.add(link)
    s.flush()
    return token, link.id


def share_output(
    db: Database,
    actor: Account,
    generation_id: uuid.UUID,
    key: str,
    days: int = DEFAULT_DAYS,
    keep_settings: bool = False,
) -> str:
    """A link to one output of the actor's own generation; the token (shown once)."""
    _days(days)
    with db.session() as s:
        row = s.get(GenerationHistory, generation_id)
        if row is None or row.user_id != actor.id:
            raise ShareError("That generation is not yours to share.")
        if key not in (row.output_keys or []):
            raise ShareError("That image is not one of the generation's outputs.")
        token, _ = _new(
            s, actor, days, keep_settings, generation_id=row.id, output_key=key, board_id=None
        )
        return token


def share_board(
    db: Database,
    actor: Account,
    board_id: uuid.UUID | str,
    days: int = DEFAULT_DAYS,
    keep_settings: bool = False,
) -> str:
    """A link to a board the actor owns (its images as they are when opened)."""
    _days(days)
    with db.session() as s:
        board, _ = boards._board(
            s, actor.id, boards._as_uuid(board_id), (boards.OWNER,), lock=False
        )
        token, _ = _new(s, actor, days, keep_settings, board_id=board.id, generation_id=None)
        return token


def revoke(db: Database, actor: Account, link_id: uuid.UUID) -> None:
    """Its maker's or an admin's: the link answers nothing from now on."""
    with db.session() as s:
        link = s.get(ShareLink, link_id, with_for_update=True)
        if link is None or (link.created_by != actor.id and not auth.is_admin_now(s, actor.id)):
            raise ShareError("That link does not exist or is not yours.")
        if link.revoked_at is None:
            link.revoked_at = utcnow()


def links(db: Database, actor: Account) -> list[LinkView]:
    """The actor's links, newest first (revoked and expired ones too, marked so)."""
    with db.session() as s:
        rows = s.execute(
            select(ShareLink, Board.name, GenerationHistory.type, GenerationHistory.output_keys)
            .outerjoin(Board, Board.id == ShareLink.board_id)
            .outerjoin(GenerationHistory, GenerationHistory.id == ShareLink.generation_id)
            .where(ShareLink.created_by == actor.id)
            .order_by(ShareLink.created_at.desc())
            .limit(MAX_LINKS * 2)
        ).all()
        found = []
        for link, board_name, kind, keys in rows:
            if link.board_id is not None:
                what = board_name or ""
            else:
                place = (
                    (keys or []).index(link.output_key) + 1
                    if link.output_key in (keys or [])
                    else 0
                )
                what = f"{kind} #{place}"
            found.append(
                LinkView(
                    link.id,
                    what,
                    link.board_id,
                    link.generation_id,
                    link.keep_settings,
                    link.views,
                    link.created_at,
                    link.expires_at,
                    link.revoked_at,
                )
            )
        return found


def open_link(
    db: Database,
    token: str,
    *,
    log_view: bool = False,
    ip_address: str | None = None,
    user_agent: str | None = None,
) -> Shared | None:
    """What a token shows now, or None (unknown, expired, revoked, its maker gone or
    deactivated, nothing left to show). log_view: count and log this opening."""
    if not TOKEN_RE.match(token or ""):
        return None
    now = utcnow()
    with db.session() as s:
        found = _live_link(s, token, now)
        if found is None:
            return None
        title, feature = "", None
        items: list[tuple[GenerationView, str]] = []
        if found.board_id is not None:
            board = s.get(Board, found.board_id)
            if board is None:
                return None
            title = board.name
            rows = s.execute(_board_items(board.id, GenerationHistory)).all()
            views: dict[uuid.UUID, GenerationView] = {}
            for key, gen in rows:
                view = views.setdefault(gen.id, generations.view_of(gen))
                if key in view.output_keys:
                    items.append((view, key))
        else:
            row = s.get(GenerationHistory, found.generation_id)
            if row is None or found.output_key not in (row.output_keys or []):
                return None
            view = generations.view_of(row)
            feature = view.type
            items = [(view, found.output_key)]
        if log_view:
            s.execute(
                update(ShareLink).where(ShareLink.id == found.id).values(views=ShareLink.views + 1)
            )
            s.add(
                ShareView(
                    link_id=found.id,
                    viewed_at=now,
                    ip_address=(ip_address or "")[:64] or None,
                    user_agent=(user_agent or "")[:300] or None,
                )
            )
        return Shared(found.id, title, feature, found.keep_settings, items, found.expires_at)


def _live_link(s: Session, token: str, now: datetime) -> ShareLink | None:
    """The link a token names while it works: not revoked, not expired, its maker active."""
    return s.execute(
        select(ShareLink)
        .join(User, User.id == ShareLink.created_by)
        .where(
            ShareLink.token_hash == token_hash(token),
            ShareLink.revoked_at.is_(None),
            ShareLink.expires_at > now,
            User.is_active.is_(True),
        )
    ).scalar_one_or_none()


def _board_items(board_id: uuid.UUID, *columns: Any) -> Select[Any]:
    """A board's items in the order a shared board shows them, with `columns` of each one's
    generation: one definition, so the page's places and the image route's agree."""
    return (
        select(BoardItem.output_key, *columns)
        .join(GenerationHistory, GenerationHistory.id == BoardItem.generation_id)
        .where(BoardItem.board_id == board_id)
        .order_by(BoardItem.added_at.desc(), BoardItem.id.desc())
        .limit(boards.MAX_ITEMS)
    )


def image(
    db: Database, store: ImageStore, token: str, place: int, thumb: bool
) -> tuple[bytes, str] | None:
    """The image at `place` (1, 2, ...) of what a token shows: its thumbnail (WEBP), or the
    image as stored (with its settings inside only if the link's maker kept them). Each of a
    shared board's thumbnails is a request of its own: this reads the board's keys only (not
    every generation whole, as the page does once) and the one generation it needs."""
    if not TOKEN_RE.match(token or "") or place < 1:
        return None
    with db.session() as s:
        link = _live_link(s, token, utcnow())
        if link is None:
            return None
        if link.board_id is not None:
            rows = s.execute(
                _board_items(link.board_id, GenerationHistory.id, GenerationHistory.output_keys)
            ).all()
            shown = [(gid, key) for key, gid, outputs in rows if key in (outputs or [])]
            if place > len(shown):
                return None
            generation_id, key = shown[place - 1]
        elif place == 1 and link.generation_id is not None and link.output_key is not None:
            generation_id, key = link.generation_id, link.output_key
        else:
            return None
        keep = link.keep_settings
        row = s.get(GenerationHistory, generation_id) if keep or link.board_id is None else None
        if link.board_id is None and (row is None or key not in (row.output_keys or [])):
            return None
        # The settings go into the full image only: a thumbnail needs no view of the row.
        view = generations.view_of(row) if keep and not thumb and row is not None else None
    if thumb:
        return store.thumbnail(key), "image/webp"
    if view is not None:
        index = view.output_keys.index(key) + 1
        return history.output_download(store, view, key, index), mime_for(key)
    return store.load(key), mime_for(key)


def views_of(db: Database, actor: Account, link_id: uuid.UUID) -> list[datetime]:
    """When the actor's link was opened, newest first (at most 100)."""
    with db.session() as s:
        link = s.get(ShareLink, link_id)
        if link is None or link.created_by != actor.id:
            raise ShareError("That link does not exist or is not yours.")
        return list(
            s.scalars(
                select(ShareView.viewed_at)
                .where(ShareView.link_id == link_id)
                .order_by(ShareView.viewed_at.desc())
                .limit(100)
            )
        )
