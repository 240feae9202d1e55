"""The real-photo features: noise estimate, classical baselines, the real-photo evaluation,
fine-tuning from shipped weights, and what the app says about an output's tone."""

from __future__ import annotations

import json

import numpy as np
import pytest

from restorelab import degradations as D
from restorelab.errors import RestoreLabError
from restorelab.metrics.noise import estimate_sigma, tone_change


def _photo(h=64, w=80, seed=0):
    import cv2

    rng = np.random.default_rng(seed)
    img = cv2.GaussianBlur(rng.random((h, w, 3)).astype(np.float32), (0, 0), 3.0)
    img = (img - img.min()) / (img.max() - img.min())
    return (0.15 + 0.7 * img).astype(np.float32)


@pytest.mark.parametrize("sigma", [0, 5, 15, 40])
def test_estimate_sigma_matches_scikit_image(sigma):
    from skimage.restoration import estimate_sigma as sk

    img = D.apply("gaussian_noise", _photo(96, 96), seed=1, sigma=sigma, quantize=False)
    ours, ref = estimate_sigma(img), sk(img, channel_axis=-1, average_sigmas=True)
    assert ours == pytest.approx(ref, rel=0.02, abs=2e-4)
    if sigma:
        assert ours * 255 == pytest.approx(sigma, rel=0.15)


def test_tone_change():
    img = _photo()
    t = tone_change(img, img * 0.9)
    assert t["brightness"] < -5 and t["color"] < 1.0
    cast = img.copy()
    cast[:, :, 2] += 0.05
    assert tone_change(img, cast)["color"] > 5


def test_classical_restorers_estimate_sigma_and_denoise():
    from restorelab.inference import load_model, restore, run_model

    clean = _photo(64, 64)
    noisy = D.apply("gaussian_noise", clean, seed=0, sigma=20, quantize=False)
    p = lambda a: 10 * np.log10(1 / np.mean((a - clean) ** 2))  # noqa: E731
    for name in ("nlm", "bm3d"):
        m = load_model(name)
        out = restore(m, noisy)
        assert out.shape == noisy.shape and out.dtype == np.float32
        assert p(out) > p(noisy) + 2, name
        assert m.last_sigma * 255 == pytest.approx(20, rel=0.25)
        # the model interface gives the same (CBM3D's FFTs differ by ~1e-6 between calls under other thread loads)
        assert np.allclose(run_model(m, noisy), out, atol=1e-5)
    flat = np.full((32, 32, 3), 0.5, np.float32)  # nothing to remove: returned unchanged
    assert np.array_equal(restore(load_model("nlm"), flat), flat)
    with pytest.raises(RestoreLabError):
        restore(load_model("nlm"), noisy, self_ensemble=4)


def test_classical_restorers_go_in_tiles_with_the_whole_photos_noise_level():
    from restorelab.inference import load_model, restore
    from restorelab.metrics.noise import estimate_sigma

    clean = _photo(96, 80)
    noisy = D.apply("gaussian_noise", clean, seed=0, sigma=15, quantize=False)
    m, calls = load_model("nlm"), []
    tiled = restore(m, noisy, tile=48, overlap=16, threshold=40 * 40, progress=lambda d, n: calls.append((d, n)))
    assert calls[-1][0] == calls[-1][1] > 1  # tile by tile, with progress
    assert m.last_sigma == estimate_sigma(noisy) and m.sigma is None  # one estimate, released after
    whole = restore(m, noisy)
    assert 10 * np.log10(1 / np.mean((tiled - whole) ** 2)) > 40  # the seams cost next to nothing


def test_models_lists_classical_methods():
    from restorelab.inference.catalog import list_models

    rows = {r["name"]: r for r in list_models()}
    assert rows["nlm"]["kind"] == "classical" and rows["bm3d"]["kind"] == "classical"


