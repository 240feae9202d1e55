"""The OES tab: ``/oes_denoise`` driven through ``gradio_client`` on the launched app, and its pieces.

Fast by construction: the ``tiny`` generator on 32–48 px crops for a few steps. The temp weights
folder holds a tiny-preset mask (``oes-tiny-d10``) so the transfer path runs in a blink too, plus a
copy of the shipped lean mask when the repository has it (read, never written).
"""

from __future__ import annotations

import io
import math
import shutil
import time
from pathlib import Path

import gradio as gr
import numpy as np
import pytest
from gradio_client import handle_file
from PIL import Image

from apphelpers import app_environment
from restorelab.errors import RestoreLabError
from restorelab.ui import oes_tab

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "examples" / "chelsea.jpg"
SHIPPED = REPO / "weights" / "oes-lean-d05.safetensors"

@pytest.fixture(scope="module")
def weights_dir(tmp_path_factory):
    from restorelab.models.dip import build_generator, get_config
    from restorelab.oes.maskfile import save_mask
    from restorelab.oes.mask import random_mask

    d = tmp_path_factory.mktemp("weights")
    save_mask(random_mask(build_generator("tiny", seed=0), 0.1, seed=1), d / "oes-tiny-d10.safetensors",
              preset="tiny", generator=get_config("tiny").to_dict(), seed=0, source="tests")
    if SHIPPED.is_file():
        for suffix in (".safetensors", ".json"):
            if SHIPPED.with_suffix(suffix).is_file():
                shutil.copy(SHIPPED.with_suffix(suffix), d / SHIPPED.with_suffix(suffix).name)
    return d


@pytest.fixture(scope="module")
def app_env(weights_dir):
    with app_environment(weights_dir) as mp:
        yield mp




def args(photo=EXAMPLE, sigma=25, mask="random", density=0.1, steps=10, dense=False, size=48, learn_steps=10,
         preset="tiny", seed=0, replay=True) -> tuple:
    return (handle_file(str(photo)), sigma, mask, density, steps, dense, size, learn_steps, preset, seed, replay)


def expect_error(client, *needles, **kw) -> str:
    with pytest.raises(Exception) as info:
        client.predict(*args(**kw), api_name="/oes_denoise")
    msg = str(info.value)
    assert "Traceback" not in msg and "\n" not in msg.strip(), msg
    for n in needles:
        assert n in msg, msg
    return msg


def png(path, size) -> np.ndarray:
    with Image.open(path) as im:
        assert im.format == "PNG" and im.mode == "RGB" and im.size == size
        return np.asarray(im)


# -- through the launched app --------------------------------------------------------------------------
def test_endpoint_is_public_and_listed(client):
    eps = client.view_api(return_format="dict", print_info=False)["named_endpoints"]
    assert "/oes_denoise" in eps
    names = [p["parameter_name"] for p in eps["/oes_denoise"]["parameters"]]
    assert names == ["photo", "sigma", "mask", "density", "steps", "dense", "size", "learn_steps", "preset",
                     "seed", "replay"]


def test_oes_denoise_streams_pngs_and_a_figure(client):
    job = client.submit(*args(dense=True, steps=10, size=48), api_name="/oes_denoise")
    noisy, dense, sparse, fig, status, d = job.result(timeout=120)
    streamed = job.outputs()
    assert len(streamed) >= 3  # the start, then a snapshot every step for 10 steps
    # The final yield holds the final images: lossless PNGs of the 48² centre crop.
    noisy_px, sparse_px = png(noisy, (48, 48)), png(sparse, (48, 48))
    png(dense, (48, 48))
    assert not np.array_equal(noisy_px, sparse_px)
    assert d["done"] and d["step"] == d["steps"] == 10 and d["phase"] == "fit"
    assert (d["width"], d["height"], d["cropped"]) == (48, 48, True)
    assert (d["original_width"], d["original_height"]) == Image.open(EXAMPLE).size
    assert d["mask"]["preset"] == "tiny" and abs(d["mask"]["density"] - 0.1) < 0.01
    for fit in (d["sparse"], d["dense"]):
        assert math.isfinite(fit["psnr"]) and fit["peak_psnr"] >= fit["psnr"] and 1 <= fit["peak_step"] <= 10
    assert 19.0 < d["input_psnr"] < 21.5  # σ 25
    assert "Step 10 / 10" in status and "Sparse-DIP" in status and "dense DIP" in status
    assert fig["type"] == "plotly"
    import json

    traces = {t["name"]: t for t in json.loads(fig["plot"])["data"]}
    assert set(traces) == {"Sparse-DIP", "dense DIP", "noisy input"}
    assert len(traces["Sparse-DIP"]["y"]) == 10


