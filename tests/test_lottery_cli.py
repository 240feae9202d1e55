"""``prune`` and ``export`` end to end on promptir-test with a folder of tiny generated photos."""

import argparse
import json

import pytest
import torch

from restorelab.errors import RestoreLabError
from restorelab.inference.weights import load_state
from restorelab.io import save_png
from restorelab.lottery.cli import add_parser
from restorelab.lottery.compact import load_compact
from restorelab.lottery.toydata import toy_images

TRAIN_FLAGS = ["--model", "promptir-test", "--tasks", "denoise_25", "--val-count", "1", "--patch-size", "16",
               "--batch-size", "2", "--steps", "3", "--warmup-steps", "1", "--val-size", "32", "--threads", "1"]


def cli(capsys, *argv):
    p = argparse.ArgumentParser()
    add_parser(p.add_subparsers(dest="command", required=True))
    args = p.parse_args([str(a) for a in argv])
    args.fn(args)
    return capsys.readouterr().out


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("clean")
    for i, img in enumerate(toy_images(3, 40, seed=4)):
        save_png(d / f"img{i}.png", img)
    return d


@pytest.fixture(scope="module")
def imp_run(tmp_path_factory, data_dir):
    d = tmp_path_factory.mktemp("prune") / "g"
    p = argparse.ArgumentParser()
    add_parser(p.add_subparsers(dest="command", required=True))
    args = p.parse_args(["prune", "--strategy", "global", "--rate", "0.5", "--target", "0.7", "--target-over",
                         "prunable", "--steps-per-round", "2", "--run-dir", str(d), "--data-dir", str(data_dir),
                         "--json", *TRAIN_FLAGS])
    args.fn(args)
    return d


def test_prune_json_per_round_and_resume_prints_all(capsys, imp_run, data_dir):
    out = cli(capsys, "prune", "--strategy", "global", "--rate", "0.5", "--target", "0.7", "--target-over",
              "prunable", "--steps-per-round", "2", "--run-dir", imp_run, "--data-dir", data_dir, "--json",
              *TRAIN_FLAGS)
    recs = [json.loads(line) for line in out.splitlines()]
    assert [r["round"] for r in recs] == [0, 1, 2]
    assert recs[-1]["prunable_sparsity"] == pytest.approx(0.75, abs=1e-4) and "layers" not in recs[-1]
    human = cli(capsys, "prune", "--strategy", "global", "--rate", "0.5", "--target", "0.7", "--target-over",
                "prunable", "--steps-per-round", "2", "--run-dir", imp_run, "--data-dir", data_dir, *TRAIN_FLAGS)
    assert "round  2" in human and "val PSNR" in human


def test_stop_after_then_resume(capsys, tmp_path, data_dir):
    flags = ["prune", "--strategy", "layerwise", "--rate", "0.5", "--rounds", "1", "--steps-per-round", "2",
             "--run-dir", tmp_path / "lw", "--data-dir", data_dir, "--json", *TRAIN_FLAGS]
    out = cli(capsys, *flags, "--stop-after", "2")
    assert json.loads(out.splitlines()[-1]) == {"stopped": True, "run_dir": str(tmp_path / "lw")}
    recs = [json.loads(line) for line in cli(capsys, *flags).splitlines()]
    assert [r["round"] for r in recs] == [0, 1]


def test_baselines_from_the_cli(capsys, tmp_path, imp_run, data_dir):
    out = cli(capsys, "prune", "--strategy", "oneshot-random", "--amount", "0.3", "--dense-run", imp_run,
              "--run-dir", tmp_path / "osr", "--json")
    rec = json.loads(out)
    assert rec["name"] == "PIR-OSR I" and rec["prunable_sparsity"] == pytest.approx(0.3, abs=1e-4)
    rec = json.loads(cli(capsys, "prune", "--strategy", "reinit", "--ticket-run", imp_run,
                         "--run-dir", tmp_path / "re", "--json"))
    assert rec["kind"] == "reinit" and rec["ticket_round"] == 2
    with pytest.raises(RestoreLabError, match="--dense-run"):
        cli(capsys, "prune", "--strategy", "oneshot-magnitude", "--run-dir", tmp_path / "x")


def test_export_compact_and_card(capsys, tmp_path, imp_run):
    card = json.loads(cli(capsys, "export", "--run-dir", imp_run, "--name", "mirl-test", "--weights-dir",
                          tmp_path, "--json"))
    assert card["kind"] == "pruned" and card["preset"] == "promptir-test" and card["rounds"] == 2
    assert card["strategy"] == "global" and card["tasks"] == ["denoise_25"]
    on_disk = json.loads((tmp_path / "mirl-test.json").read_text())
    assert on_disk["nonzero_params"] == card["nonzero_params"] and len(on_disk["layers"]) > 0
    model = load_compact(tmp_path / "mirl-test.safetensors")
    final = load_state(imp_run / "round_02" / "final.safetensors")
    assert all(torch.equal(v, final[n]) for n, v in model.state_dict().items())
    dense_card = json.loads(cli(capsys, "export", "--run-dir", imp_run, "--round", "0", "--name", "d",
                                "--weights-dir", tmp_path, "--json"))
    assert dense_card["sparsity"] == 0 and dense_card["rounds"] == 0