def _fake_root(tmp_path, n=3):
    from restorelab.io import save_png

    d = tmp_path / "test" / "denoise" / "CBSD68"
    d.mkdir(parents=True)
    for i in range(n):
        save_png(d / f"img{i}.png", _photo(40, 48, seed=i))
    return tmp_path


def test_real_eval_rows_and_slow_subset(tmp_path):
    import torch

    from restorelab.evaluation import real_eval, real_markdown
    from restorelab.inference import save_weights
    from restorelab.models import create_model

    root = _fake_root(tmp_path)
    torch.manual_seed(0)
    weights = tmp_path / "tiny.safetensors"
    save_weights(create_model("promptir-test"), weights)
    sets = ("CBSD68-clean", "CBSD68-jpeg20", "CBSD68-camera")
    guarded = f"{weights}+guard"
    res = real_eval(["input", "nlm", "bm3d", str(weights), guarded], sets, data_root=str(root), slow_limit=1)
    assert [r["set"] for r in res["rows"]] == list(sets)
    clean = res["rows"][0]["methods"]
    # the same network behind the do-no-harm guard: a count of the outputs it kept, its own fingerprint
    assert 0 <= clean[guarded]["restored"] <= 3 and "restored" not in clean[str(weights)]
    assert clean[guarded]["fingerprint"].startswith(clean[str(weights)]["fingerprint"] + "+guard:")
    assert all(p_g == 100.0 or p_g == p for p_g, p in zip(clean[guarded]["psnr_images"],
                                                           clean[str(weights)]["psnr_images"]))
    assert clean["input"]["psnr"] == 100.0  # identical images: capped, finite in JSON
    assert clean["bm3d"]["n"] == 1 and clean["nlm"]["n"] == 3 and res["rows"][0]["slow_subset"] == 1
    assert clean["nlm"]["psnr_slow_subset"] == pytest.approx(clean["nlm"]["psnr_images"][0])
    jp = res["rows"][1]["methods"]["input"]["psnr"]
    assert 20 < jp < 45
    json.dumps(res)  # plain JSON
    table = real_markdown(res)
    assert "CBSD68-jpeg20 (jpeg)" in table and "(1; ours" in table
    with pytest.raises(RestoreLabError):
        real_eval(["input"], ["CBSD68-nope"], data_root=str(root))


def test_real_eval_cli_writes_json(tmp_path, capsys):
    from restorelab.cli import main

    root = _fake_root(tmp_path, 2)
    out = tmp_path / "real.json"
    assert main(["real-eval", "--models", "input,nlm", "--sets", "CBSD68-clean,CBSD68-jpeg40", "--data-dir",
                 str(root), "--out", str(out), "--json"]) == 0
    res = json.loads(out.read_text())
    assert res["command"].startswith("python -m restorelab real-eval")
    capsys.readouterr()
    assert main(["real-table", str(out)]) == 0
    assert "| CBSD68-jpeg40 (jpeg) | 2 |" in capsys.readouterr().out
    assert main(["eval", "--model", "nlm", "--set", "CBSD68-jpeg40", "--data-dir", str(root), "--json"]) == 0


def test_eval_takes_a_guarded_model(tmp_path, capsys):
    import torch

    from restorelab.evaluation import evaluate
    from restorelab.inference import save_weights
    from restorelab.models import create_model

    root = _fake_root(tmp_path, 2)
    torch.manual_seed(0)
    weights = tmp_path / "tiny.safetensors"
    save_weights(create_model("promptir-test"), weights)
    raw = evaluate(str(weights), "CBSD68-clean", data_root=str(root))
    guarded = evaluate(f"{weights}+guard", "CBSD68-clean", data_root=str(root))
    for a, b in zip(raw["images"], guarded["images"]):  # each photo: the network's output or itself
        assert b["psnr"] == a["psnr"] or b["psnr"] == 100.0  # identical: capped, finite in JSON


