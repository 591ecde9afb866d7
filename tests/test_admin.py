"""viba.studio.admin_users and admin_reports against the real database: the role check,
account management with its audit entries, browsing and exporting generations, usage figures."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import select

from viba.accounts import auth
from viba.accounts.account import AuthError
from viba.store import audit
from viba.store.models import AuditEntry, ModelUsage
from viba.studio import admin_reports, admin_users

from helpers import PASSWORD, T0, add


def new_user(db, name="Nia Member"):
    return auth.register(db, f"m-{uuid.uuid4().hex[:10]}@example.com", name, PASSWORD)


def parse_csv(data: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))


def test_everything_refuses_a_non_admin_and_an_admin_whose_role_was_just_revoked(db, admin, user):
    calls = [
        lambda who: admin_users.users(db, who),
        lambda who: admin_users.users_csv(db, who),
        lambda who: admin_reports.generations(db, who),
        lambda who: admin_reports.generations_csv(db, who),
        lambda who: admin_reports.get_generation(db, who, uuid.uuid4()),
        lambda who: admin_users.set_admin(db, who, who.id, True),
        lambda who: admin_users.set_active(db, who, admin.id, False),
        lambda who: admin_users.unlock(db, who, admin.id),
        lambda who: admin_reports.usage(db, who, T0, T0 + timedelta(days=1)),
        lambda who: admin_reports.audit_entries(db, who),
    ]
    for call in calls:
        with pytest.raises(admin_users.NotAllowed):
            call(user)
    # A second admin, demoted by another admin, keeps a stale Account that says is_admin.
    deputy = new_user(db, "Dee Deputy")
    admin_users.set_admin(db, admin, deputy.id, True)
    stale = auth.get_account(db, deputy.id)
    assert stale.is_admin
    admin_users.set_admin(db, admin, deputy.id, False)
    for call in calls:
        with pytest.raises(admin_users.NotAllowed):
            call(stale)
    assert not auth.get_account(db, user.id).is_admin  # nothing slipped through


def test_account_management_works_and_is_audited(db, admin, user):
    # Lock the user out with wrong passwords, then unlock.
    for _ in range(auth.MAX_FAILED_LOGINS):
        with pytest.raises(AuthError):
            auth.authenticate(db, user.email, "wrong-password-1")
    row = admin_users.get_user(db, admin, user.id)
    assert row.locked and row.failed_logins == auth.MAX_FAILED_LOGINS
    admin_users.unlock(db, admin, user.id)
    assert not admin_users.get_user(db, admin, user.id).locked
    auth.authenticate(db, user.email, PASSWORD)

    admin_users.set_verified(db, admin, user.id, True)
    assert auth.get_account(db, user.id).is_verified

    admin_users.set_active(db, admin, user.id, False)
    assert auth.get_account(db, user.id) is None  # open sessions end on their next page
    with pytest.raises(AuthError):
        auth.authenticate(db, user.email, PASSWORD)
    admin_users.set_active(db, admin, user.id, True)
    auth.authenticate(db, user.email, PASSWORD)

    admin_users.set_temporary_password(db, admin, user.id, "temporary-pass-9")
    auth.authenticate(db, user.email, "temporary-pass-9")

    admin_users.set_admin(db, admin, user.id, True)
    assert auth.get_account(db, user.id).is_admin
    admin_users.set_admin(db, admin, user.id, False)

    with db.session() as s:
        entries = s.scalars(
            select(AuditEntry)
            .where(AuditEntry.target_user_id == user.id, AuditEntry.actor_id == admin.id)
            .order_by(AuditEntry.id)
        ).all()
    assert [e.action for e in entries] == [
        audit.UNLOCKED,
        audit.VERIFIED_SET,
        audit.DEACTIVATED,
        audit.REACTIVATED,
        audit.TEMPORARY_PASSWORD,
        audit.ADMIN_GRANTED,
        audit.ADMIN_REVOKED,
    ]
    assert entries[0].actor_email == admin.email
    assert entries[0].details["target_email"] == user.email


def test_an_admin_cannot_demote_or_deactivate_themselves(db, admin):
    for call in (
        lambda: admin_users.set_admin(db, admin, admin.id, False),
        lambda: admin_users.set_active(db, admin, admin.id, False),
    ):
        with pytest.raises(admin_users.NotAllowed, match="your own"):
            call()
    assert auth.get_account(db, admin.id).is_admin


def test_two_admins_demoting_each_other_at_once_leave_one_admin(db, admin):
    """Each call re-checks its actor under a lock on the admin rows, so the second one finds
    it was demoted (PostgreSQL: it waits for the first; SQLite: it fails as busy)."""
    import threading

    from viba.store.db import DatabaseUnavailable

    for _ in range(5):
        a, b = new_user(db, "Ann"), new_user(db, "Bob")
        admin_users.set_admin(db, admin, a.id, True)
        admin_users.set_admin(db, admin, b.id, True)
        a, b = auth.get_account(db, a.id), auth.get_account(db, b.id)
        barrier = threading.Barrier(2)
        outcomes: list[str] = []

        def demote(actor, target, barrier=barrier, outcomes=outcomes):
            barrier.wait()
            try:
                admin_users.set_admin(db, actor, target.id, False)
                outcomes.append("done")
            except (admin_users.NotAllowed, DatabaseUnavailable) as exc:
                outcomes.append(type(exc).__name__)

        threads = [
            threading.Thread(target=demote, args=(a, b)),
            threading.Thread(target=demote, args=(b, a)),
        ]
        for th in threads:
            th.start()
        for th in threads:
            th.join(30)
        left = [auth.get_account(db, x.id).is_admin for x in (a, b)]
        assert left.count(True) == 1, outcomes
        assert outcomes.count("done") == 1, outcomes


def test_users_filter_sort_page_and_count_generations(db, admin):
    tag = uuid.uuid4().hex[:6]
    made = [
        auth.register(db, f"zz-{tag}-{i}@example.com", f"Person {i}", PASSWORD) for i in range(5)
    ]
    add(db, made[2])
    add(db, made[2])
    mine = admin_users.UserFilter(text=f"zz-{tag}")
    rows, total = admin_users.users(db, admin, mine, sort="email", descending=False, limit=2)
    assert total == 5 and [r.email for r in rows] == [made[0].email, made[1].email]
    rows, _ = admin_users.users(db, admin, mine, sort="email", descending=False, offset=2, limit=2)
    assert [r.email for r in rows] == [made[2].email, made[3].email]
    assert rows[0].generations == 2 and rows[1].generations == 0
    admin_users.set_active(db, admin, made[4].id, False)
    assert [
        r.email
        for r in admin_users.users(
            db, admin, admin_users.UserFilter(text=f"zz-{tag}", state="deactivated")
        )[0]
    ] == [made[4].email]
    assert (
        admin_users.users(db, admin, admin_users.UserFilter(text="PERSON 3"))[1] >= 1
    )  # name, any case
    exported = parse_csv(admin_users.users_csv(db, admin, mine, sort="email", descending=False))
    assert [r["email"] for r in exported] == [u.email for u in made]
    assert exported[2]["generations"] == "2" and "password_hash" not in exported[0]


def test_generations_filter_sort_page_export_and_open_any(db, admin):
    ann, bob = new_user(db, "Ann"), new_user(db, "Bob")
    ids = {
        "a1": add(db, ann, type="avatar", at=T0),
        "a2": add(db, ann, type="swap", status="failed", at=T0 + timedelta(hours=1)),
        "b1": add(db, bob, type="avatar", at=T0 + timedelta(hours=2)),
        "b2": add(db, bob, type="derivation", at=T0 + timedelta(days=3)),
    }

    def listed(**kw):
        rows, total = admin_reports.generations(db, admin, admin_reports.GenerationFilter(**kw))
        got = {r.id for r in rows} & set(ids.values())
        return {k for k, v in ids.items() if v in got}

    assert listed(user_id=ann.id) == {"a1", "a2"}
    assert listed(user=bob.email.upper()) == {"b1", "b2"}
    assert listed(user_id=bob.id, types=("avatar",)) == {"b1"}
    assert listed(user_id=ann.id, statuses=("failed",)) == {"a2"}
    assert listed(user_id=bob.id, since=T0 + timedelta(days=1)) == {"b2"}
    rows, total = admin_reports.generations(
        db,
        admin,
        admin_reports.GenerationFilter(user_id=ann.id),
        sort="created",
        descending=False,
        limit=1,
    )
    assert total == 2 and rows[0].id == ids["a1"] and rows[0].user_email == ann.email
    rows, _ = admin_reports.generations(
        db,
        admin,
        admin_reports.GenerationFilter(user_id=ann.id),
        sort="created",
        descending=False,
        offset=1,
        limit=1,
    )
    assert rows[0].id == ids["a2"] and rows[0].error_message == "Gemini said no."
    exported = parse_csv(
        admin_reports.generations_csv(db, admin, admin_reports.GenerationFilter(user_id=bob.id))
    )
    assert [r["id"] for r in exported] == [str(ids["b2"]), str(ids["b1"])]
    assert exported[0]["user_email"] == bob.email and exported[0]["type"] == "derivation"
    view, owner = admin_reports.get_generation(db, admin, ids["a2"])
    assert view.id == ids["a2"] and owner == ann.email


def test_csv_cells_cannot_start_a_formula(db, admin):
    evil = auth.register(db, f"x-{uuid.uuid4().hex[:6]}@example.com", "=HYPERLINK(1)", PASSWORD)
    rows = parse_csv(admin_users.users_csv(db, admin, admin_users.UserFilter(text=evil.email)))
    assert rows[0]["full_name"] == "'=HYPERLINK(1)"


def test_usage_per_user_model_and_day(db, admin):
    ann, bob = new_user(db, "Ann"), new_user(db, "Bob")
    day1, day2 = T0 + timedelta(days=400), T0 + timedelta(days=401)  # a range only this test uses
    gid = add(db, ann, type="derivation", at=day1)
    add(db, bob, at=day2)
    with db.session() as s:
        for user, model, step, tokens, images, at, cost, own in [
            (ann, "text-m", "derivation_text", 100, 0, day1, 0.001, False),
            (ann, "img-m", "derivation_image", 1000, 1, day1, 0.07, False),
            (ann, "img-m", "derivation_image", 1000, 1, day1 + timedelta(minutes=1), 0.07, False),
            (bob, "img-m", "avatar", 500, 1, day2, 0.13, True),  # paid with Bob's own key
            (bob, "img-m", "avatar", 7, 1, day2 + timedelta(days=5), 9.0, False),  # outside
        ]:
            s.add(
                ModelUsage(
                    user_id=user.id,
                    generation_id=gid,
                    feature="x",
                    step=step,
                    model=model,
                    tokens=tokens,
                    images=images,
                    created_at=at,
                    cost_usd=cost,
                    own_key=own,
                )
            )
    report = admin_reports.usage(db, admin, day1 - timedelta(hours=1), day2 + timedelta(days=1))
    assert report.per_user == [
        {
            "email": ann.email,
            "generations": 1,
            "images": 2,
            "tokens": 2100,
            "team_key_usd": 0.141,
            "own_key_usd": 0.0,
        },
        {
            "email": bob.email,
            "generations": 1,
            "images": 1,
            "tokens": 500,
            "team_key_usd": 0.0,
            "own_key_usd": 0.13,
        },
    ]
    assert report.per_model == [
        {
            "model": "img-m",
            "step": "derivation_image",
            "generations": 1,
            "calls": 2,
            "images": 2,
            "tokens": 2000,
            "cost_usd": 0.14,
            "calls_without_price": 0,
        },
        {
            "model": "img-m",
            "step": "avatar",
            "generations": 1,
            "calls": 1,
            "images": 1,
            "tokens": 500,
            "cost_usd": 0.13,
            "calls_without_price": 0,
        },
        {
            "model": "text-m",
            "step": "derivation_text",
            "generations": 1,
            "calls": 1,
            "images": 0,
            "tokens": 100,
            "cost_usd": 0.001,
            "calls_without_price": 0,
        },
    ]
    csv_text = admin_reports.usage_csv(
        db, admin, day1 - timedelta(hours=1), day2 + timedelta(days=1)
    ).decode("utf-8-sig")
    assert csv_text.splitlines()[0].startswith("table,email,generations,images,tokens,team_key_usd")
    assert csv_text.count("per model,") == 3 and csv_text.count("per day,") == 3
    assert report.per_day == [
        {"day": f"{day1:%Y-%m-%d}", "model": "img-m", "tokens": 2000, "cost_usd": 0.14},
        {"day": f"{day1:%Y-%m-%d}", "model": "text-m", "tokens": 100, "cost_usd": 0.001},
        {"day": f"{day2:%Y-%m-%d}", "model": "img-m", "tokens": 500, "cost_usd": 0.13},
    ]


def test_the_generations_count_stops_past_the_page(db, admin, monkeypatch):
    """Counting every row of a big table on each page view is a full scan: the count goes
    COUNT_BEYOND rows past the page shown, and the pager says "more than" beyond that."""
    from viba.store import db as dbmod

    monkeypatch.setattr(dbmod, "COUNT_BEYOND", 3)
    many = new_user(db, "Many")
    for i in range(12):
        add(db, many, at=T0 + timedelta(minutes=i))
    mine = admin_reports.GenerationFilter(user_id=many.id)
    rows, total = admin_reports.generations(db, admin, mine, limit=5)
    assert len(rows) == 5 and total == 9 and dbmod.is_capped(total, 5)  # 5 + 3 + 1: "more"
    rows, total = admin_reports.generations(db, admin, mine, offset=5, limit=5)
    assert len(rows) == 5 and total == 12 and not dbmod.is_capped(total, 10)  # exact
    few = admin_reports.GenerationFilter(user_id=many.id, since=T0 + timedelta(minutes=10))
    assert admin_reports.generations(db, admin, few, limit=5)[1] == 2