def test_shipped_mask_is_transferred(client):
    noisy, dense, sparse, _, status, d = client.predict(*args(mask="transfer:oes-tiny-d10", preset="auto",
                                                              steps=10, size=32), api_name="/oes_denoise")
    assert dense is None and d["dense"] is None  # dense DIP not asked for
    png(sparse, (32, 32))
    assert d["mask"]["source"] == "transfer:oes-tiny-d10" and d["mask"]["preset"] == "tiny"
    assert "oes-tiny-d10" in status and "transferred" in status


def test_bad_uploads_are_one_line_errors(client, tmp_path):
    text = tmp_path / "notes.png"
    text.write_text("this is not an image\n" * 20)
    expect_error(client, "notes.png", photo=text)
    buf = io.BytesIO()
    Image.open(EXAMPLE).convert("RGB").save(buf, format="PNG")
    cut = tmp_path / "cut.png"
    cut.write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
    expect_error(client, "cut.png", photo=cut)
    huge = tmp_path / "huge.png"
    Image.new("L", (4100, 4100)).save(huge)  # 16.8 MP: refused from the header
    expect_error(client, "huge.png", "more than the limit", photo=huge)


def test_bad_settings_are_one_line_errors(client):
    expect_error(client, "100", sigma=1000)  # the slider's own bounds
    expect_error(client, "0.5", density=0.9)
    # The dropdowns refuse values outside their choices (and list them) before the handler runs.
    expect_error(client, "imp", "not in the list of choices", "transfer:oes-tiny-d10", mask="imp")
    expect_error(client, "transfer:nope", "not in the list of choices", mask="transfer:nope")
    expect_error(client, "is for preset 'tiny', not 'lean'", mask="transfer:oes-tiny-d10", preset="lean")
    # …and the endpoint still works afterwards.
    *_, d = client.predict(*args(steps=10, size=32), api_name="/oes_denoise")
    assert d["done"]


def test_cancel_frees_the_long_job_slot(client):
    """A cancelled long run stops at its next snapshot: a short run submitted after it (same
    one-slot long-job queue) finishes long before the long run would have."""
    long = client.submit(*args(steps=3000, size=64), api_name="/oes_denoise")
    t0 = time.monotonic()
    while len(long.outputs()) < 2 and time.monotonic() - t0 < 60:
        time.sleep(0.1)
    assert len(long.outputs()) >= 2, "the long run did not stream"
    long.cancel()
    t1 = time.monotonic()
    *_, d = client.predict(*args(steps=10, size=32), api_name="/oes_denoise")
    assert d["done"] and time.monotonic() - t1 < 15


# -- the pieces, without the server ---------------------------------------------------------------------
def test_parse_request_defaults_match_the_benchmarked_path(app_env):
    from restorelab.oes.live import LiveConfig

    req = oes_tab.parse_request()
    assert req.steps == LiveConfig().steps == oes_tab.DEFAULT_STEPS and req.size == 128
    assert req.dense and LiveConfig().dense  # dense DIP beside Sparse-DIP by default: its overfitting is the point
    assert req.sigma == 25 and req.preset is None and req.every == 25
    assert req.mask == ("transfer:oes-lean-d05" if SHIPPED.is_file() else "transfer:oes-tiny-d10")
    assert req.density is None  # a transferred mask keeps its own density
    assert oes_tab.parse_request(mask="random", density=0.2, steps=10).every == 1


