"""The core CPU benchmark runs every variant on a tiny preset (speed itself is measured in benchmarks/)."""

import pytest

from restorelab.benchmark import run_core_benchmark


def test_core_benchmark_reports_every_path():
    res = run_core_benchmark(["promptir-test"], steps=1, size=32, batch=4, patch=16, rounds=1, ranks=2)
    (row,) = res["presets"]
    for k in ("train_naive_it_s", "train_fast_it_s", "train_bf16_it_s", "train_ops_it_s", "train_ranks_it_s",
              "infer_naive_s", "infer_fast_s"):
        assert row[k] > 0, k
    assert row["train_naive_1thread_s"] > 0 and row["train_fast_1thread_s"] > 0
    assert row["train_ceiling_speedup"] == pytest.approx(
        res["threads"] / row["train_naive_it_s"] / row["train_fast_1thread_s"])
    assert row["train_ranks_speedup"] == pytest.approx(row["train_ranks_it_s"] / row["train_naive_it_s"])
    assert row["train_ops_speedup"] == pytest.approx(row["train_ops_it_s"] / row["train_naive_it_s"])
    assert row["train_bf16_speedup"] == pytest.approx(row["train_bf16_it_s"] / row["train_naive_it_s"])
    assert isinstance(res["native_bf16"], bool)
    assert res["ranks"] == 2 and "train_ranks_it_s" not in run_core_benchmark(
        ["promptir-test"], steps=1, size=32, batch=4, patch=16, rounds=1, ranks=1)["presets"][0]
    with pytest.raises(ValueError, match="split"):
        run_core_benchmark(["promptir-test"], steps=1, size=32, batch=3, patch=16, rounds=1, ranks=2)


def test_bench_cli_prints_every_number(capsys):
    from restorelab.cli import main

    assert main(["bench", "--presets", "promptir-test", "--steps", "1", "--size", "32", "--ranks", "1",
                 "--model", ""]) == 0
    out = capsys.readouterr().out
    assert "promptir-test" in out and "one thread" in out and "ceiling" in out and "bf16" in out


def test_default_path_is_what_restore_picks(monkeypatch):
    """The default restore path is timed through pick_backend (stubbed here: no export) beside the
    shipped model's naive and fast torch paths; the naive one computes the same function."""
    import torch

    import restorelab.inference.backends as B
    from restorelab.benchmark import default_path_benchmark

    seen = {}

    def fake_pick(model, backend=None, *, reduced=(), **kw):
        seen["model"], seen["reduced"] = model, reduced
        return B.Pick("torch", model)

    monkeypatch.setattr(B, "pick_backend", fake_pick)
    res = default_path_benchmark("real-cpu", size=32, repeats=1)
    assert res["backend"] == "torch" and set(res["seconds"]) == {"naive", "fast", "default"}
    assert res["speedup"]["naive"] == 1.0 and all(v > 0 for v in res["seconds"].values())
    assert seen["reduced"] == B.verified_reduced("real-cpu") and "avx2" in res["cpu"]


def _run_script(name: str, *args: str) -> dict:
    import json
    import subprocess
    import sys
    from pathlib import Path

    script = Path(__file__).resolve().parents[1] / "benchmarks" / name
    out = subprocess.run([sys.executable, str(script), *args], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout)


def test_preset_benchmark_prints_every_candidate():
    rows = _run_script("bench_presets.py", "--steps", "1", "--size", "32")["rows"]
    assert len(rows) == 4 and all(r["train_it_s"] > 0 and r["infer_32_s"] > 0 for r in rows)


def test_steady_benchmark_runs_each_path_in_its_own_process():
    res = _run_script("bench_steady.py", "--preset", "promptir-test", "--warmup", "1", "--steps", "2", "--rounds", "1")
    assert [len(v) for v in res["runs"].values()] == [1, 1, 1]
    (naive,), (fast,), (bf16,) = res["runs"]["naive"], res["runs"]["fast"], res["runs"]["bf16"]
    assert res["speedup_of_means"] == pytest.approx(fast["mean_it_s"] / naive["mean_it_s"])
    assert res["bf16_speedup_of_means"] == pytest.approx(bf16["mean_it_s"] / naive["mean_it_s"])
    assert naive["best_it_s"] >= naive["mean_it_s"] > 0 and fast["faults_per_step"] >= 0


def test_lottery_benchmark_times_dense_and_shrunk():
    res = _run_script("bench_lottery.py", "--size", "32", "--repeats", "1")
    assert res["dense_s"] > 0 and res["shrunk_s"] > 0 and res["compact_bytes"] < res["dense_bytes"]
    assert res["sparsity_all"] == pytest.approx(0.9, abs=0.01) and res["max_abs_diff"] < 1e-4


def test_oes_benchmark_times_every_preset():
    res = _run_script("bench_oes.py", "timing", "--size", "32", "--threads", "1")
    assert len(res["configs"]) >= 2 and all(c["s_per_step_1t"] > 0 for c in res["configs"])


def test_grids_benchmark_times_matrix_and_selection(data_root):
    res = _run_script("bench_grids.py", "--repeats", "1", "--photos", str(data_root / "test" / "sr" / "Set5"))
    assert res["matrix_s"] > 0 and res["select_s"] > 0 and res["photos"] == 5


def test_layout_benchmark_prints_every_measurement():
    res = _run_script("bench_layout.py", "--repeats", "1")
    rows = res["depthwise_backward"] + res["gelu"] + res["attention_core"] + res["pointwise_one_thread_batch4"]
    assert len(rows) == 19 and all(v > 0 for r in rows for k, v in r.items() if k.endswith("_ms"))
    assert res["step_overhead"]["aten_calls_per_step"] > 1000 and res["step_overhead"]["step_batch1_8px_ms"] > 0


def test_precision_benchmark_trains_three_ways_and_resumes(tmp_path):
    import numpy as np

    from restorelab.io import save_png

    rng = np.random.default_rng(0)
    for i in range(10):
        save_png(tmp_path / "data" / "train" / "clean" / f"p{i}.png", rng.random((72, 72, 3)) * 0.5 + 0.25)
    args = ("--model", "promptir-test", "--steps", "2", "--val-every", "1", "--warmup-steps", "1",
            "--runs-dir", str(tmp_path / "runs"), "--data", str(tmp_path / "data"))
    res = _run_script("bench_precision.py", *args)
    assert set(res["runs"]) == {"fp32", "bf16", "fp32-one-graph"}
    assert all([v["step"] for v in r["val"]] == [1, 2] for r in res["runs"].values())
    assert res["runs"]["bf16"]["config"]["precision"] == "bf16"
    assert res["minus_fp32"]["bf16"]["derain"]["psnr"] != 0  # bf16 rounds otherwise than float32

    def steps_logged():
        return [sum('"loss"' in line for line in (tmp_path / "runs" / k / "log.jsonl").read_text().splitlines())
                for k in res["runs"]]

    before = steps_logged()
    again = _run_script("bench_precision.py", *args)  # the finished runs are read back, not retrained
    assert steps_logged() == before and again["final_mean_psnr"] == res["final_mean_psnr"]
