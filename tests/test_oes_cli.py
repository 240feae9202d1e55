"""OES mask files (bit-packed, with provenance), mask transfer and the ``oes`` CLI, on tiny images."""

import argparse
import json

import numpy as np
import pytest
import torch

from restorelab.errors import RestoreLabError
from restorelab.io import save_png
from restorelab.lottery.toydata import toy_images
from restorelab.oes.cli import add_parser
from restorelab.models.dip import build_generator, get_config
from restorelab.oes.mask import random_mask
from restorelab.oes.maskfile import load_mask, mask_name, resolve_mask, save_mask
from restorelab.oes.sparse_dip import MaskPlan, run


def cli(capsys, *argv):
    p = argparse.ArgumentParser()
    add_parser(p.add_subparsers(dest="command", required=True))
    args = p.parse_args(["oes", *[str(a) for a in argv]])
    args.fn(args)
    return capsys.readouterr().out


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    d = tmp_path_factory.mktemp("img")
    for i, img in enumerate(toy_images(2, 40, seed=7)):
        save_png(d / f"img{i}.png", img[:37, :31])
    return d


def test_mask_file_round_trip_is_bit_exact_with_metadata(tmp_path):
    net = build_generator("tiny", seed=3)
    masks = random_mask(net, 0.07, seed=1)
    path = tmp_path / "m.safetensors"
    save_mask(masks, path, preset="tiny", generator=get_config("tiny").to_dict(), seed=3, source="toy",
              extra={"learn": {"steps": 5}})
    back, meta = load_mask(path)
    assert list(back) == list(masks) and all(torch.equal(back[n], masks[n]) for n in masks)
    assert (meta["preset"], meta["seed"], meta["source"]) == ("tiny", 3, "toy")
    assert meta["kept"] == int(sum(m.sum() for m in masks.values())) and json.loads(meta["learn"]) == {"steps": 5}
    assert path.stat().st_size < 2000  # ~1 bit per weight: 9.5k weights -> 1.2 kB + header


def test_resolve_mask_errors_list_what_is_shipped(tmp_path):
    with pytest.raises(RestoreLabError, match="available"):
        resolve_mask("oes-nope-d05", weights_dir=tmp_path)
    with pytest.raises(RestoreLabError, match="not found"):
        resolve_mask(str(tmp_path / "missing.safetensors"))
    assert mask_name("lean", 0.05) == "oes-lean-d05"


def test_transfer_rebuilds_the_mask_files_init_and_refuses_a_wrong_preset(tmp_path, images, capsys):
    from restorelab.io import load_image

    mask = tmp_path / "m.safetensors"
    out = json.loads(cli(capsys, "learn-mask", images / "img0.png", "--sigma", 25, "--preset", "tiny", "--density",
                         0.2, "--steps", 5, "--seed", 4, "--out", mask, "--json"))
    assert out["density"] == pytest.approx(0.2, abs=1e-3) and mask.with_suffix(".json").exists()
    assert out["scope"] == "all" and len(load_mask(mask)[0]) == len(list(build_generator("tiny").parameters()))
    noisy = load_image(images / "img1.png")
    a = run(noisy, MaskPlan(spec=f"transfer:{mask}"), steps=3)
    b = run(noisy, MaskPlan(spec="random", preset="tiny", density=0.2, seed=4), steps=0)
    assert a.info["init_seed"] == 4 and a.info["preset"] == "tiny" and a.density == pytest.approx(0.2, abs=1e-3)
    assert run(noisy, MaskPlan(spec=f"transfer:{mask}", init_seed=9), steps=1).info["init_seed"] == 9
    assert b.image.shape == a.image.shape == noisy.shape
    with pytest.raises(RestoreLabError, match="preset"):
        run(noisy, MaskPlan(spec=f"transfer:{mask}", preset="lean"), steps=1)
    with pytest.raises(RestoreLabError, match="density"):
        run(noisy, MaskPlan(spec=f"transfer:{mask}", density=0.05), steps=1)


