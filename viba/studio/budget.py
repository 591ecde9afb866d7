"""The team's limits on its shared Gemini key: a monthly budget (USD) and a daily number of
generations per user, set by admins for everyone and per user.

A submit on the team key is checked before any Gemini call: what the user spent this month
(the estimated cost of their calls, from the catalog's prices) plus what their unfinished jobs
are expected to cost plus this job's estimate must stay within the budget, and their
generations today (failed and cancelled ones aside) within the count. The check and the new
row are one transaction serialised per user (viba.studio.generations.create), so ten submits at the
edge of a limit never pass it together. A job on the user's own key is not counted and not limited.
Months and days are UTC.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from viba.accounts import auth
from viba.accounts.account import Account, NotAllowed
from viba.core.errors import UserError
from viba.engine.catalog import Catalog
from viba.store import audit
from viba.store.db import Database
from viba.store.models import GenerationHistory, ModelUsage, TeamLimits, User, utcnow
from viba.studio import features
from viba.studio.features import Feature
from viba.studio.generations import UNFINISHED

# What one call is assumed to send when its cost is estimated before it is made: the prompt
# (a Derivation's variant prompt holds the description) and each input image, and the
# thinking an image model does before its answer; a text answer's length.
PROMPT_TOKENS = 1000
INPUT_IMAGE_TOKENS = 1120
THOUGHT_TOKENS = 300
TEXT_ANSWER_TOKENS = 600


class LimitReached(UserError, ValueError):
    """A submit that would pass a limit; the message says which and when it resets."""


@dataclass(frozen=True)
class Limits:
    monthly_budget_usd: float | None = None
    daily_generations: int | None = None

    @property
    def any(self) -> bool:
        return self.monthly_budget_usd is not None or self.daily_generations is not None


@dataclass(frozen=True)
class Standing:
    """Where a user stands against their limits now."""

    limits: Limits
    spent_usd: float  # this month on the team key, finished calls
    reserved_usd: float  # the estimates of their unfinished jobs on the team key
    generations_today: int
    month_resets: datetime
    day_resets: datetime

    @property
    def budget_left(self) -> float | None:
        budget = self.limits.monthly_budget_usd
        return None if budget is None else max(0.0, budget - self.spent_usd - self.reserved_usd)

    @property
    def generations_left(self) -> int | None:
        daily = self.limits.daily_generations
        return None if daily is None else max(0, daily - self.generations_today)


def month_start(now: datetime) -> datetime:
    return now.astimezone(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def next_month(now: datetime) -> datetime:
    start = month_start(now)
    return (start + timedelta(days=32)).replace(day=1)


def day_start(now: datetime) -> datetime:
    return now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


# --- estimates ------------------------------------------------------------------------------


def estimate(
    feature: Feature,
    models: dict[str, str],
    options: dict[str, Any],
    image_count: int,
    catalog: Catalog | None = None,
) -> float:
    """What a job is expected to cost (USD) before it runs: each step's calls at its model's
    price, the image step's output at the chosen size's tokens. A model without a price adds
    nothing (the admin usage view shows calls without a price)."""
    catalog = catalog or features.catalog()
    total = 0.0
    sent = PROMPT_TOKENS + image_count * INPUT_IMAGE_TOKENS
    for step in feature.steps:
        info = catalog.get(models.get(step.id, ""))
        if info is None or not info.price:
            continue
        price = info.price
        if step.capability == "image":
            size = options.get("image_size") or "1K"
            made = info.output_tokens.get(size) or max(info.output_tokens.values(), default=1290)
            per_call = (
                sent * price.get("input", 0.0)
                + made * price.get("image_output", 0.0)
                + THOUGHT_TOKENS * price.get("output", 0.0)
            )
            total += feature.outputs * per_call
        else:
            total += sent * price.get("input", 0.0) + TEXT_ANSWER_TOKENS * price.get("output", 0.0)
    return round(total / 1_000_000, 6)


# --- where a user stands --------------------------------------------------------------------


def team_limits(s: Session) -> Limits:
    row = s.get(TeamLimits, 1)
    return Limits(row.monthly_budget_usd, row.daily_generations) if row else Limits()


def limits_for(s: Session, user_id: uuid.UUID) -> Limits:
    """The user's own limits where an admin set them, else the team's."""
    team = team_limits(s)
    own = s.execute(
        select(User.monthly_budget_usd, User.daily_generations).where(User.id == user_id)
    ).one_or_none()
    if own is None:
        return team
    return Limits(
        own.monthly_budget_usd if own.monthly_budget_usd is not None else team.monthly_budget_usd,
        own.daily_generations if own.daily_generations is not None else team.daily_generations,
    )


def _team_key(column: Any) -> Any:
    """Rows of jobs on the team's key (input_params.own_key absent or false)."""
    return func.coalesce(column["own_key"].as_boolean(), False).is_(False)


