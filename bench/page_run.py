"""Benchmark: what one run of the Derivation page costs the web process (issue 25's web CPU
per Derivation is mostly page runs: the submit's, each poll of a running card, the finished
page's). A user with 6 finished Derivations of 4 outputs each in "Your latest"; the page is
run in-process (AppTest, so its own overhead is in the figure too), its thumbnails shown by
the media route's addresses as under `streamlit run app.py` (AppTest mounts no routes, so the
bench says they are, and names the page's origin), and measured per run: CPU milliseconds,
SQL statements, connection checkouts and liveness pings.

With --history-detail, the page is instead History showing one Derivation whose images are
as heavy as a real one's: a 12 MP input photo and four 4K outputs (photo-like JPEGs), each
shown at screen size; every click on that page (favourite, compare, a region's slider) is
such a run.

    python bench/page_run.py [--runs 30] [--database-url postgresql://...] [--history-detail]

Without --database-url: SQLite in a scratch folder. With it: a fresh database beside it.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests"), str(ROOT / "bench")]

from common import app_env, finished_derivations, photo_jpeg
from sqlalchemy import event

from viba import services
from viba.accounts import auth
from viba.core.config import get_settings
from viba.web import addresses, thumbnails

from helpers import PASSWORD, create_pg_database, drop_pg_database, open_page


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--database-url", help="a PostgreSQL URL: a fresh database beside it")
    parser.add_argument("--history-detail", action="store_true", help="History, one 4K set")
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp())
    url = (
        create_pg_database(args.database_url) if args.database_url else f"sqlite:///{scratch}/v.db"
    )
    os.environ.update(
        app_env(
            url,
            scratch,
            "http://127.0.0.1:9",
            VIBA_STORAGE="db",
            VIBA_LOG_LEVEL="warning",
            **({"VIBA_WORKER": "off"} if args.database_url else {}),
        )
    )
    get_settings.cache_clear()
    settings = get_settings()
    db = services.database(settings)
    try:
        db.migrate()
        store = services.image_store(settings, db)
        auth.register(db, "admin@example.com", "Admin", PASSWORD)
        user = auth.register(db, "user@example.com", "User", PASSWORD)
        if args.history_detail:
            page, query, what = (
                "pages/5_History.py",
                {"id": str(heavy(db, store, user))},
                ("History detail (a 12 MP input, four 4K outputs)"),
            )
        else:
            finished_derivations(db, store, user, 6)
            page, query, what = "pages/1_Derivation.py", None, "Derivation page"
        counts = {"statements": 0, "checkouts": 0}

        def statement(*_: object) -> None:
            counts["statements"] += 1

        def checkout(*_: object) -> None:
            counts["checkouts"] += 1

        event.listen(db.engine, "before_cursor_execute", statement)
        event.listen(db.engine, "checkout", checkout)
        pings = _count_pings(db)
        addresses._routes_mounted = True  # as app.py does when it mounts the media route
        thumbnails.page_origin = lambda: "http://127.0.0.1:8501"
        at = open_page(page, user, query)
        assert not at.exception, at.exception
        at.run()  # warm: thumbnails made, caches filled
        cpu, per = [], {"statements": [], "checkouts": [], "pings": []}
        for _ in range(args.runs):
            before = dict(counts, pings=pings["n"])
            start = time.process_time()
            at.run()
            cpu.append((time.process_time() - start) * 1000)
            assert not at.exception, at.exception
            for name in per:
                now = pings["n"] if name == "pings" else counts[name]
                per[name].append(now - before[name])
        kind = "PostgreSQL" if db.is_postgres else "SQLite"
        shape = "" if args.history_detail else ", 6 cards x 4 outputs"
        print(f"{what} run ({kind}{shape}, {args.runs} runs):")
        print(f"  CPU per run: median {statistics.median(cpu):.1f} ms (min {min(cpu):.1f})")
        for name, values in per.items():
            print(f"  {name} per run: {statistics.median(values):g}")
    finally:
        db.dispose()
        if args.database_url:
            drop_pg_database(url)
    return 0


def heavy(db, store, user) -> object:
    """A finished Derivation of the user's with a 12 MP input and four 4K outputs."""
    from helpers import add

    source = store.save(photo_jpeg(1), "image/jpeg").key
    outs = [store.save(photo_jpeg(10 + i, (4096, 4096)), "image/jpeg").key for i in range(4)]
    return add(db, user, type="derivation", inputs=[source], outputs=outs)


def _count_pings(db) -> dict[str, int]:
    """Count the dialect's liveness pings (pool_pre_ping's, or the pool's own)."""
    seen = {"n": 0}
    dialect = db.engine.dialect
    original = dialect.do_ping

    def counted(dbapi_connection):  # type: ignore[no-untyped-def]
        seen["n"] += 1
        return original(dbapi_connection)

    dialect.do_ping = counted  # type: ignore[method-assign]
    return seen


if __name__ == "__main__":
    sys.exit(main())
