import json
import subprocess
import sys

import numpy as np
import pytest

from restorelab.cli import main
from restorelab.inference import save_weights
from restorelab.io import load_image, save_png
from restorelab.models import create_model

from conftest import ROOT


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def img(tmp_path):
    p = tmp_path / "a.png"
    save_png(p, np.random.default_rng(0).random((40, 52, 3)))
    return p


def test_models_json_lists_every_registered_model_with_its_family(capsys):
    from restorelab.models import get_preset, preset_names

    code, out, _ = run(capsys, "models", "--json")
    rows = {r["name"]: r for r in json.loads(out)}
    assert code == 0
    assert rows["promptir-paper"]["params"] == 35_592_263
    assert {n: rows[n]["family"] for n in preset_names()} == {n: get_preset(n).family for n in preset_names()}
    assert {"dip-lean", "srresnet-grids", "dncnn-classroom"} <= set(rows)
    assert rows["real-cpu"]["family"] == "promptir" and rows["nlm"]["family"] == "classical"
    code, out, _ = run(capsys, "models")
    assert code == 0 and "dncnn-classroom" in out and out.splitlines()[0].split()[:3] == ["name", "family", "kind"]


def test_metrics_human_and_json(capsys, img, tmp_path):
    b = tmp_path / "b.png"
    save_png(b, np.clip(load_image(img) + 0.02, 0, 1))
    code, out, _ = run(capsys, "metrics", str(img), str(b), "--json")
    res = json.loads(out)
    assert code == 0 and 30 < res["psnr"] < 40 and 0 < res["ssim"] <= 1
    code, out, _ = run(capsys, "metrics", str(img), str(b))
    assert "PSNR" in out and "dB" in out


def test_restore_keeps_size(capsys, img, weights, tmp_path):
    out_path = tmp_path / "out" / "r.png"
    code, out, _ = run(capsys, "restore", str(img), str(out_path), "--model", str(weights), "--json")
    assert code == 0
    assert load_image(out_path).shape == (40, 52, 3)
    res = json.loads(out)
    assert res["width"] == 52
    # it says what it did: noise estimates before/after and the tone change
    assert res["input_noise_sigma"] >= 0 and set(res["tone_change"]) == {"brightness", "color"}
    # and whether the do-no-harm guard kept the network's output (the PNG is the photo itself if not)
    assert isinstance(res["guard"]["kept"], bool) and res["guard"]["sentence"]
    if not res["guard"]["kept"]:
        np.testing.assert_allclose(load_image(out_path), load_image(img), atol=1 / 255)
    code, out, _ = run(capsys, "restore", str(img), str(out_path), "--model", str(weights), "--no-guard", "--json")
    assert code == 0 and json.loads(out)["guard"] is None
    code, out, _ = run(capsys, "restore", str(img), str(out_path), "--model", str(weights))
    assert code == 0 and "do-no-harm guard: " in out
    code, out, _ = run(capsys, "restore", str(img), str(out_path), "--model", "nlm")
    assert code == 0 and "estimated noise σ" in out and "guard" not in out


def test_restore_tiles_large_images(capsys, weights, tmp_path):
    big = tmp_path / "big.png"
    save_png(big, np.random.default_rng(1).random((800, 1000, 3)))
    code, _, _ = run(capsys, "restore", str(big), str(tmp_path / "o.png"), "--model", str(weights),
                     "--tile", "256", "--overlap", "16")
    assert code == 0 and load_image(tmp_path / "o.png").shape == (800, 1000, 3)


@pytest.mark.parametrize("argv, msg", [
    (["metrics", "nope.png", "nope2.png"], "nope.png"),
    (["restore", "IMG", "o.png", "--model", "no-such-model"], "no-such-model"),
    (["eval", "--model", "x", "--set", "NoSuchSet"], "NoSuchSet"),
])
def test_errors_are_one_line_with_exit_2(capsys, img, argv, msg):
    argv = [str(img) if a == "IMG" else a for a in argv]
    code, _, err = run(capsys, *argv)
    assert code == 2
    assert err.startswith("error: ") and msg in err and err.count("\n") == 1


