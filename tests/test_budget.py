"""Costs and limits on the team's key: each call's estimated cost recorded, a monthly budget
and a daily count per user refused before any Gemini call, never overshot by a burst."""

from __future__ import annotations

import contextlib
import dataclasses
import threading

import pytest
from sqlalchemy import func, select
from test_jobs import models, row, submit

from viba.jobs.runner import JobError, JobRunner
from viba.store import audit
from viba.store.models import AuditEntry, Blob, GenerationHistory, ModelUsage
from viba.studio import budget, features

from helpers import queue_name


def usage_rows(db, job_id):
    with db.session() as s:
        return s.scalars(select(ModelUsage).where(ModelUsage.generation_id == job_id)).all()


def test_each_call_records_its_estimated_cost_and_the_generation_its_total(
    runner, db, member, gemini_config
):
    job_id = submit(runner, db, member, "derivation", 1, gemini_config)
    runner.wait(job_id)
    rows = usage_rows(db, job_id)
    assert len(rows) == 5 and all(u.cost_usd and u.cost_usd > 0 and not u.own_key for u in rows)
    catalog = features.catalog()
    image = next(u for u in rows if u.images)
    flash = catalog.get(image.model)
    # A 1K image on Nano Banana 2.1: 1,120 output tokens at $30 per million, plus input and
    # thoughts: about 4 cents.
    assert 1120 * flash.price["image_output"] / 1e6 < image.cost_usd < 0.08
    r = row(db, job_id)
    assert r.details["cost_usd"] == pytest.approx(sum(u.cost_usd for u in rows), abs=1e-6)
    # The estimate made before any call is not below what it cost.
    assert r.input_params["estimate_usd"] >= r.details["cost_usd"]


def test_the_estimate_follows_the_size_and_the_model():
    derivation = features.get("derivation")
    at = {
        size: budget.estimate(derivation, models(), {"image_size": size}, 1)
        for size in ("1K", "2K", "4K")  # what the default, Nano Banana 2.1, makes
    }
    assert at["1K"] < at["2K"] < at["4K"]
    assert 4 * 2520 * 30 / 1e6 < at["4K"] < 0.4  # four 4K variants, $0.076 each
    unpriced = {**models(), "derivation_text": "gemini-3.8-flash"}  # no price in the catalog
    assert budget.estimate(derivation, unpriced, {"image_size": "1K"}, 1) < at["1K"]


def blob_count(db):
    with db.session() as s:
        return s.scalar(select(func.count()).select_from(Blob))


def test_the_daily_count_refuses_the_next_job_before_any_call_and_keeps_nothing(
    runner, db, member, admin, gemini_config, fake_gemini
):
    budget.set_user_limits(db, admin, member.id, None, 2)
    for _ in range(2):
        runner.wait(submit(runner, db, member, "avatar", 1, gemini_config))
    calls, blobs = len(fake_gemini.requests), blob_count(db)
    with pytest.raises(JobError) as refused:
        submit(runner, db, member, "avatar", 1, gemini_config)
    message = str(refused.value)
    assert message.startswith("You have made your 2 generations for today, your daily limit.")
    assert "It resets at midnight UTC, in " in message
    assert len(fake_gemini.requests) == calls and blob_count(db) == blobs
    with db.session() as s:
        assert s.scalar(select(func.count()).where(GenerationHistory.user_id == member.id)) == 2
    # The user's own key is not limited (and does not count).
    own = dataclasses.replace(gemini_config, own_key=True)
    runner.wait(submit(runner, db, member, "avatar", 1, own))
    assert all(u.own_key for u in usage_rows(db, row_of_last(db, member)))
    assert budget.standing_of(db, member.id).generations_today == 2


def row_of_last(db, user):
    with db.session() as s:
        return s.scalar(
            select(GenerationHistory.id)
            .where(GenerationHistory.user_id == user.id)
            .order_by(GenerationHistory.created_at.desc())
            .limit(1)
        )


