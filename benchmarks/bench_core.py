"""Core CPU benchmark: training steps/s (batch 8, 64²) and seconds per 512² image, naive vs fast.

    python benchmarks/bench_core.py [--presets promptir-tiny,promptir-cpu] [--compile] [--ranks 2] > out.json
"""

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from restorelab.benchmark import run_core_benchmark  # noqa: E402

if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--presets", default="promptir-tiny,promptir-cpu")
    p.add_argument("--steps", type=int, default=6)
    p.add_argument("--size", type=int, default=512)
    p.add_argument("--compile", action="store_true")
    p.add_argument("--ranks", type=int, default=2, help="data-parallel single-threaded processes (1: skip)")
    a = p.parse_args()
    print(json.dumps(run_core_benchmark(a.presets.split(","), a.steps, a.size, compile_=a.compile, ranks=a.ranks),
                     indent=2))