def test_train_init_starts_from_given_weights(tmp_path, lottery_photos, monkeypatch):
    import torch

    from restorelab.inference import save_weights
    from restorelab.inference.weights import load_state
    from restorelab.models import create_model
    from restorelab.training import TrainConfig, Trainer

    torch.manual_seed(123)
    start = tmp_path / "start.safetensors"
    save_weights(create_model("promptir-test"), start)
    cfg = TrainConfig(model="promptir-test", tasks="clean,camera_noise", data_dir=str(lottery_photos), val_count=1,
                      patch_size=16, batch_size=2, steps=2, warmup_steps=1, val_size=32, threads=1, init=str(start))
    tr = Trainer(cfg, tmp_path / "run", progress=False)
    tr.train()
    theta0, given = load_state(tmp_path / "run" / "theta0.safetensors"), load_state(start)
    assert all(torch.equal(theta0[k], given[k]) for k in given)
    with pytest.raises(RestoreLabError):
        Trainer(TrainConfig(model="promptir-test", init="no-such-model"), tmp_path / "run2", progress=False)
    # a second stage from a stopped first one: --init RUN_DIR takes its last checkpoint's model
    first = Trainer(cfg, tmp_path / "stage1", progress=False)
    first.train(stop_after=1)
    stage1 = {k: v.clone() for k, v in first.model.state_dict().items()}
    from dataclasses import replace

    second = Trainer(replace(cfg, init=str(tmp_path / "stage1"), tasks="denoise,web_jpeg"), tmp_path / "stage2",
                     progress=False)
    second.train()
    theta0 = load_state(tmp_path / "stage2" / "theta0.safetensors")
    assert all(torch.equal(theta0[k], stage1[k]) for k in theta0)
    from restorelab.training.export import ship_dense

    card = ship_dense(tmp_path / "stage2", "two-stage", ["cmd"], weights_dir=tmp_path / "w")
    assert card["theta0"] is None and not (tmp_path / "w" / "two-stage.theta0.safetensors").exists()
    # the card records the stopped first stage (its steps, config, log) without being told
    (st,) = card["train"]["stages"]
    assert st["steps_done"] == 1 and st["config"]["tasks"] == "clean,camera_noise"
    assert (tmp_path / "w" / st["train_log"]).exists() and st["train_log"] == "two-stage.stage1.train-log.jsonl"
    # a third stage from the *shipped* model, shipped under the same name: the card keeps both earlier
    # stages (the shipped card's own stage, then the shipped card) and no θ0 pointing at itself
    monkeypatch.setenv("RESTORELAB_WEIGHTS_DIR", str(tmp_path / "w"))
    third = Trainer(replace(cfg, init="two-stage", tasks="clean"), tmp_path / "stage3", progress=False)
    third.train()
    card3 = ship_dense(tmp_path / "stage3", "two-stage", ["cmd3"], weights_dir=tmp_path / "w")
    assert card3["theta0"] == card["theta0"]  # the chain's θ0, not itself
    s1, s2 = card3["train"]["stages"]
    assert s1["config"]["tasks"] == "clean,camera_noise" and s2["config"]["tasks"] == "denoise,web_jpeg"
    assert s2["shipped_as"] == "two-stage" and s2["commands"] == ["cmd"]
    assert [s["train_log"] for s in (s1, s2)] == ["two-stage.stage1.train-log.jsonl", "two-stage.stage2.train-log.jsonl"]
    logged = (tmp_path / "w" / "two-stage.stage2.train-log.jsonl").read_text().splitlines()
    assert logged and all(json.loads(line)["step"] <= cfg.steps for line in logged)


def test_tone_warning_and_noise_notes():
    from restorelab.ui import pipeline

    rec = {"model": "m", "tone_change": {"brightness": -8.0, "color": 0.5}}
    assert "8.0/255 darker" in pipeline.tone_warning(rec)
    assert pipeline.tone_warning({"model": "m", "tone_change": {"brightness": 0.5, "color": 0.4}}) is None
    assert "colour shifted" in pipeline.tone_warning({"model": "m", "tone_change": {"brightness": 0.0, "color": 6.0}})
    noisy = D.apply("gaussian_noise", _photo(96, 96), seed=0, sigma=25, quantize=False)
    assert pipeline.noise_level(noisy) == pytest.approx(25, rel=0.15)