@pytest.mark.parametrize("kw,needle", [
    (dict(sigma=float("nan")), "noise σ"), (dict(sigma=0), "noise σ"), (dict(density=0), "mask density"),
    (dict(steps=0), "steps"), (dict(steps=12.5), "whole number"), (dict(steps="many"), "must be a number"),
    (dict(size=5000), "working size"), (dict(preset="huge"), "unknown generator preset"),
    (dict(mask="random:x"), "unknown mask source"), (dict(mask="transfer:/etc/passwd"), "no shipped mask"),
])
def test_parse_request_refuses_bad_settings(app_env, kw, needle):
    with pytest.raises(RestoreLabError, match=needle):
        oes_tab.parse_request(**kw)


def test_bad_input_becomes_gr_error_not_a_traceback(app_env):
    with pytest.raises(gr.Error) as info:
        list(oes_tab.oes_denoise(None, 25, "random", 0.1, 10, False, 32, 10, "tiny", 0))
    assert "no image given" in info.value.message


def test_mask_choices_list_shipped_masks_first(app_env):
    specs = [s for _, s in oes_tab.mask_choices()]
    shipped = [s for s in specs if s.startswith("transfer:")]
    assert specs[: len(shipped)] == shipped and "transfer:oes-tiny-d10" in shipped
    assert specs[len(shipped):] == ["learn", "random", "magnitude"]
    if SHIPPED.is_file():  # its card names its preset and density
        label = dict((s, lab) for lab, s in oes_tab.mask_choices())["transfer:oes-lean-d05"]
        assert "lean" in label and "5%" in label


def test_closing_the_stream_early_stops_and_cleans_up(app_env, tmp_path, monkeypatch):
    """What Stop does to the handler: the generator is closed between snapshots; the learned-mask
    temp folder is removed and the torch thread count is as before."""
    import tempfile

    import torch

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    threads = torch.get_num_threads()
    gen = oes_tab.oes_denoise(str(EXAMPLE), 25, "learn", 0.1, 3000, True, 32, 1000, "tiny", 0)
    seen = []
    for out in gen:
        seen.append(out[-1]["phase"])
        if seen.count("learn") >= 2:
            break
    assert list(tmp_path.glob("restorelab-oes-*")), "the learned mask's temp folder exists while learning"
    gen.close()
    assert seen[0] == "start" and not list(tmp_path.glob("restorelab-oes-*"))
    assert torch.get_num_threads() == threads


def test_learn_here_then_fit(app_env):
    req = oes_tab.parse_request(mask="learn", density=0.1, steps=10, size=32, learn_steps=10, preset="tiny")
    states = list(oes_tab.run_oes(str(EXAMPLE), req))
    phases = [s["phase"] for s in states]
    assert phases[0] == "start" and "learn" in phases and phases[-1] == "fit"
    assert phases.index("fit") > max(i for i, p in enumerate(phases) if p == "learn")
    d = oes_tab.details(states[-1])
    assert d["mask"]["source"] == "learn" and d["mask"]["learn_steps"] == 10 and d["mask"]["preset"] == "tiny"
    assert abs(d["mask"]["density"] - 0.1) < 0.01 and d["done"]
    text = oes_tab.status_text(d)
    assert "learned here with OES" in text and "Step 10 / 10" in text and "learning the mask)" in text


def test_a_shipped_mask_fixes_density_and_generator_in_the_form():
    density, preset = oes_tab._mask_changed("transfer:oes-lean-d05")
    assert not density.interactive and not preset.interactive and preset.value == oes_tab.AUTO_PRESET
    density, preset = oes_tab._mask_changed("learn")
    assert density.interactive and preset.interactive
