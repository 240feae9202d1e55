"""``eval --dir`` and ``restore`` of a folder, on tiny images written to tmp_path (seconds)."""

import json

import numpy as np
import pytest

from restorelab.cli import main
from restorelab.io import load_image, save_png
from restorelab.lottery.toydata import toy_images
from restorelab.metrics import psnr


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def clean_dir(tmp_path_factory):
    """Three clean 40x40 photos (a PNG, a JPEG, a PNG) and a non-image file that is ignored."""
    d = tmp_path_factory.mktemp("clean")
    imgs = toy_images(3, 40, seed=3)
    save_png(d / "a.png", imgs[0])
    from PIL import Image

    Image.fromarray((imgs[1] * 255).round().astype(np.uint8)).save(d / "b.jpg", quality=95)
    save_png(d / "c.png", imgs[2])
    (d / "notes.txt").write_text("not an image")
    return d


@pytest.fixture(scope="module")
def paired_dir(tmp_path_factory):
    """input/ (noisy) + target/ (clean) with matching file names."""
    d = tmp_path_factory.mktemp("paired")
    rng = np.random.default_rng(5)
    for i, img in enumerate(toy_images(2, 32, seed=8)):
        save_png(d / "target" / f"p{i}.png", img)
        save_png(d / "input" / f"p{i}.png", np.clip(img + rng.normal(0, 0.08, img.shape), 0, 1))
    return d


# -- eval --dir ------------------------------------------------------------------------------------
def test_eval_clean_folder_with_sigma_is_seeded_and_scores_each_image(capsys, clean_dir):
    code, out, _ = run(capsys, "eval", "--model", "nlm", "--dir", clean_dir, "--sigma", 25, "--json")
    res = json.loads(out)
    assert code == 0 and res["n"] == 3 and [r["name"] for r in res["images"]] == ["a", "b", "c"]
    assert res["sigma"] == 25 and res["seed"] == 0 and res["task"] == "denoise_25" and "σ 25" in res["protocol"]
    assert res["model"] == "nlm" and np.isfinite(res["psnr"]) and 0 < res["ssim"] <= 1
    again = json.loads(run(capsys, "eval", "--model", "nlm", "--dir", clean_dir, "--sigma", 25, "--json")[1])
    assert [r["psnr"] for r in again["images"]] == [r["psnr"] for r in res["images"]]  # the same noise every run
    noisy = json.loads(run(capsys, "eval", "--model", "-", "--baseline", "input", "--dir", clean_dir, "--sigma", 25,
                           "--json")[1])
    assert 19.5 < noisy["psnr"] < 21.5  # σ 25 noise: ~20.2 dB
    assert res["psnr"] > noisy["psnr"] + 3  # NLM denoises
    other = json.loads(run(capsys, "eval", "--model", "-", "--baseline", "input", "--dir", clean_dir, "--sigma", 25,
                           "--seed", 1, "--json")[1])
    assert other["images"][0]["psnr"] != noisy["images"][0]["psnr"]


def test_eval_folder_with_a_network_human_output(capsys, clean_dir, weights):
    code, out, _ = run(capsys, "eval", "--model", weights, "--dir", clean_dir, "--sigma", 15, "--limit", 2)
    assert code == 0 and f"on {clean_dir}" in out and "mean (2 images)" in out and "PSNR" in out


def test_eval_folder_is_the_set_protocol(capsys, data_root):
    """``--dir CBSD68 --sigma 25`` sees exactly the inputs of ``--set CBSD68-s25``."""
    cbsd = data_root / "test" / "denoise" / "CBSD68"
    a = json.loads(run(capsys, "eval", "--model", "-", "--baseline", "input", "--set", "CBSD68-s25", "--data-dir",
                       data_root, "--limit", 2, "--json")[1])
    b = json.loads(run(capsys, "eval", "--model", "-", "--baseline", "input", "--dir", cbsd, "--sigma", 25,
                       "--limit", 2, "--json")[1])
    assert a["images"] == b["images"]


def test_eval_paired_folder(capsys, paired_dir, weights):
    code, out, _ = run(capsys, "eval", "--model", "-", "--baseline", "input", "--dir", paired_dir, "--json")
    res = json.loads(out)
    assert code == 0 and res["n"] == 2 and res["task"] == "paired" and res["sigma"] is None
    want = psnr(load_image(paired_dir / "input" / "p0.png"), load_image(paired_dir / "target" / "p0.png"))
    assert res["images"][0]["psnr"] == pytest.approx(want)
    for model in ("nlm", weights):
        code, out, _ = run(capsys, "eval", "--model", model, "--dir", paired_dir, "--json")
        assert code == 0 and np.isfinite(json.loads(out)["psnr"])