def test_non_image_input(capsys, tmp_path, weights):
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not an image at all")
    code, _, err = run(capsys, "restore", str(bad), str(tmp_path / "o.png"), "--model", str(weights))
    assert code == 2 and "bad.png" in err


def test_python_dash_m_entry_point(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "restorelab", "metrics", "x.png", "y.png"], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr


def test_eval_on_real_data(capsys, data_root, weights):
    code, out, _ = run(capsys, "eval", "--model", str(weights), "--set", "SOTS-outdoor-2",
                       "--data-dir", str(data_root), "--json")
    res = json.loads(out)
    assert code == 0 and res["n"] == 2 and np.isfinite(res["psnr"])
    code, out, _ = run(capsys, "eval", "--model", "-", "--set", "CBSD68-s25", "--baseline", "input",
                       "--data-dir", str(data_root), "--limit", "2", "--json")
    res = json.loads(out)
    assert 20.0 < res["psnr"] < 21.0  # noisy input at sigma 25 is ~20.2 dB
    for n, tail in (("8", "x8 self-ensemble"), ("4", "x4 self-ensemble (flips and half turn)")):
        code, out, _ = run(capsys, "eval", "--model", str(weights), "--set", "SOTS-outdoor-2", "--self-ensemble", n,
                           "--data-dir", str(data_root), "--limit", "1", "--json")
        res = json.loads(out)
        assert code == 0 and res["self_ensemble"] == int(n) and res["protocol"].endswith(tail)


def test_self_ensemble_is_refused_for_baselines(capsys):
    code, _, err = run(capsys, "eval", "--model", "-", "--set", "CBSD68-s25", "--baseline", "input",
                       "--self-ensemble", "8")
    assert code != 0 and "self-ensemble" in err and "Traceback" not in err


@pytest.mark.parametrize("n", ["2", "x8", ""])
def test_self_ensemble_sizes_are_checked(capsys, img, weights, tmp_path, n):
    with pytest.raises(SystemExit) as e:  # argparse: usage + one line, exit 2
        main(["restore", str(img), str(tmp_path / "o.png"), "--model", str(weights), "--self-ensemble", n])
    assert e.value.code == 2 and "self-ensemble" in capsys.readouterr().err


def test_restore_self_ensemble(capsys, img, weights, tmp_path):
    code, out, _ = run(capsys, "restore", str(img), str(tmp_path / "o.png"), "--model", str(weights),
                       "--self-ensemble", "4", "--json")
    assert code == 0 and json.loads(out)["self_ensemble"] == 4
    assert load_image(tmp_path / "o.png").shape == load_image(img).shape


def test_compare_table_dense_and_pruned(capsys, data_root, tmp_path, monkeypatch):
    from restorelab.inference.compact import save_compact
    from restorelab.models import count_params
    from restorelab.pruning import apply_masks, ones_masks, prune

    monkeypatch.setenv("RESTORELAB_WEIGHTS_DIR", str(tmp_path))
    dense = create_model("promptir-test")
    save_weights(dense, tmp_path / "d.safetensors")
    total = count_params(dense)[0]
    (tmp_path / "d.json").write_text(json.dumps({"preset": "promptir-test", "params": total, "nonzero_params": total}))
    masks = prune("layerwise", dict(dense.named_parameters()), ones_masks(dense), 0.9)
    apply_masks(dense, masks)
    save_compact(dense, masks, tmp_path / "p.safetensors")
    nz = int(sum(int((p != 0).sum()) for p in dense.parameters()))
    (tmp_path / "p.json").write_text(json.dumps({"preset": "promptir-test", "params": total, "nonzero_params": nz,
                                                 "kind": "pruned", "strategy": "layerwise"}))
    code, out, _ = run(capsys, "compare", "--models", "d,p", "--sets", "SOTS-outdoor-2", "--data-dir",
                       str(data_root), "--size", "32", "--repeats", "1", "--limit", "1", "--json")
    table = json.loads(out)
    d, p = table["rows"]
    assert code == 0 and (d["model"], p["model"]) == ("d", "p") and p["kind"] == "pruned"
    assert p["file_bytes"] < 0.3 * d["file_bytes"] and p["sparsity"] > 0.8 and d["sparsity"] == 0
    assert d["sets"]["SOTS-outdoor-2"]["n"] == 1 == table["limit"] and d["seconds"] > 0 and p["seconds"] > 0
    assert abs(d["mean_psnr"] - d["sets"]["SOTS-outdoor-2"]["psnr"]) <= 0.005  # one set: its own PSNR (3 decimals)
    code, out, _ = run(capsys, "compare", "--models", "d,p", "--sets", "SOTS-outdoor-2", "--data-dir",
                       str(data_root), "--size", "32", "--repeats", "1")
    assert code == 0 and "| `p` |" in out and "sparse" in out and "first" not in out and "mean PSNR" in out
    code, out, _ = run(capsys, "compare", "--models", "d,p", "--sets", "SOTS-outdoor-2", "--data-dir",
                       str(data_root), "--size", "32", "--repeats", "1", "--limit", "1", "--save-cards", "--json")
    assert code == 0 and json.loads(out)["cards_updated"] == ["p"]  # the dense card keeps its own report
    res = json.loads((tmp_path / "p.json").read_text())["results"]
    assert res["command"].startswith("python -m restorelab compare --models d,p") and res["limit"] == 1
    assert res["sets"]["SOTS-outdoor-2"]["n"] == 1 and res["seconds_32"] > 0
    assert "results" not in json.loads((tmp_path / "d.json").read_text())