def test_denoise_cli_writes_the_image_and_reports_psnr(tmp_path, images, capsys):
    out = tmp_path / "den.png"
    s = json.loads(cli(capsys, "denoise", images / "img0.png", "--add-noise", 25, "--preset", "tiny", "--mask",
                       "random", "--density", 0.3, "--steps", 5, "--out", out, "--json"))
    assert out.exists() and s["steps"] == 5 and np.isfinite(s["final_psnr"])
    assert s["density"] == pytest.approx(0.3, 1e-2) and s["added_noise"] == 25
    assert s["input_noise_sigma"] > 15  # estimated from the noisy input it fitted (σ 25 added)
    text = cli(capsys, "compare", images / "img0.png", "--add-noise", 25, "--preset", "tiny", "--density", 0.3,
               "--steps", 3, "--methods", "random,magnitude,dense")
    assert [line.split()[0] for line in text.splitlines()] == ["random", "magnitude", "dense"]


@pytest.mark.parametrize("argv, match", [
    (["denoise", "missing.png", "--preset", "tiny"], "not found"),
    (["denoise", "{img}", "--density", "0"], "density"),
    (["denoise", "{img}", "--density", "1.5"], "density"),
    (["denoise", "{img}", "--mask", "magic"], "unknown mask"),
    (["denoise", "{img}", "--steps", "0"], "steps"),
    (["denoise", "{img}", "--add-noise", "25", "--clean", "{img}"], "not both"),
    (["denoise", "{img}", "--sigma", "25"], "--add-noise 25"),  # a noise level never silently adds noise
    (["learn-mask", "{img}", "--density", "-0.1", "--out", "m.safetensors"], "density"),
    (["compare", "{img}", "--methods", "dense,magic"], "unknown mask"),
])
def test_cli_errors_are_one_line_restorelab_errors(argv, match, images, capsys):
    with pytest.raises(RestoreLabError, match=match):
        cli(capsys, *[a.format(img=images / "img0.png") for a in argv])


def test_denoise_takes_the_image_as_already_noisy(tmp_path, images, capsys):
    from restorelab.io import load_image

    noisy_out = tmp_path / "noisy.png"
    s = json.loads(cli(capsys, "denoise", images / "img0.png", "--preset", "tiny", "--mask", "dense", "--steps", 1,
                       "--noisy-out", noisy_out, "--json"))
    assert np.array_equal(load_image(noisy_out), load_image(images / "img0.png"))  # no noise added
    assert s["added_noise"] is None and "final_psnr" not in s  # no clean reference: no PSNR
    assert 0 <= s["input_noise_sigma"] < 10  # a smooth toy image: little noise estimated
    text = cli(capsys, "denoise", images / "img0.png", "--preset", "tiny", "--mask", "dense", "--steps", 1)
    assert "input noise σ ≈" in text


def test_learn_mask_and_compare_keep_sigma_as_add_noise(tmp_path, images, capsys):
    """The shipped masks' recorded commands say ``learn-mask … --sigma 25``: it still adds noise there."""
    a = json.loads(cli(capsys, "compare", images / "img0.png", "--sigma", 25, "--preset", "tiny", "--density", 0.3,
                       "--steps", 2, "--methods", "dense", "--json"))
    b = json.loads(cli(capsys, "compare", images / "img0.png", "--add-noise", 25, "--preset", "tiny", "--density",
                       0.3, "--steps", 2, "--methods", "dense", "--json"))
    assert a["sigma"] == b["sigma"] == 25
    assert a["results"][0]["final_psnr"] == pytest.approx(b["results"][0]["final_psnr"], abs=1e-4)


def test_cli_refuses_a_non_image(tmp_path, capsys):
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not an image")
    with pytest.raises(RestoreLabError, match="bad.png"):
        cli(capsys, "denoise", bad, "--preset", "tiny", "--mask", "dense", "--steps", 1)


def test_shipped_masks_fit_their_preset_and_have_a_card():
    from restorelab.oes.maskfile import shipped_masks
    from restorelab.oes.mask import check_masks
    from restorelab.pruning import density_of
    from restorelab.paths import default_weights_dir

    names = shipped_masks()
    if not names:
        pytest.skip("no shipped OES mask in weights/")
    for name in names:
        masks, meta = load_mask(resolve_mask(name))
        check_masks(build_generator(meta["preset"], seed=meta["seed"]), masks)
        assert density_of(masks) == pytest.approx(meta["density"])
        assert name.startswith(mask_name(meta["preset"], meta["density"]))
        card = json.loads((default_weights_dir() / f"{name}.json").read_text())
        assert card["kind"] == "oes-mask" and card["command"]
