"""Benchmark: what a shared board costs the server when someone opens its link. The page
asks for each thumbnail at /s/<token>/t/<n>, one request each: this times shares.image for
every place of a board of N outputs (thumbnails already made, as on a second view).

    python bench/shared_board.py [--items 200] [--database-url sqlite:///...]

Prints the wall time and CPU seconds of the N requests' work (no target in the issue; a
starter instance has 0.5 CPU).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from viba.accounts import auth  # noqa: E402
from viba.store.db import Database  # noqa: E402
from viba.store.image_store import ImageStore, make_backend  # noqa: E402
from viba.studio import boards, shares  # noqa: E402

from fake_gemini import png_bytes  # noqa: E402
from helpers import add  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=200)
    parser.add_argument("--database-url", default="")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="viba-share-bench-"))
    db = Database(args.database_url or f"sqlite:///{folder / 'bench.db'}")
    db.migrate()
    store = ImageStore(make_backend("db", db, folder))
    auth.set_bcrypt_rounds(4)
    owner = auth.register(db, f"owner-{folder.name}@example.com", "Owner", "Bench-pass-1234")
    board_id = boards.create(db, owner, "Bench")
    for i in range(args.items):
        key = store.save(png_bytes(f"bench {folder.name} {i}", size=(64, 64)), "image/png").key
        boards.add(db, owner, board_id, add(db, owner, outputs=[key]), [key])
    token = shares.share_board(db, owner, board_id)
    places = range(1, args.items + 1)
    for place in places:  # the first view makes the thumbnails
        shares.image(db, store, token, place, True)
    cpu, wall = time.process_time(), time.perf_counter()
    for place in places:
        assert shares.image(db, store, token, place, True) is not None
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    print(
        f"board of {args.items}: {args.items} thumbnail requests {wall:.2f} s wall, {cpu:.2f} CPU-s"
    )
    print(f"per request: {1000 * cpu / args.items:.1f} ms CPU")
    db.dispose()


if __name__ == "__main__":
    main()