def test_real_eval_reuses_cells_and_saves_cards(tmp_path, monkeypatch):
    import torch

    from restorelab.cli import main
    from restorelab.inference import save_weights
    from restorelab.models import create_model

    root = _fake_root(tmp_path, 2)
    wd = tmp_path / "weights"
    torch.manual_seed(0)
    save_weights(create_model("promptir-test"), wd / "tiny.safetensors")
    (wd / "tiny.json").write_text(json.dumps({"name": "tiny", "kind": "dense", "preset": "promptir-test",
                                              "params": 1, "nonzero_params": 1}))
    monkeypatch.setenv("RESTORELAB_WEIGHTS_DIR", str(wd))
    out = tmp_path / "real.json"
    argv = ["real-eval", "--models", "input,nlm,tiny", "--sets", "CBSD68-jpeg40", "--data-dir", str(root),
            "--out", str(out), "--json"]
    assert main(argv) == 0
    first = json.loads(out.read_text())
    assert main(argv + ["--save-cards"]) == 0
    second = json.loads(out.read_text())
    # reused, not recomputed: even the timings are the same
    assert first["rows"][0]["methods"] == second["rows"][0]["methods"]
    card = json.loads((wd / "tiny.json").read_text())
    row = card["results_real"]["rows"][0]
    assert row["set"] == "CBSD68-jpeg40" and set(row) >= {"tiny", "input", "nlm"}
    # other weights, other fingerprint: recomputed
    torch.manual_seed(1)
    save_weights(create_model("promptir-test"), wd / "tiny.safetensors")
    assert main(argv) == 0
    third = json.loads(out.read_text())
    assert third["rows"][0]["methods"]["tiny"]["fingerprint"] != first["rows"][0]["methods"]["tiny"]["fingerprint"]
    assert third["rows"][0]["methods"]["nlm"] == first["rows"][0]["methods"]["nlm"]


def test_readme_real_photo_table_is_generated_from_the_committed_json():
    """The README's real-photo table is `real-table docs/results/real-photos.json`, not typed by hand."""
    from pathlib import Path

    from restorelab.evaluation import real_markdown

    root = Path(__file__).resolve().parents[1]
    res = json.loads((root / "docs" / "results" / "real-photos.json").read_text())
    readme = (root / "README.md").read_text()
    start, end = "<!-- real-photos:start -->", "<!-- real-photos:end -->"
    assert start in readme and end in readme
    block = readme.split(start, 1)[1].split(end, 1)[0].strip()
    assert block == real_markdown(res).strip(), "README table is stale: run `python -m restorelab real-table " \
                                                "docs/results/real-photos.json` and paste it between the markers"


@pytest.mark.slow
def test_verify_backend_compares_a_model_with_itself_behind_a_backend(data_root, tmp_path):
    """verify-backend runs NAME and NAME@BACKEND on the same images; OpenVINO at float32 loses nothing,
    so the verdict is ok, and the card records it (a copy of the card here)."""
    from restorelab.cli import main
    from restorelab.inference import backends as B

    if B.missing_packages("openvino"):
        pytest.skip("openvino not installed")
    out = tmp_path / "v.json"
    from restorelab.evaluation import verify_backend

    res = verify_backend("real-cpu", "openvino", ["SOTS-outdoor-2"], data_root=str(data_root), limit=1)
    assert res["ok"] and abs(res["worst_loss_db"]) < 1e-3 and res["per_set"]["SOTS-outdoor-2"]["n"] == 1
    with pytest.raises(SystemExit):  # only reduced-precision backends are verified from the CLI
        main(["verify-backend", "--backend", "openvino", "--out", str(out)])
