"""Benchmark: derivation wall time against the fake Gemini with a fixed latency per call.

Targets (issue 3): one derivation takes <= 1.05 x (2 L) + 0.3 s (describe, then the four
variants at once), and 10 derivations started together take <= 1.2 x one.

    python bench/derivation.py [--latency 0.5] [--runs 5]

Prints the figures and exits non-zero when a target is missed.
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from PIL import Image  # noqa: E402

from viba.gemini import GeminiConfig  # noqa: E402
from viba.images import prepare_image  # noqa: E402
from viba.pipelines import run_derivation  # noqa: E402

from fake_gemini import FakeGemini  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--latency", type=float, default=0.5, help="seconds per Gemini call")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--concurrent", type=int, default=10)
    args = parser.parse_args()

    fake = FakeGemini().start()
    config = GeminiConfig(api_key="bench", base_url=fake.base_url, timeout_s=30)
    buf = io.BytesIO()
    Image.new("RGB", (1536, 2048), (120, 80, 200)).save(buf, format="JPEG")
    image = prepare_image(buf.getvalue(), "bench.jpg")

    def one() -> float:
        started = time.perf_counter()
        result = run_derivation(config, image, "gemini-3.1-pro-preview", "gemini-3.1-flash-image")
        assert len(result.images) == 4, result.failures
        return time.perf_counter() - started

    one()  # warm the connection pool
    fake.latency = args.latency
    singles = [one() for _ in range(args.runs)]
    single = statistics.median(singles)

    def batch() -> float:
        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=args.concurrent) as pool:
            list(pool.map(lambda _: one(), range(args.concurrent)))
        return time.perf_counter() - started

    batches = [batch() for _ in range(max(1, args.runs // 2))]
    together = statistics.median(batches)
    fake.stop()

    bound_single = 1.05 * 2 * args.latency + 0.3
    ratio = together / single
    print(f"latency per call L            : {args.latency:.3f} s")
    print(
        f"one derivation (median of {args.runs}) : {single:.3f} s  "
        f"(runs: {', '.join(f'{s:.3f}' for s in singles)})"
    )
    print(
        f"  target <= 1.05 x 2L + 0.3 s  : {bound_single:.3f} s  -> "
        f"{'OK' if single <= bound_single else 'MISSED'}"
    )
    print(
        f"{args.concurrent} derivations at once       : {together:.3f} s  "
        f"(runs: {', '.join(f'{b:.3f}' for b in batches)})"
    )
    print(f"  ratio to one (target <= 1.2) : {ratio:.3f}  -> {'OK' if ratio <= 1.2 else 'MISSED'}")
    return 0 if single <= bound_single and ratio <= 1.2 else 1


if __name__ == "__main__":
    raise SystemExit(main())
