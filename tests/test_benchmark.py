"""The core CPU benchmark runs every variant on a tiny preset (speed itself is measured in benchmarks/)."""

import pytest

from restorelab.benchmark import run_core_benchmark


def test_core_benchmark_reports_every_path():
    res = run_core_benchmark(["promptir-test"], steps=1, size=32, batch=4, patch=16, rounds=1, ranks=2)
    (row,) = res["presets"]
    for k in ("train_naive_it_s", "train_fast_it_s", "train_ops_it_s", "train_ranks_it_s", "infer_naive_s",
              "infer_fast_s"):
        assert row[k] > 0, k
    assert row["train_naive_1thread_s"] > 0 and row["train_fast_1thread_s"] > 0
    assert row["train_ceiling_speedup"] == pytest.approx(
        res["threads"] / row["train_naive_it_s"] / row["train_fast_1thread_s"])
    assert row["train_ranks_speedup"] == pytest.approx(row["train_ranks_it_s"] / row["train_naive_it_s"])
    assert row["train_ops_speedup"] == pytest.approx(row["train_ops_it_s"] / row["train_naive_it_s"])
    assert res["ranks"] == 2 and "train_ranks_it_s" not in run_core_benchmark(
        ["promptir-test"], steps=1, size=32, batch=4, patch=16, rounds=1, ranks=1)["presets"][0]
    with pytest.raises(ValueError, match="split"):
        run_core_benchmark(["promptir-test"], steps=1, size=32, batch=3, patch=16, rounds=1, ranks=2)


def test_bench_cli_prints_every_number(capsys):
    from restorelab.cli import main

    assert main(["bench", "--presets", "promptir-test", "--steps", "1", "--size", "32", "--ranks", "1"]) == 0
    out = capsys.readouterr().out
    assert "promptir-test" in out and "one thread" in out and "ceiling" in out


def test_layout_benchmark_prints_every_measurement():
    import json
    import subprocess
    import sys
    from pathlib import Path

    script = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_layout.py"
    out = subprocess.run([sys.executable, str(script), "--repeats", "1"], capture_output=True, text=True, check=True)
    res = json.loads(out.stdout)
    rows = res["depthwise_backward"] + res["gelu"] + res["attention_core"] + res["pointwise_one_thread_batch4"]
    assert len(rows) == 19 and all(v > 0 for r in rows for k, v in r.items() if k.endswith("_ms"))
    assert res["step_overhead"]["aten_calls_per_step"] > 1000 and res["step_overhead"]["step_batch1_8px_ms"] > 0
