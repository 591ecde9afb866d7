"""Copy every stored image from one backend to another (db → s3 and back, or local):

    python -m viba.commands.move_images --to s3://viba-images            # from VIBA_STORAGE
    python -m viba.commands.move_images --from s3://viba-images --to db

The images are the ones the database refers to (image_refs) and their thumbnails. Each one
is read from the source, checked against its key (keys are SHA-256 content addresses), written
to the target, read back and checked again; what the target already holds is skipped, so a run
that stopped (or a second run after images were added meanwhile) goes on where it was. The
source is never changed: switch VIBA_STORAGE to the target once a run reports no failure, run
it once more for what was made in between, then delete the old copies yourself.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TextIO

from sqlalchemy import select

from viba import services
from viba.core.config import ConfigError, get_settings
from viba.store.db import Database
from viba.store.image_store import (
    Backend,
    BlobMissing,
    StorageError,
    is_upload,
    make_backend,
    make_thumbnail,
    mime_for,
    thumb_key_for,
)
from viba.store.models import ImageRef

THREADS = 8


@dataclass
class Report:
    total: int = 0
    copied: int = 0
    already: int = 0
    thumbnails_made: int = 0
    failures: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def done(self) -> int:
        return self.copied + self.already + len(self.failures)

    def summary(self) -> str:
        rate = self.copied / self.seconds if self.seconds else 0.0
        line = (
            f"{self.total} objects: {self.copied} copied and verified, {self.already} already "
            f"there, {len(self.failures)} failed, in {self.seconds:.1f} s ({rate:.1f} copied/s)."
        )
        if self.thumbnails_made:
            line += f" {self.thumbnails_made} missing thumbnails were made anew."
        return line


def image_keys(db: Database) -> list[str]:
    """Every image the database refers to, in a stable order."""
    with db.session() as s:
        return sorted(set(s.scalars(select(ImageRef.key).distinct())))


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _copy_one(source: Backend, target: Backend, key: str, verify_existing: bool) -> str:
    """Copy an image and its thumbnail; returns what happened to the image's thumbnail too,
    as "copied" / "already" / "made" words joined by '+'. Raises StorageError on a failure."""
    outcomes = []
    image: bytes | None = None
    for name in (key,) if is_upload(key) else (key, thumb_key_for(key)):  # uploads: none
        is_thumb = name != key
        if target.exists(name) and not verify_existing:
            outcomes.append("already")
            continue
        try:
            data = source.get(name)
        except BlobMissing:
            if not is_thumb:
                raise
            image = image if image is not None else source.get(key)
            data, made = make_thumbnail(image), True
        else:
            made = False
        if not is_thumb:
            image = data
            expected = key.split("/", 1)[1].split(".", 1)[0]
            if _digest(data) != expected:
                raise StorageError(f"{name} is damaged in the source (its bytes do not match).")
        if target.exists(name) and _digest(target.get(name)) == _digest(data):
            outcomes.append("already")
            continue
        target.put(name, data, "image/webp" if is_thumb else mime_for(key))
        if _digest(target.get(name)) != _digest(data):
            raise StorageError(f"{name} reads back different from the target; not copied.")
        outcomes.append("made" if made else "copied")
    return "+".join(outcomes)


def move(
    source: Backend,
    target: Backend,
    keys: Iterable[str],
    verify_existing: bool = False,
    threads: int = THREADS,
    progress: Callable[[Report], None] | None = None,
) -> Report:
    """Copy the images `keys` (and their thumbnails) from source to target, verified."""
    keys = list(keys)
    report = Report(total=sum(1 if is_upload(key) else 2 for key in keys))
    lock = threading.Lock()
    started = time.perf_counter()

    def one(key: str) -> None:
        try:
            outcome = _copy_one(source, target, key, verify_existing)
        except (StorageError, OSError, ValueError) as exc:
            with lock:
                report.failures.append(f"{key}: {exc}")
                if not is_upload(key):
                    report.failures.append(f"{thumb_key_for(key)}: not copied with its image")
        else:
            with lock:
                for word in outcome.split("+"):
                    if word == "already":
                        report.already += 1
                    else:
                        report.copied += 1
                        report.thumbnails_made += word == "made"
        if progress:
            with lock:
                report.seconds = time.perf_counter() - started
                progress(report)

    with ThreadPoolExecutor(max_workers=max(1, threads)) as pool:
        list(pool.map(one, keys))
    report.seconds = time.perf_counter() - started
    return report


def progress_bar(out: TextIO, width: int = 30) -> Callable[[Report], None]:
    """A bar on a terminal (redrawn in place), a line per tenth elsewhere (CI, logs)."""
    tty = out.isatty()
    shown = {"tenth": -1}

    def draw(report: Report) -> None:
        share = report.done / report.total if report.total else 1.0
        line = (
            f"[{'#' * int(share * width):<{width}}] {report.done}/{report.total} objects "
            f"({len(report.failures)} failed)"
        )
        if tty:
            out.write("\r" + line)
            if report.done == report.total:
                out.write("\n")
            out.flush()
        elif int(share * 10) > shown["tenth"]:
            shown["tenth"] = int(share * 10)
            out.write(line + "\n")
            out.flush()

    return draw


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m viba.commands.move_images",
        description="Copy every stored image to another backend, verified; resumable.",
    )
    parser.add_argument("--to", required=True, help="db, local:<folder> or s3://bucket/prefix")
    parser.add_argument("--from", dest="source", help="the source (default: VIBA_STORAGE)")
    parser.add_argument(
        "--verify-existing",
        action="store_true",
        help="read back what the target already holds and copy it again where it differs",
    )
    parser.add_argument("--threads", type=int, default=THREADS)
    args = parser.parse_args(argv)
    try:
        settings = get_settings()
        services.configure(settings)
        db = services.database(settings)
        db.migrate()
        source_spec = args.source or settings.storage or "db"
        if source_spec == args.to:
            print("The source and the target are the same; nothing to do.", file=sys.stderr)
            return 2
        source = make_backend(source_spec, db, settings.data_dir)
        target = make_backend(args.to, db, settings.data_dir)
        keys = image_keys(db)
    except (ConfigError, StorageError) as exc:
        print(exc, file=sys.stderr)
        return 2
    print(f"Copying {len(keys)} images and their thumbnails: {source_spec} → {args.to}")
    report = move(
        source, target, keys, args.verify_existing, args.threads, progress_bar(sys.stderr)
    )
    print(report.summary())
    for failure in report.failures[:20]:
        print("  failed:", failure)
    if report.failures:
        print("Run the command again to retry the failed ones.")
        return 1
    print(f"Done. Set VIBA_STORAGE={args.to} (then run this once more for images made meanwhile).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