# -- every flag has help text; boolean flags refuse typos ------------------------------------------
def _commands(parser, path=()):
    """(command path, its parser) for every (sub-)command of ``parser``, nested ones included."""
    import argparse

    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield (*path, name), sub
                yield from _commands(sub, (*path, name))


def _command_paths():
    from restorelab.cli import build_parser

    return [" ".join(path) for path, _ in _commands(build_parser())]


@pytest.mark.parametrize("command", _command_paths())
def test_every_flag_has_help(command):
    import argparse

    from restorelab.cli import build_parser

    sub = dict(_commands(build_parser()))[tuple(command.split())]
    missing = [a.option_strings[0] if a.option_strings else a.dest for a in sub._actions
               if not isinstance(a, (argparse._HelpAction, argparse._SubParsersAction)) and a.help != argparse.SUPPRESS
               and not (a.help or "").strip()]
    assert not missing, f"`restorelab {command}`: no help text for {', '.join(missing)}"


def test_config_flags_take_their_help_from_the_dataclass(capsys):
    from dataclasses import fields

    from restorelab.training import TrainConfig

    with pytest.raises(SystemExit):
        main(["train", "--help"])
    out = capsys.readouterr().out
    assert all(f.metadata["help"] for f in fields(TrainConfig))
    assert "model preset to train" in out and "(default: promptir-cpu)" in out and "(default: true)" in out


@pytest.mark.parametrize("word, value", [("true", True), ("TRUE", True), ("Yes", True), ("1", True), ("on", True),
                                         ("false", False), ("No", False), ("0", False), ("OFF", False)])
def test_parse_bool_accepts(word, value):
    from restorelab.training.config import parse_bool

    assert parse_bool(word) is value


@pytest.mark.parametrize("word", ["ture", "flase", "y", "n", "2", "", "truee", "enable"])
def test_parse_bool_refuses_typos(word):
    import argparse

    from restorelab.training.config import parse_bool

    with pytest.raises(argparse.ArgumentTypeError, match="true/false"):
        parse_bool(word)


@pytest.mark.parametrize("argv, flag", [
    (["train", "--run-dir", "r", "--compile", "ture"], "--compile"),
    (["prune", "--run-dir", "r", "--rewind-all", "flase"], "--rewind-all"),
    (["grids", "search", "--prune-levels", "nope"], "--prune-levels"),
    (["grids", "similarity", "--augment", "yess"], "--augment"),
])
def test_bool_flag_typos_are_usage_errors(capsys, argv, flag):
    with pytest.raises(SystemExit) as e:
        main(argv)
    err = capsys.readouterr().err
    assert e.value.code == 2 and flag in err and "true/false" in err and "Traceback" not in err
