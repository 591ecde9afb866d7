"""Benchmark: moving stored images between backends (viba.commands.move_images), against moto's S3
server on loopback and a throwaway database. Prints objects copied per second (min / median /
max of the runs) for db → s3 and s3 → db, and the time of a second run that finds everything
already there (a resume).

    python bench/move.py [--images 200] [--kb 600] [--runs 3] [--threads 8]
        [--database-url postgresql://...]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from viba.commands import move_images
from viba.store.db import Database
from viba.store.image_store import ImageStore, make_backend

from helpers import free_port, s3_settings


def photo_like(seed: int, kb: int) -> bytes:
    """A JPEG of about `kb` KB that does not compress away (noise)."""
    import io

    from PIL import Image

    side = int((kb * 1024 / 1.2) ** 0.5)
    img = Image.frombytes("RGB", (side, side), os.urandom(side * side * 3))
    out = io.BytesIO()
    img.save(out, "JPEG", quality=60)
    return out.getvalue() + seed.to_bytes(4, "big")  # distinct content, still a JPEG


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--images", type=int, default=200)
    parser.add_argument("--kb", type=int, default=600, help="about this size before JPEG")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--database-url")
    args = parser.parse_args()

    import logging

    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per request otherwise

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    os.environ.update(s3_settings(f"http://127.0.0.1:{port}"))
    import boto3

    boto3.client("s3").create_bucket(Bucket="bench")
    folder = Path(tempfile.mkdtemp())
    db = Database(args.database_url or f"sqlite:///{folder / 'bench.db'}")
    db.migrate()
    store = ImageStore(make_backend("db", db, folder))
    keys = [store.save(photo_like(i, args.kb), "image/jpeg").key for i in range(args.images)]
    size = sum(len(store.load(k)) for k in keys) / 1e6
    print(
        f"{args.images} images, {size:.0f} MB (+ thumbnails), {args.threads} threads; "
        f"load average {os.getloadavg()[0]:.2f}"
    )
    figures: dict[str, list[float]] = {"db → s3": [], "s3 → db": [], "resume (all there)": []}
    for run in range(args.runs):
        prefix = f"run-{run}-{uuid.uuid4().hex[:6]}"
        s3 = make_backend(f"s3://bench/{prefix}", db, folder)
        there = move_images.move(store.backend, s3, keys, threads=args.threads)
        assert not there.failures, there.failures[:3]
        figures["db → s3"].append(there.copied / there.seconds)
        started = time.perf_counter()
        again = move_images.move(store.backend, s3, keys, threads=args.threads)
        assert again.already == 2 * len(keys)
        figures["resume (all there)"].append(time.perf_counter() - started)
        back_db = Database(f"sqlite:///{folder / f'back-{run}.db'}")
        back_db.migrate()
        back = move_images.move(s3, make_backend("db", back_db, folder), keys, threads=args.threads)
        assert not back.failures, back.failures[:3]
        figures["s3 → db"].append(back.copied / back.seconds)
        back_db.dispose()
    for name, values in figures.items():
        unit = "s" if name.startswith("resume") else "objects/s"
        print(
            f"{name:>20}: min {min(values):.1f}  median {statistics.median(values):.1f}  "
            f"max {max(values):.1f} {unit}"
        )
    server.stop()


if __name__ == "__main__":
    main()