def standing(
    s: Session, user_id: uuid.UUID, now: datetime | None = None, limits: Limits | None = None
) -> Standing:
    now = now or utcnow()
    month, today = month_start(now), day_start(now)
    g, u = GenerationHistory, ModelUsage
    spent = s.scalar(
        select(func.coalesce(func.sum(u.cost_usd), 0.0)).where(
            u.user_id == user_id, u.own_key.is_(False), u.created_at >= month
        )
    )
    reserved = s.scalar(
        select(func.coalesce(func.sum(g.input_params["estimate_usd"].as_float()), 0.0)).where(
            g.user_id == user_id, g.status.in_(UNFINISHED), _team_key(g.input_params)
        )
    )
    made_today = s.scalar(
        select(func.count()).where(
            g.user_id == user_id,
            g.created_at >= today,
            g.status.notin_(("failed", "cancelled")),
            _team_key(g.input_params),
        )
    )
    return Standing(
        limits if limits is not None else limits_for(s, user_id),
        float(spent or 0.0),
        float(reserved or 0.0),
        int(made_today or 0),
        next_month(now),
        today + timedelta(days=1),
    )


def check(s: Session, user_id: uuid.UUID, estimate_usd: float, now: datetime | None = None) -> None:
    """Raise LimitReached when a new job on the team key would pass a limit of the user."""
    limits = limits_for(s, user_id)
    if not limits.any:
        return
    now = now or utcnow()
    here = standing(s, user_id, now, limits)
    daily = limits.daily_generations
    if daily is not None and here.generations_today >= daily:
        raise LimitReached(
            f"You have made your {daily} generation{'s' if daily != 1 else ''} for today, "
            f"your daily limit. It resets at midnight UTC, in {_until(here.day_resets, now)}."
        )
    budget = limits.monthly_budget_usd
    if budget is not None and here.spent_usd + here.reserved_usd + estimate_usd > budget + 1e-9:
        raise LimitReached(
            f"This would pass your monthly budget of ${budget:.2f}: "
            f"${here.spent_usd + here.reserved_usd:.2f} is spent or under way this month and "
            f"this job costs about ${estimate_usd:.2f}. It resets on "
            f"{here.month_resets:%Y-%m-%d} (UTC); your own Gemini key (Profile) is not limited."
        )


def _until(then: datetime, now: datetime) -> str:
    minutes = max(1, int((then - now).total_seconds() // 60))
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min" if hours else f"{minutes} min"


# --- admins set them ------------------------------------------------------------------------


def _checked(budget: float | None, daily: int | None) -> Limits:
    if budget is not None and not (0 <= budget <= 1_000_000):
        raise LimitReached("A monthly budget is a number of dollars from 0 to 1,000,000.")
    if daily is not None and not (0 <= daily <= 100_000):
        raise LimitReached("A daily limit is a whole number of generations from 0 to 100,000.")
    return Limits(budget, daily)


def set_team_limits(db: Database, actor: Account, budget: float | None, daily: int | None) -> None:
    limits = _checked(budget, daily)
    with db.session() as s:
        auth.require_admin(s, actor.id)
        row = s.get(TeamLimits, 1, with_for_update=True)
        if row is None:
            row = TeamLimits(id=1)
            s.add(row)
        row.monthly_budget_usd, row.daily_generations = budget, daily
        row.updated_at = utcnow()
        audit.record(
            s,
            audit.LIMITS_SET,
            actor_id=actor.id,
            actor_email=actor.email,
            scope="everyone",
            monthly_budget_usd=limits.monthly_budget_usd,
            daily_generations=limits.daily_generations,
        )


def set_user_limits(
    db: Database,
    actor: Account,
    user_id: uuid.UUID,
    budget: float | None,
    daily: int | None,
) -> None:
    """A user's own limits (None: the team's)."""
    limits = _checked(budget, daily)
    with db.session() as s:
        auth.require_admin(s, actor.id)
        target = s.get(User, user_id, with_for_update=True)
        if target is None:
            raise NotAllowed("No such account.")
        target.monthly_budget_usd, target.daily_generations = budget, daily
        audit.record(
            s,
            audit.LIMITS_SET,
            actor_id=actor.id,
            actor_email=actor.email,
            target_user_id=user_id,
            target_email=target.email,
            monthly_budget_usd=limits.monthly_budget_usd,
            daily_generations=limits.daily_generations,
        )


def standing_of(db: Database, user_id: uuid.UUID) -> Standing:
    with db.session() as s:
        return standing(s, user_id)


def limited_standing(db: Database, user_id: uuid.UUID) -> Standing | None:
    """Where a user stands, only when they have a limit (one query for the rest: a studio
    page run asks this for everyone)."""
    with db.session() as s:
        limits = limits_for(s, user_id)
        return standing(s, user_id, limits=limits) if limits.any else None


OVERVIEW_USERS = 500  # a team; the Admin page lists this many accounts at most


def overview(db: Database, actor: Account) -> tuple[Limits, list[dict[str, Any]]]:
    """The team's limits, and each active account's own limits and standing (admins)."""
    with db.session() as s:
        auth.require_admin(s, actor.id)
        team = team_limits(s)
        users = s.execute(
            select(User.id, User.email, User.monthly_budget_usd, User.daily_generations)
            .where(User.is_active.is_(True))
            .order_by(User.email)
            .limit(OVERVIEW_USERS)
        ).all()
        rows = []
        for u in users:
            here = standing(s, u.id)
            rows.append(
                {
                    "id": u.id,
                    "email": u.email,
                    "own budget (USD)": u.monthly_budget_usd,
                    "own daily limit": u.daily_generations,
                    "spent this month (USD)": round(here.spent_usd, 4),
                    "under way (USD)": round(here.reserved_usd, 4),
                    "generations today": here.generations_today,
                    "budget left (USD)": (
                        round(here.budget_left, 4) if here.budget_left is not None else None
                    ),
                    "generations left today": here.generations_left,
                }
            )
    return team, rows
