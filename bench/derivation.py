"""Benchmark: derivation wall time against the fake Gemini, which answers text after
--text-latency and images after --image-latency with the real API's shapes (thought parts
first, then a JPEG of the size imageSize asks for).

Targets: one derivation of a 12 MP phone photo takes <= 1.05 x (text + image latency) + 0.3 s
at each output size (issue 15), and 10 derivations started together take <= 1.2 x one
(issue 3). It also prints the bytes sent to Gemini per derivation.

    python bench/derivation.py [--text-latency 1.0] [--image-latency 2.0] [--runs 5]

Prints the figures and exits non-zero when a target is missed.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests"), str(ROOT / "bench")]

from common import photo_jpeg

from viba.engine.gemini import GeminiConfig
from viba.engine.images import prepare_image
from viba.engine.pipelines import Shape, run_derivation

from fake_gemini import FakeGemini


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--text-latency", type=float, default=1.0)
    parser.add_argument("--image-latency", type=float, default=2.0)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--concurrent", type=int, default=10)
    parser.add_argument("--sizes", default="512,1K,2K,4K")
    args = parser.parse_args()

    fake = FakeGemini().start()
    config = GeminiConfig(api_key="bench", base_url=fake.base_url, timeout_s=30)
    photo = photo_jpeg(1)  # 12 MP, as a phone takes it
    image = prepare_image(photo, "bench.jpg")

    def one(size: str = "1K") -> float:
        started = time.perf_counter()
        result = run_derivation(
            config,
            image,
            "gemini-3.1-pro-preview",
            "gemini-3.1-flash-image",
            shape=Shape("3:4", size),
        )
        assert len(result.images) == 4, result.failures
        return time.perf_counter() - started

    one()  # warm the connection pool
    fake.latency, fake.image_latency = args.text_latency, args.image_latency
    ideal = args.text_latency + args.image_latency
    bound = 1.05 * ideal + 0.3
    ok = True
    print(f"text {args.text_latency:.2f} s + image {args.image_latency:.2f} s: ideal {ideal:.2f} s")
    print(f"photo: 12 MP JPEG of {len(photo) / 1e6:.2f} MB, sent as {len(image.data) / 1e6:.2f} MB")
    for size in args.sizes.split(","):
        fake.requests.clear()
        runs = [one(size) for _ in range(args.runs)]
        sent = fake.bytes_sent() / args.runs
        median = statistics.median(runs)
        hit = median <= bound
        ok &= hit
        print(
            f"  {size:>3}: median {median:.3f} s (min {min(runs):.3f}, max {max(runs):.3f}); "
            f"overhead {median - ideal:+.3f} s; target <= {bound:.3f} s -> "
            f"{'OK' if hit else 'MISSED'}; sent {sent / 1e6:.2f} MB per derivation"
        )
    single = statistics.median([one() for _ in range(args.runs)])

    def batch() -> float:
        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=args.concurrent) as pool:
            list(pool.map(lambda _: one(), range(args.concurrent)))
        return time.perf_counter() - started

    batches = [batch() for _ in range(max(1, args.runs // 2))]
    together = statistics.median(batches)
    fake.stop()
    ratio = together / single
    print(
        f"{args.concurrent} derivations at once (1K): {together:.3f} s vs one {single:.3f} s; "
        f"ratio {ratio:.3f} (target <= 1.2) -> {'OK' if ratio <= 1.2 else 'MISSED'}"
    )
    return 0 if ok and ratio <= 1.2 else 1


if __name__ == "__main__":
    raise SystemExit(main())
