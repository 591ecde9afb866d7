"""Admin-edited prompt versions. The newest version of a step is active; with none, the
built-in text in viba.engine.prompts is. Edits are never overwritten: restoring an old text saves it
again as the newest version."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from string import Formatter

from sqlalchemy import func, select

from viba.accounts.account import Account
from viba.accounts.auth import require_admin
from viba.core.errors import UserError
from viba.engine.prompts import PromptTemplate
from viba.store.db import Database
from viba.store.models import PromptVersion, User
from viba.studio.features import builtin_prompts

BUILTIN = "builtin"
MAX_PROMPT_CHARS = 20_000


class PromptError(UserError, ValueError):
    """The edit cannot be saved; the message says why."""


@dataclass(frozen=True)
class ActivePrompt:
    template: PromptTemplate
    version: int | str  # a prompt_versions.id, or "builtin"


@dataclass(frozen=True)
class VersionInfo:
    id: int
    step: str
    system: str
    template: str
    note: str | None
    author: str | None
    created_at: datetime


def active_prompts(db: Database) -> dict[str, ActivePrompt]:
    """Every step's active prompt, in one query."""
    newest = (
        select(PromptVersion.step, func.max(PromptVersion.id).label("id"))
        .group_by(PromptVersion.step)
        .subquery()
    )
    with db.session() as s:
        rows = s.scalars(select(PromptVersion).join(newest, PromptVersion.id == newest.c.id)).all()
        by_step = {row.step: row for row in rows}
    active = {}
    for step, builtin in builtin_prompts().items():
        row = by_step.get(step)
        if row is None:
            active[step] = ActivePrompt(builtin, BUILTIN)
        else:
            active[step] = ActivePrompt(
                replace(builtin, system=row.system, template=row.template), row.id
            )
    return active


def check_template(step: str, template: str) -> None:
    """The text must render with the values the engine gives this step."""
    builtins = builtin_prompts()
    if step not in builtins:
        raise PromptError(f"Unknown step {step}.")
    if not template.strip():
        raise PromptError("The prompt cannot be empty.")
    if len(template) > MAX_PROMPT_CHARS:
        raise PromptError(f"The prompt is too long (at most {MAX_PROMPT_CHARS} characters).")
    allowed = builtins[step].fields
    try:
        used = {name for _, name, spec, conv in Formatter().parse(template) if name is not None}
    except ValueError as exc:
        raise PromptError(
            f"The prompt has a stray brace ({exc}); write {{{{ and }}}} for literal braces."
        ) from None
    unknown = used - allowed
    if unknown:
        names = ", ".join("{" + n + "}" for n in sorted(unknown))
        offered = ", ".join("{" + n + "}" for n in sorted(allowed)) or "none"
        raise PromptError(f"Unknown placeholder {names}. This step offers: {offered}.")
    if "description" in allowed and "description" not in used:
        raise PromptError(
            "This step's prompt must contain {description}: it is how the "
            "image model gets step 1's description."
        )


def save_version(
    db: Database, admin: Account, step: str, system: str, template: str, note: str | None = None
) -> int:
    check_template(step, template)
    with db.session() as s:
        require_admin(s, admin.id)
        row = PromptVersion(
            step=step,
            system=system.strip(),
            template=template,
            note=(note or "").strip()[:200] or None,
            created_by=admin.id,
        )
        s.add(row)
        s.flush()
        return row.id


def restore_version(db: Database, admin: Account, version_id: int) -> int:
    with db.session() as s:
        old = s.get(PromptVersion, version_id)
        if old is None:
            raise PromptError("That version does not exist.")
        step, system, template = old.step, old.system, old.template
    return save_version(db, admin, step, system, template, note=f"restored version {version_id}")


def restore_builtin(db: Database, admin: Account, step: str) -> int:
    builtin = builtin_prompts().get(step)
    if builtin is None:
        raise PromptError(f"Unknown step {step}.")
    return save_version(
        db, admin, step, builtin.system, builtin.template, note="restored the built-in text"
    )


def list_versions(db: Database, step: str, limit: int = 50) -> list[VersionInfo]:
    with db.session() as s:
        rows = s.execute(
            select(PromptVersion, User.email)
            .outerjoin(User, User.id == PromptVersion.created_by)
            .where(PromptVersion.step == step)
            .order_by(PromptVersion.id.desc())
            .limit(limit)
        ).all()
        return [
            VersionInfo(r.id, r.step, r.system, r.template, r.note, email, r.created_at)
            for r, email in rows
        ]


def templates_for(db: Database, versions: dict[str, int | str]) -> dict[str, PromptTemplate]:
    """The prompts a generation was made with (step → version, as stored in its row), for
    picking it up again: each version's text, the built-in where it says so, and the active
    prompt for a step whose version is gone or unknown."""
    active = active_prompts(db)
    ids = [v for v in versions.values() if isinstance(v, int) and not isinstance(v, bool)]
    with db.session() as s:
        rows = {r.id: r for r in s.scalars(select(PromptVersion).where(PromptVersion.id.in_(ids)))}
    builtins = builtin_prompts()
    chosen = {}
    for step, current in active.items():
        version = versions.get(step)
        row = rows.get(version) if isinstance(version, int) else None
        if row is not None and row.step == step:
            chosen[step] = replace(builtins[step], system=row.system, template=row.template)
        elif version == BUILTIN:
            chosen[step] = builtins[step]
        else:
            chosen[step] = current.template
    return chosen


def prompts_in_use(active: dict[str, ActivePrompt]) -> dict[str, tuple[PromptTemplate, int | str]]:
    """step → (template, version), as JobRunner.submit takes them, from active_prompts()."""
    return {step: (p.template, p.version) for step, p in active.items()}
