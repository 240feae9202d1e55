"""Measured dP with real (tiny) training, and the experiment sub-commands end to end."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from restorelab.errors import RestoreLabError
from restorelab.grids.cli import main
from restorelab.grids.deltap import GroupModels, GroupTrainConfig
from restorelab.grids.search import DeltaCache, SearchConfig, search
from restorelab.grids.srresnet import SRResNet, SRResNetConfig, save_descriptor


def _photo(seed, h=40, w=48):
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    img = 0.5 + 0.3 * np.sin(x / (3 + seed))[..., None] * np.cos(y / 5.0)[..., None]
    return np.clip(img + 0.03 * rng.standard_normal((h, w, 3)), 0, 1)


@pytest.fixture
def clean_dir(tmp_path):
    from PIL import Image

    d = tmp_path / "clean"
    d.mkdir()
    for i in range(4):
        Image.fromarray((_photo(i) * 255).astype(np.uint8)).save(d / f"{i}.png")
    return d


def _cfg(clean_dir):
    return GroupTrainConfig(model="promptir-test", steps=2, batch_size=2, patch_size=16, warmup_steps=1,
                            data_dir=str(clean_dir), val_count=1, val_size=16, threads=1)


def test_group_models_delta_p_cached(tmp_path, clean_dir):
    gm = GroupModels(_cfg(clean_dir), tmp_path / "runs")
    dp = gm(("sr", "jpeg"))
    assert np.isfinite(dp) and gm(("sr",)) == 0.0
    assert set(gm.psnr) == {"sr+jpeg", "sr", "jpeg"}
    assert (tmp_path / "runs" / "sr+jpeg" / "final.safetensors").exists()
    from restorelab.inference.weights import load_weights

    rescored = gm._score(load_weights(gm.weights(("sr", "jpeg"))), ("sr", "jpeg"))
    assert rescored == pytest.approx(gm.psnr["sr+jpeg"], abs=1e-4)  # the trainer's final validation is reused
    again = GroupModels(_cfg(clean_dir), tmp_path / "runs")  # from psnr.json, no training
    again._train = None  # would fail if called
    assert again(("sr", "jpeg")) == pytest.approx(dp)
    with pytest.raises(RestoreLabError):
        GroupModels(GroupTrainConfig(**{**_cfg(clean_dir).to_dict(), "steps": 3}), tmp_path / "runs")


def test_per_task_budget_scales_steps_with_group_size(tmp_path, clean_dir):
    cfg = GroupTrainConfig(**{**_cfg(clean_dir).to_dict(), "budget": "per_task"})
    assert cfg.steps_for(("sr",)) == 2 and cfg.steps_for(("sr", "jpeg", "ringing")) == 6
    assert cfg.protocol()["budget"] == "per_task" and "budget" not in _cfg(clean_dir).protocol()
    gm = GroupModels(cfg, tmp_path / "runs")
    gm.scores(("sr", "jpeg"))
    log = [json.loads(x) for x in (tmp_path / "runs" / "sr+jpeg" / "log.jsonl").read_text().splitlines()]
    assert max(r.get("step", 0) for r in log) == 4
    with pytest.raises(RestoreLabError):
        GroupTrainConfig(budget="equal")


def test_search_with_group_models_on_a_small_matrix(tmp_path, clean_dir):
    names = ["sr", "jpeg", "salt_pepper"]
    m = np.array([[0, 1, 4], [1, 0, 4], [4, 4, 0]], float)
    gm = GroupModels(_cfg(clean_dir), tmp_path / "runs")
    res = search(names, m, DeltaCache(tmp_path / "dp.json", gm), SearchConfig(delta=100.0))
    assert len(res.groups) == 1 and res.measured_now  # any drop passes delta = 100 dB


def test_cli_measure_export_calibrate_confusion_table(tmp_path, clean_dir, monkeypatch, capsys):
    monkeypatch.setenv("RESTORELAB_WEIGHTS_DIR", str(tmp_path / "weights"))
    torch.manual_seed(0)
    desc = tmp_path / "d.safetensors"
    save_descriptor(SRResNet(SRResNetConfig(nf=8, n_blocks=1)), desc)
    train = ["--runs-dir", str(tmp_path / "runs"), "--model", "promptir-test", "--steps", "1", "--batch-size", "2",
             "--patch-size", "16", "--warmup-steps", "1", "--data-dir", str(clean_dir), "--val-count", "1",
             "--val-size", "16", "--threads", "1"]
    dflags = ["--descriptor", str(desc), "--patch-size", "8", "--n-patches", "24", "--n-components", "16"]
    groups = tmp_path / "groups.json"
    groups.write_text(json.dumps({"groups": [["sr", "ringing"], ["gaussian_noise"]]}))
    assert main(["grids", "measure", "--groups", "sr,ringing;singles;all", *train, "--json"]) == 0
    scores = json.loads(capsys.readouterr().out)
    assert "sr+ringing" in scores and len(scores) == 13
    assert main(["grids", "export", "--groups", str(groups), *train, "--command", "grids measure ...",
                 "--json"]) == 0
    exp = json.loads(capsys.readouterr().out)
    card = json.loads((tmp_path / "weights" / "grids-g1.json").read_text())
    assert card["commands"] == ["grids measure ..."] and card["tasks"] == ["sr", "ringing"]
    assert exp["models"] == ["grids-g1", "grids-g2"] and (tmp_path / "weights" / "grids-g1.safetensors").exists()
    assert exp["baseline"] == "grids-mixall" and (tmp_path / "weights" / "grids-mixall.json").exists()
    sim = tmp_path / "sim.json"
    assert main(["grids", "similarity", "--photos", str(clean_dir), "--cache", str(sim), *dflags, "--json"]) == 0
    capsys.readouterr()
    common = ["--photos", str(clean_dir), "--limit", "1", "--similarity", str(sim), "--groups", str(groups),
              "--descriptor", str(desc)]
    # calibration and confusion over the groups' tasks only would need --tasks; all 11 are in similarity
    groups.write_text(json.dumps({**json.loads(groups.read_text()),
                                  "groups": [["sr", "ringing", "gaussian_blur", "motion_blur", "richardson_lucy",
                                              "defocus_blur"],
                                             ["gaussian_noise", "jpeg", "poisson_noise", "inpainting", "salt_pepper"]]}))
    assert main(["grids", "calibrate", *common, "--score", "distance", "--json"]) == 0  # the paper's score
    cal = json.loads(capsys.readouterr().out)
    assert cal["n"] == 11 and json.loads(groups.read_text())["threshold"] == pytest.approx(cal["threshold"])
    assert main(["grids", "confusion", *common, "--ood", "haze", "--json"]) == 0
    conf = json.loads(capsys.readouterr().out)
    assert sum(sum(r.values()) for r in conf["counts"].values()) == 11
    assert conf["ood_rates"]["haze"]["n"] == 1
    assert set(conf["task_accuracy"]) == set(conf["counts"]) and 0 <= conf["mean_task_accuracy"] <= 1
    assert conf["rule"] == "mean"
    # another distance rule: the threshold calibrated with the mean rule does not apply to it
    assert main(["grids", "confusion", *common, "--rule", "nearest", "--ood", "haze"]) == 2
    assert "no OOD threshold for rule 'nearest'" in capsys.readouterr().err
    assert main(["grids", "calibrate", *common, "--rule", "nearest", "--score", "distance", "--json"]) == 0
    cal = json.loads(capsys.readouterr().out)
    saved = json.loads(groups.read_text())
    assert cal["rule"] == saved["rule"] == "nearest" and saved["threshold"] == pytest.approx(cal["threshold"])
    assert main(["grids", "confusion", *common, "--json"]) == 0  # the file's rule now
    conf = json.loads(capsys.readouterr().out)
    assert conf["rule"] == "nearest" and conf["accuracy"] == conf["member_accuracy"]
    img = tmp_path / "in.png"
    from PIL import Image

    Image.fromarray((_photo(9) * 255).astype(np.uint8)).save(img)
    assert main(["grids", "restore", str(img), str(tmp_path / "out.png"), "--similarity", str(sim),
                 "--groups", str(groups), "--descriptor", str(desc), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["model"] in ("grids-g1", "grids-g2")
    assert (tmp_path / "out.png").exists()
    from restorelab.grids import TASKS

    groups.write_text(json.dumps({"groups": [["sr", "ringing"]] + [[t] for t in TASKS if t not in ("sr", "ringing")]}))
    assert main(["grids", "table", "--photos", str(clean_dir), "--limit", "1", "--groups", str(groups), *train,
                 "--json"]) == 0
    table = json.loads(capsys.readouterr().out)
    assert set(table) == {"input", "single-task", "mix-all", "GRIDS"} and len(table["GRIDS"]) == 12


def test_bf16_group_models_train_in_mixed_precision_and_keep_their_own_cache(tmp_path, clean_dir):
    cfg = GroupTrainConfig(**{**_cfg(clean_dir).to_dict(), "precision": "bf16"})
    assert cfg.protocol()["precision"] == "bf16" and "precision" not in _cfg(clean_dir).protocol()
    gm = GroupModels(cfg, tmp_path / "runs")
    assert np.isfinite(gm(("sr", "jpeg")))
    run_cfg = json.loads((tmp_path / "runs" / "sr+jpeg" / "config.json").read_text())
    assert run_cfg["precision"] == "bf16"
    with pytest.raises(RestoreLabError, match="another protocol"):  # float32 measurements are not mixed in
        GroupModels(_cfg(clean_dir), tmp_path / "runs")
    with pytest.raises(RestoreLabError, match="precision"):
        GroupTrainConfig(precision="fp16")