def test_ten_submits_at_once_at_the_edge_of_the_budget_never_pass_it(
    db, store, member, admin, gemini_config, fake_gemini
):
    fake_gemini.image_latency = 3.0  # the accepted jobs stay under way through the burst
    one = budget.estimate(features.get("avatar"), models(), {"image_size": "4K"}, 1)
    budget.set_team_limits(db, admin, round(3.5 * one, 6), None)  # room for three
    wide = JobRunner(db, store, workers=10, per_user=10, heartbeat_s=0.2, queue=queue_name())
    start = threading.Barrier(10)
    accepted, refused = [], []

    def go():
        start.wait()
        try:
            accepted.append(submit(wide, db, member, "avatar", 1, gemini_config))
        except JobError as exc:
            refused.append(str(exc))

    try:
        threads = [threading.Thread(target=go) for _ in range(10)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(accepted) == 3 and len(refused) == 7
        assert all(m.startswith("This would pass your monthly budget of $") for m in refused)
        here = budget.standing_of(db, member.id)
        assert here.spent_usd + here.reserved_usd <= 3.5 * one
        for job_id in accepted:
            wide.wait(job_id, timeout=30)
        spent = budget.standing_of(db, member.id)
        assert spent.reserved_usd == 0 and 0 < spent.spent_usd <= 3 * one
    finally:
        wide.shutdown()
        budget.set_team_limits(db, admin, None, None)


def test_ten_submits_at_once_with_room_for_three_queue_exactly_three_jobs(
    db, store, member, admin, gemini_config, backend
):
    """The row and its queue job commit together: a refused submit leaves no job behind, an
    accepted one leaves exactly one (PostgreSQL: the web queues, no worker takes them)."""
    if backend != "postgresql":
        pytest.skip("the queue's own table is PostgreSQL's (SQLite's queue is in memory)")
    from sqlalchemy import text

    one = budget.estimate(features.get("avatar"), models(), {"image_size": "4K"}, 1)
    budget.set_team_limits(db, admin, round(3.5 * one, 6), None)  # room for three
    web = JobRunner(db, store, work=False, queue=queue_name())
    start = threading.Barrier(10)
    accepted: list = []

    def go():
        start.wait()
        with contextlib.suppress(JobError):
            accepted.append(submit(web, db, member, "avatar", 1, gemini_config))

    try:
        threads = [threading.Thread(target=go) for _ in range(10)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        with db.session() as s:
            jobs = s.execute(
                text("SELECT args->>'generation_id' FROM procrastinate_jobs WHERE queue_name = :q"),
                {"q": web.queue},
            ).scalars()
            queued = sorted(jobs)
        assert len(accepted) == 3 and queued == sorted(str(i) for i in accepted)
        assert all(row(db, i).details["queue_job"] > 0 for i in accepted)
        assert web._configs == {}  # a web without a worker keeps no submitter's key around
    finally:
        for job_id in accepted:  # nobody runs this queue: leave nothing unfinished behind
            web.cancel(member.id, job_id)
        web.shutdown()
        budget.set_team_limits(db, admin, None, None)


def test_only_admins_set_limits_and_each_change_is_audited(db, admin, member):
    with pytest.raises(budget.auth.NotAllowed):
        budget.set_team_limits(db, member, 10.0, 5)
    with pytest.raises(budget.LimitReached, match="from 0 to 1,000,000"):
        budget.set_team_limits(db, admin, -1.0, None)
    budget.set_team_limits(db, admin, 10.0, 5)
    budget.set_user_limits(db, admin, member.id, 2.5, None)
    try:
        with db.session() as s:
            assert budget.limits_for(s, member.id) == budget.Limits(2.5, 5)  # own, then team
            assert budget.limits_for(s, admin.id) == budget.Limits(10.0, 5)
            entries = s.scalars(
                select(AuditEntry).where(AuditEntry.action == audit.LIMITS_SET)
            ).all()
        assert {e.details.get("scope") for e in entries} >= {"everyone", None}
    finally:
        budget.set_team_limits(db, admin, None, None)
        budget.set_user_limits(db, admin, member.id, None, None)