def test_eval_paired_mismatch_lists_the_names(capsys, tmp_path):
    img = toy_images(1, 16, seed=1)[0]
    for side, names in (("input", ["x1", "x2", "only_in"]), ("target", ["x1", "x2"])):
        for n in names:
            save_png(tmp_path / side / f"{n}.png", img)
    code, _, err = run(capsys, "eval", "--model", "nlm", "--dir", tmp_path)
    assert code == 2 and "without a matching target" in err and "only_in.png" in err
    (tmp_path / "input" / "only_in.png").unlink()
    save_png(tmp_path / "target" / "stray.png", img)
    code, _, err = run(capsys, "eval", "--model", "nlm", "--dir", tmp_path)
    assert code == 2 and "without a matching input" in err and "stray.png" in err


def _bad_image_dir(tmp_path):
    save_png(tmp_path / "good.png", toy_images(1, 16, seed=1)[0])
    (tmp_path / "broken.png").write_bytes(b"not a png")
    return tmp_path


@pytest.mark.parametrize("argv, msg", [
    (["--dir", "{tmp}/missing", "--sigma", "25"], "not found"),
    (["--dir", "{tmp}/missing"], "not found"),
    (["--dir", "{empty}", "--sigma", "25"], "no images"),
    (["--dir", "{bad}", "--sigma", "25"], "broken.png"),
    (["--dir", "{clean}"], "--sigma"),  # clean images but no pairs: says how to score them
    (["--dir", "{paired}", "--sigma", "25"], "paired folder"),
    (["--dir", "{clean}", "--sigma", "300"], "sigma"),
    (["--set", "CBSD68-s25", "--sigma", "25"], "--dir"),
])
def test_eval_folder_errors_are_one_line(capsys, tmp_path, clean_dir, paired_dir, argv, msg):
    (tmp_path / "empty").mkdir()
    (tmp_path / "bad").mkdir()
    fill = {"tmp": tmp_path, "empty": tmp_path / "empty", "bad": _bad_image_dir(tmp_path / "bad"),
            "clean": clean_dir, "paired": paired_dir}
    code, _, err = run(capsys, "eval", "--model", "nlm", "--json", *[a.format(**fill) for a in argv])
    assert code == 2 and err.startswith("error: ") and msg in err and err.count("\n") == 1, err


def test_eval_takes_a_set_or_a_dir_not_both(capsys, clean_dir):
    for argv in ([], ["--set", "CBSD68-s25", "--dir", str(clean_dir)]):
        with pytest.raises(SystemExit) as e:
            main(["eval", "--model", "nlm", *argv])
        assert e.value.code == 2 and "--dir" in capsys.readouterr().err


# -- restore of a folder ----------------------------------------------------------------------------
def test_restore_folder_writes_every_image_under_its_name(capsys, clean_dir, weights, tmp_path):
    out_dir = tmp_path / "out"
    code, out, _ = run(capsys, "restore", clean_dir, out_dir, "--model", weights, "--json")
    res = json.loads(out)
    assert code == 0 and res["n"] == 3
    assert sorted(p.name for p in out_dir.iterdir()) == ["a.png", "b.png", "c.png"]  # b.jpg -> b.png (lossless)
    for name in ("a", "c"):
        assert load_image(out_dir / f"{name}.png").shape == load_image(clean_dir / f"{name}.png").shape
    assert [r["output"] for r in res["images"]] == [str(out_dir / n) for n in ("a.png", "b.png", "c.png")]
    code, out, _ = run(capsys, "restore", clean_dir, out_dir, "--model", "nlm")
    assert code == 0 and "a.png" in out and "restored 3 images" in out


def test_restore_folder_errors(capsys, tmp_path, clean_dir):
    (tmp_path / "empty").mkdir()
    code, _, err = run(capsys, "restore", tmp_path / "empty", tmp_path / "o", "--model", "nlm")
    assert code == 2 and "no images" in err
    code, _, err = run(capsys, "restore", clean_dir, clean_dir, "--model", "nlm")
    assert code == 2 and "differ" in err
    (tmp_path / "file.png").write_bytes(b"x")
    code, _, err = run(capsys, "restore", clean_dir, tmp_path / "file.png", "--model", "nlm")
    assert code == 2 and "output folder" in err
    clash = tmp_path / "clash"
    save_png(clash / "x.png", toy_images(1, 16)[0])
    save_png(clash / "x.bmp", toy_images(1, 16)[0])
    code, _, err = run(capsys, "restore", clash, tmp_path / "o2", "--model", "nlm")
    assert code == 2 and "x.png" in err and not (tmp_path / "o2").exists()
    bad = _bad_image_dir(tmp_path / "bad")
    code, _, err = run(capsys, "restore", bad, tmp_path / "o3", "--model", "nlm")
    assert code == 2 and "broken.png" in err and "Traceback" not in err
