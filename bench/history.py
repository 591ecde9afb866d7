"""Benchmark: History and Admin on a large generation_history table.

Targets (issue 6):
- the History page's server time for a user with 10,000 generations <= 0.3 s (median), measured
  as AppTest runs of pages/5_History.py (the whole script: guard, queries, thumbnails);
- an admin's filtered generations query over 100,000 rows on PostgreSQL <= 0.5 s (median),
  measured as viba.studio.admin_reports.generations (count + one page), the same call the
  Admin page makes.

    python bench/history.py [--database-url postgresql://postgres@127.0.0.1:5432/test]
                            [--rows 100000] [--user-rows 10000] [--runs 15]

A new database is created beside the given one (PostgreSQL) and dropped at the end; a SQLite
URL is used as a file in a temporary folder. Prints the figures and the query plans, and exits
non-zero when a target is missed.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from sqlalchemy import insert, text

from viba import services
from viba.accounts import auth
from viba.accounts.account import Account
from viba.core.config import get_settings
from viba.store.db import Database
from viba.store.image_store import ImageStore, make_backend
from viba.store.models import GenerationHistory, ModelUsage, User, utcnow
from viba.studio import admin_reports, history

from conftest import create_pg_database, drop_pg_database
from fake_gemini import png_bytes

TYPES = ("derivation", "avatar", "try_on", "swap")
# No unfinished rows: the job runner would (rightly) fail old ones as interrupted.
STATUSES = ("completed",) * 8 + ("failed",)
MODELS = ("gemini-2.5-flash-image", "gemini-3-pro-image-preview")


def seed(db: Database, store: ImageStore, rows: int, user_rows: int) -> tuple[Account, Account]:
    """`rows` generations in all: `user_rows` of them for one user, the rest spread over 199
    others, over the last 365 days; each with stored images so thumbnails are real."""
    boss = auth.register(db, "bench-admin@example.com", "Bench Admin", "bench-pass-1")
    heavy = auth.register(db, "heavy@example.com", "Heavy User", "bench-pass-1")
    password_hash = auth.hash_password("bench-pass-1")
    now = utcnow()
    others = [
        {
            "id": uuid.uuid4(),
            "email": f"user{i}@example.com",
            "full_name": f"User {i}",
            "password_hash": password_hash,
            "model_preferences": {},
            "created_at": now,
            "updated_at": now,
            "password_changed_at": now,
        }
        for i in range(199)
    ]
    keys = [store.save(png_bytes(f"bench {i}"), "image/png").key for i in range(32)]
    for key in keys:
        store.thumbnail(key)  # made once, as a first visit would
    with db.session() as s:
        s.execute(insert(User), others)
    rng = random.Random(6)
    owners = [heavy.id] * user_rows + [rng.choice(others)["id"] for _ in range(rows - user_rows)]
    rng.shuffle(owners)
    batch: list[dict] = []
    usage: list[dict] = []
    for i, owner in enumerate(owners):
        kind = rng.choice(TYPES)
        when = now - timedelta(seconds=rng.uniform(0, 365 * 86400))
        model = rng.choice(MODELS)
        status = rng.choice(STATUSES)
        outs = (
            [rng.choice(keys) for _ in range(4 if kind == "derivation" else 1)]
            if status == "completed"
            else []
        )
        gid = uuid.uuid4()
        batch.append(
            {
                "id": gid,
                "user_id": owner,
                "type": kind,
                "status": status,
                "input_params": {
                    "models": {"image": model},
                    "options": {},
                    "prompt": "Make it.",
                    "input_names": [f"photo{i}.png"],
                    "prompt_versions": {},
                },
                "input_keys": [rng.choice(keys)],
                "output_keys": outs,
                "output_url": outs[0] if outs else None,
                "details": {
                    "description": f"A picture number {i}",
                    "total_tokens": 1290 * len(outs),
                    "seconds": 4.2,
                }
                if outs
                else {},
                "error_message": "quota" if status == "failed" else None,
                "favorite": rng.random() < 0.05,
                "created_at": when,
                "updated_at": when,
            }
        )
        for _ in outs:
            usage.append(
                {
                    "user_id": owner,
                    "generation_id": gid,
                    "feature": kind,
                    "step": kind,
                    "model": model,
                    "tokens": 1290,
                    "images": 1,
                    "created_at": when,
                }
            )
        if len(batch) == 5000:
            _flush(db, batch, usage)
    _flush(db, batch, usage)
    with db.engine.begin() as conn:
        conn.execute(text("ANALYZE"))
    return boss, heavy


def _flush(db: Database, batch: list[dict], usage: list[dict]) -> None:
    if batch:
        with db.session() as s:
            s.execute(insert(GenerationHistory), batch)
            if usage:
                s.execute(insert(ModelUsage), usage)
    batch.clear()
    usage.clear()


def median_time(fn, runs: int) -> tuple[float, float]:
    fn()  # warm caches and connections, as a running server has them
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times), max(times)


def history_page_time(
    db_url: str,
    data_dir: Path,
    heavy: Account,
    runs: int,
    query: dict[str, str] | None = None,
    widgets: dict[str, object] | None = None,
) -> tuple[float, float]:
    from streamlit.testing.v1 import AppTest

    os.environ.update(
        {
            "DATABASE_URL": db_url,
            "VIBA_DATA_DIR": str(data_dir),
            "VIBA_COOKIE_KEY": "bench-cookie-key-" + "x" * 40,
            "VIBA_ENV": "development",
            "VIBA_STORAGE": "db",
            "VIBA_SECRETS_FILE": str(data_dir / "none.toml"),
        }
    )
    get_settings.cache_clear()
    at = AppTest.from_file(str(ROOT / "Home.py"), default_timeout=60)
    from viba.web import browser_session

    from helpers import logged_in_box

    at.session_state[browser_session.SESSION_KEY] = logged_in_box(heavy)
    at.switch_page("pages/5_History.py")
    for key, value in (widgets or {}).items():
        at.session_state[key] = value
    at.run()
    assert not at.exception, at.exception
    assert len(at.main.get("image")) == 24, len(at.main.get("image"))

    def run() -> None:
        at.run()
        assert not at.exception

    # Queries one History run sends to the database (the app's own engine, in this process).
    from sqlalchemy import event

    sent = {"n": 0}

    def count(*_args: object) -> None:
        sent["n"] += 1

    engine = services.database(get_settings(), db_url).engine
    event.listen(engine, "before_cursor_execute", count)
    run()
    event.remove(engine, "before_cursor_execute", count)
    print(f"History page, queries per run (target <= 5):    {sent['n']}")
    return median_time(run, runs)


def explain(db: Database, sql: str, params: dict) -> list[str]:
    if db.engine.dialect.name != "postgresql":
        return []
    with db.engine.connect() as conn:
        return [r[0] for r in conn.execute(text("EXPLAIN ANALYZE " + sql), params)]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database-url", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--user-rows", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="viba-bench-"))
    pg = args.database_url.startswith("postgres")
    url = create_pg_database(args.database_url) if pg else f"sqlite:///{tmp / 'bench.db'}"
    db = Database(url)
    ok = True
    try:
        db.migrate()
        store = ImageStore(make_backend("db", db, tmp))
        started = time.perf_counter()
        boss, heavy = seed(db, store, args.rows, args.user_rows)
        print(
            f"seeded {args.rows} generations ({args.user_rows} for one user) on "
            f"{db.engine.dialect.name} in {time.perf_counter() - started:.1f} s"
        )

        fn_median, fn_max = median_time(lambda: history.page(db, heavy.id), args.runs)
        print(
            f"history.page (first page, 24 items):           median {fn_median * 1000:7.1f} ms"
            f"  max {fn_max * 1000:7.1f} ms"
        )
        deep = history.page(db, heavy.id, limit=5000).next_cursor
        fn_median, fn_max = median_time(lambda: history.page(db, heavy.id, after=deep), args.runs)
        print(
            f"history.page (after 5,000 rows):               median {fn_median * 1000:7.1f} ms"
            f"  max {fn_max * 1000:7.1f} ms"
        )
        text_filter = history.HistoryFilter(text="number 12")
        fn_median, fn_max = median_time(lambda: history.page(db, heavy.id, text_filter), args.runs)
        print(
            f"history.page (text filter):                    median {fn_median * 1000:7.1f} ms"
            f"  max {fn_max * 1000:7.1f} ms"
        )

        page_median, page_max = history_page_time(url, tmp, heavy, args.runs)
        print(
            f"History page, AppTest run (target <= 300 ms):  median {page_median * 1000:7.1f} ms"
            f"  max {page_max * 1000:7.1f} ms"
        )
        ok &= page_median <= 0.3

        now = utcnow()
        filters = admin_reports.GenerationFilter(
            types=("avatar",), statuses=("completed",), since=now - timedelta(days=90), until=now
        )
        admin_median, admin_max = median_time(
            lambda: admin_reports.generations(db, boss, filters), args.runs
        )
        rows, total = admin_reports.generations(db, boss, filters)
        print(
            f"admin_reports.generations type+status+90 days ({total} match; target <= 500 ms): "
            f"median {admin_median * 1000:.1f} ms  max {admin_max * 1000:.1f} ms"
        )
        if pg:
            ok &= admin_median <= 0.5
        for label, f, sort in [
            ("all rows, newest first", admin_reports.GenerationFilter(), "created"),
            ("one user by email part", admin_reports.GenerationFilter(user="user17@"), "created"),
            (
                "failed, sorted by user",
                admin_reports.GenerationFilter(statuses=("failed",)),
                "user",
            ),
        ]:
            m, mx = median_time(
                lambda f=f, sort=sort: admin_reports.generations(db, boss, f, sort=sort), args.runs
            )
            total = admin_reports.generations(db, boss, f, sort=sort, limit=1)[1]
            print(
                f"admin_reports.generations {label} ({total} match): median {m * 1000:.1f} ms"
                f"  max {mx * 1000:.1f} ms"
            )
        offset_m, offset_mx = median_time(
            lambda: admin_reports.generations(
                db, boss, admin_reports.GenerationFilter(), offset=50_000
            ),
            args.runs,
        )
        print(
            f"admin_reports.generations page at offset 50,000: median {offset_m * 1000:.1f} ms"
            f"  max {offset_mx * 1000:.1f} ms"
        )
        usage_m, usage_mx = median_time(
            lambda: admin_reports.usage(db, boss, now - timedelta(days=30), now), args.runs
        )
        print(
            f"admin_reports.usage 30 days: median {usage_m * 1000:.1f} ms  "
            f"max {usage_mx * 1000:.1f} ms"
        )
        plan = explain(
            db,
            "SELECT id FROM generation_history WHERE type = :t AND status = :s "
            "AND created_at >= :a AND created_at < :b ORDER BY created_at DESC, "
            "id DESC LIMIT 50",
            {"t": "avatar", "s": "completed", "a": now - timedelta(days=90), "b": now},
        )
        if plan:
            print("plan (admin page query):\n  " + "\n  ".join(plan))
        plan = explain(
            db,
            "SELECT id FROM generation_history WHERE user_id = :u "
            "ORDER BY created_at DESC, id DESC LIMIT 25",
            {"u": heavy.id},
        )
        if plan:
            print("plan (history page query):\n  " + "\n  ".join(plan))
    finally:
        db.dispose()
        if pg:
            drop_pg_database(url)
    print("targets met" if ok else "TARGET MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
