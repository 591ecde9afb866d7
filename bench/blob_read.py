"""Benchmark: reading one photo-sized blob from PostgreSQL (VIBA_STORAGE=db).

    python bench/blob_read.py --database-url postgresql://... [--mb 4.5] [--reads 50]

A worker reads each upload (a phone photo, ~4.5 MB) once per job, and the web reads every
full-size image it serves. Prints, per read, the wall time and this process's CPU time of
the ORM's own select (psycopg asks for bytea as hex text) and of DbBackend.get (a binary
cursor), median of --reads after one read not counted.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from sqlalchemy import select  # noqa: E402

from viba.store.db import Database  # noqa: E402
from viba.store.image_store import DbBackend  # noqa: E402
from viba.store.models import Blob  # noqa: E402

from helpers import create_pg_database, drop_pg_database  # noqa: E402


def _timed(read, reads: int) -> tuple[float, float]:
    read()
    walls, cpus = [], []
    for _ in range(reads):
        t0, c0 = time.perf_counter(), time.process_time()
        read()
        walls.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
    return statistics.median(walls) * 1000, statistics.median(cpus) * 1000


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database-url", required=True, help="PostgreSQL: a fresh database")
    parser.add_argument("--mb", type=float, default=4.5)
    parser.add_argument("--reads", type=int, default=50)
    args = parser.parse_args()
    url = create_pg_database(args.database_url)
    db = Database(url)
    try:
        db.migrate()
        backend = DbBackend(db)
        key = "upload/" + "ab" * 32 + ".jpg"
        backend.put(key, os.urandom(int(args.mb * 1_000_000)), "image/jpeg")

        def orm() -> bytes:
            with db.session() as s:
                data = s.scalar(select(Blob.data).where(Blob.key == key))
                db.moved_large_value(s, len(data))
            return bytes(data)

        assert orm() == backend.get(key)
        print(f"one {args.mb} MB blob, median of {args.reads} reads")
        print("| read | wall (ms) | this process's CPU (ms) |\n|---|---|---|")
        reads = (("ORM select (hex text)", orm), ("DbBackend.get", lambda: backend.get(key)))
        for name, read in reads:
            wall, cpu = _timed(read, args.reads)
            print(f"| {name} | {wall:.1f} | {cpu:.1f} |")
    finally:
        db.dispose()
        drop_pg_database(url)
    return 0


if __name__ == "__main__":
    sys.exit(main())
