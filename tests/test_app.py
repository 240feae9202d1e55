"""The app, launched in-process on a free localhost port and driven through ``gradio_client``.

Test models are tiny random ``promptir-test`` networks written to a temp folder that
``RESTORELAB_WEIGHTS_DIR`` points at, so these tests never need the shipped weights.
"""

from __future__ import annotations

import io
import math
from pathlib import Path

import gradio as gr
import numpy as np
import pytest
from gradio_client import Client, handle_file
from PIL import Image

from apphelpers import app_environment, free_port
from devmodels import make_test_models

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "examples" / "chelsea.jpg"




@pytest.fixture(scope="module")
def weights_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("weights")
    make_test_models(d)
    return d


@pytest.fixture(scope="module")
def app_env(weights_dir):
    with app_environment(weights_dir) as mp:
        yield mp




def restore(client, path, model="dev-dense", degradation="none", param=None, seed=0):
    return client.predict(handle_file(str(path)), model, degradation, param, seed, api_name="/restore")


def expect_error(client, path, *needles, **kw):
    with pytest.raises(Exception) as info:
        restore(client, path, **kw)
    msg = str(info.value)
    assert "Traceback" not in msg
    for n in needles:
        assert n in msg, msg
    return msg


def psnr8(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2) / 255.0 ** 2
    return 10 * math.log10(1 / mse)


# -- endpoints ---------------------------------------------------------------------------------------
def test_named_endpoints(client):
    eps = set(client.view_api(return_format="dict", print_info=False)["named_endpoints"])
    # every tab is wired and scriptable; UI events are private
    assert eps == {"/restore", "/lottery_demo", "/grids_select", "/oes_denoise"}, eps


def test_restore_good_image(client):
    out, model_input, metrics = restore(client, EXAMPLE)
    src = Image.open(EXAMPLE)
    with Image.open(out) as im:
        assert im.format == "PNG" and im.mode == "RGB" and im.size == src.size
    assert model_input is None  # nothing simulated
    assert metrics["model"] == "dev-dense" and metrics["kind"] == "dense"
    assert metrics["psnr"] is None and metrics["ssim"] is None  # no reference
    assert (metrics["width"], metrics["height"]) == src.size
    assert metrics["params"] > 0 and metrics["file_bytes"] > 0 and metrics["seconds"] > 0
    assert metrics["tiled"] is False and metrics["weights_source"].startswith("local")
    # do no harm is on unless asked: a verdict with its reasons; the output is the photo or the network's
    v = metrics["guard"]
    assert isinstance(v["kept"], bool) and v["sentence"].startswith("restored" if v["kept"] else "handed back unchanged")


def test_restore_api_guard_can_be_switched_off(client):
    _, _, m = client.predict(handle_file(str(EXAMPLE)), "dev-dense", "none", None, 0, False, api_name="/restore")
    assert m["guard"] is None
    _, _, m = restore(client, EXAMPLE, model="nlm")
    assert m["guard"] is None  # classical methods are not guarded


def test_restore_simulated_degradation_has_metrics(client):
    out, model_input, m = restore(client, EXAMPLE, model="dev-pruned", degradation="gaussian_noise",
                                  param=25, seed=3)
    assert m["degradation"] == {"name": "gaussian_noise", "seed": 3, "sigma": 25.0}
    assert m["kind"] == "pruned" and m["nonzero_params"] < m["params"]
    for k in ("psnr", "ssim", "input_psnr", "input_ssim"):
        assert isinstance(m[k], float) and math.isfinite(m[k])
    assert 19.0 < m["input_psnr"] < 21.5  # σ = 25 on the 0-255 scale ≈ 20.2 dB
    # The metrics are the server's float measurements; the 8-bit PNGs agree to rounding.
    clean = np.asarray(Image.open(EXAMPLE).convert("RGB"))
    noisy = np.asarray(Image.open(model_input))
    restored = np.asarray(Image.open(out))
    assert abs(psnr8(noisy, clean) - m["input_psnr"]) < 0.05
    assert abs(psnr8(restored, clean) - m["psnr"]) < 0.1
    # Seeded: the same request gives the same input.
    _, again, m2 = restore(client, EXAMPLE, model="dev-pruned", degradation="gaussian_noise", param=25, seed=3)
    assert m2["input_psnr"] == m["input_psnr"]
    assert np.array_equal(np.asarray(Image.open(again)), noisy)


@pytest.mark.parametrize("degradation,param", [("jpeg", 10), ("haze", 0.2), ("rain", None)])
def test_other_degradations(client, degradation, param):
    _, model_input, m = restore(client, EXAMPLE, degradation=degradation, param=param, seed=1)
    assert model_input is not None and m["degradation"]["name"] == degradation
    assert math.isfinite(m["input_psnr"]) and math.isfinite(m["psnr"])


def test_large_image_is_tiled(client, tmp_path):
    big = tmp_path / "big.png"
    Image.open(EXAMPLE).convert("RGB").resize((900, 700)).save(big)  # > 768² pixels → tiles
    out, _, m = restore(client, big)
    assert m["tiled"] is True and (m["width"], m["height"]) == (900, 700)
    assert Image.open(out).size == (900, 700)


# -- bad input: one clear line, never a traceback, the worker survives ---------------------------------
def test_non_image_upload(client, tmp_path):
    p = tmp_path / "notes.png"
    p.write_text("this is not an image\n" * 20)
    expect_error(client, p, "notes.png", "not a recognised image file")


def test_truncated_png(client, tmp_path):
    buf = io.BytesIO()
    Image.open(EXAMPLE).convert("RGB").save(buf, format="PNG")
    p = tmp_path / "cut.png"
    p.write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
    expect_error(client, p, "cut.png", "truncated")


def test_over_pixel_cap(client, tmp_path):
    p = tmp_path / "huge.png"
    Image.new("L", (4100, 4100)).save(p)  # 16.8 MP, a small file: refused from the header alone
    expect_error(client, p, "huge.png", "more than the limit of 16,000,000")


def test_odd_mode_is_accepted(client, tmp_path):
    p = tmp_path / "gray_alpha.png"
    Image.open(EXAMPLE).convert("LA").save(p)
    out, _, m = restore(client, p)
    assert Image.open(out).mode == "RGB"


def test_over_max_file_size(server, client, tmp_path):
    import httpx

    p = tmp_path / "big.bin"
    p.write_bytes(np.random.default_rng(0).integers(0, 255, 6 * 1024 * 1024, dtype=np.uint8).tobytes())
    with pytest.raises(Exception) as info:  # the client checks the app's limit before uploading…
        restore(client, p)
    assert "exceeds the maximum file size" in str(info.value)
    with p.open("rb") as f:  # …and the server refuses it anyway
        r = httpx.post(server[1] + "gradio_api/upload", files={"files": ("big.png", f)}, timeout=30)
    assert r.status_code == 413


def test_bad_names_and_params(client):
    expect_error(client, EXAMPLE, "no shipped model 'nope'", "dev-dense", model="nope")
    expect_error(client, EXAMPLE, "unknown degradation 'blur'", degradation="blur")
    expect_error(client, EXAMPLE, "sigma", "outside the allowed range", degradation="gaussian_noise",
                 param=1000)


def test_still_serving_after_errors(client):
    _, _, m = restore(client, EXAMPLE)
    assert m["model"] == "dev-dense"


# -- /lottery_demo ------------------------------------------------------------------------------------------
def test_lottery_demo_streams_rounds(client):
    job = client.submit(2, 0.5, 10, 0, api_name="/lottery_demo")
    final = job.result(timeout=240)
    assert [r["round"] for r in final] == [0, 1, 2]
    assert final[0]["reinit_psnr"] is None and all(math.isfinite(r["ticket_psnr"]) for r in final)
    assert final[2]["sparsity"] > final[1]["sparsity"] > 0
    streamed = job.outputs()
    assert [len(o) for o in streamed] == [1, 2, 3]  # one update per finished round


def test_lottery_demo_bad_input(client):
    with pytest.raises(Exception) as info:
        client.predict(50, 0.5, 10, 0, api_name="/lottery_demo")
    assert "rounds must be in [1, 8]" in str(info.value)
    with pytest.raises(Exception) as info:
        client.predict(2, 1.5, 10, 0, api_name="/lottery_demo")
    assert "rate" in str(info.value)


def test_lottery_live_figure_from_records():
    from restorelab.ui.lottery_tab import live_figure

    recs = [{"round": 0, "sparsity": 0.0, "kept_weights": 1000, "ticket_psnr": 28.0, "reinit_psnr": None,
             "oneshot_psnr": None, "dense_psnr": 28.0, "seconds": 1.0},
            {"round": 1, "sparsity": 0.4, "kept_weights": 600, "ticket_psnr": 27.9, "reinit_psnr": 27.0,
             "oneshot_psnr": 27.5, "dense_psnr": 28.0, "seconds": 2.0}]
    fig = live_figure(recs)
    assert len(fig.data) == 3  # ticket (2 points), re-init (1), one-shot (1): no invented round-0 values
    assert sorted(len(t.x) for t in fig.data) == [1, 1, 2]


def test_app_without_any_model_says_so(tmp_path, monkeypatch):
    import app

    monkeypatch.setenv("RESTORELAB_WEIGHTS_DIR", str(tmp_path))  # empty: nothing shipped yet
    demo = app.build_demo()
    port = free_port()
    demo.launch(prevent_thread_lock=True, server_name="127.0.0.1", server_port=port, quiet=True,
                **app.launch_kwargs())
    try:
        c = Client(f"http://127.0.0.1:{port}/", verbose=False)
        with pytest.raises(Exception) as info:
            c.predict(handle_file(str(EXAMPLE)), "", "none", None, 0, api_name="/restore")
        assert "no model given and no shipped model available" in str(info.value)
    finally:
        demo.close()


# -- pieces without the server ----------------------------------------------------------------------------
def test_building_the_app_imports_no_heavy_library(weights_dir, app_env):
    import subprocess
    import sys

    code = ("import sys, app; app.build_demo(); "
            "print(sorted(m for m in ('torch', 'cv2', 'scipy', 'plotly.graph_objects') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "[]"


def test_model_listing_needs_no_torch_and_labels(weights_dir, app_env):
    from restorelab.ui.models import list_models

    models = list_models()
    assert [m.name for m in models] == ["dev-dense", "dev-pruned"]  # dense first
    assert models[1].label().startswith("dev-pruned · pruned · ") and models[0].file_bytes > 0


def test_lottery_sparsity_from_weights_and_from_card(weights_dir, app_env, tmp_path, monkeypatch):
    import json

    from restorelab.ui.lottery_tab import sparsity_figure
    from restorelab.ui.models import ModelStore

    fig, msg = sparsity_figure(ModelStore(), ["dev-dense", "dev-pruned"], "layers")
    assert len(fig.data) == 2 and "dev-pruned" in msg
    pruned = next(t for t in fig.data if t.name.startswith("dev-pruned"))
    zeroed = [v for v in pruned.y if v > 0]  # half of every weight matrix was zeroed (norms stay dense)
    assert zeroed and 0.4 < float(np.median(zeroed)) < 0.6
    # An exported ticket's card carries its report: read it, do not load the model.
    for f in weights_dir.iterdir():
        (tmp_path / f.name).write_bytes(f.read_bytes())
    card = json.loads((tmp_path / "dev-pruned.json").read_text())
    card["layers"] = [{"name": "a.weight", "sparsity": 0.9}, {"name": "b.weight", "sparsity": 0.8}]
    (tmp_path / "dev-pruned.json").write_text(json.dumps(card))
    (tmp_path / "dev-pruned.safetensors").write_bytes(b"not read")
    monkeypatch.setenv("RESTORELAB_WEIGHTS_DIR", str(tmp_path))
    fig, _ = sparsity_figure(ModelStore(), "dev-pruned", "layers")
    assert list(fig.data[0].x) == ["a", "b"] and list(fig.data[0].y) == [0.9, 0.8]
    fig, _ = sparsity_figure(ModelStore(), "dev-pruned")  # the default: one grid cell per block x kind
    assert list(fig.data[0].y) == ["a", "b"] and list(fig.data[0].x) == ["conv"]
    assert [row[0] for row in fig.data[0].z] == [0.9, 0.8]


def test_hub_offline_falls_back_to_local(weights_dir, app_env, monkeypatch):
    import restorelab.inference.weights as w
    from restorelab.errors import RestoreLabError
    from restorelab.ui.models import ModelStore

    def offline(repo, filename, revision):
        raise RestoreLabError(f"could not fetch {filename} from the Hub repo {repo}@{revision} (offline)")

    monkeypatch.setattr(w, "hub_download", offline)
    monkeypatch.setenv("RESTORELAB_HUB_REPO", "someone/restorelab-weights")
    monkeypatch.setenv("RESTORELAB_HUB_REVISION", "0" * 40)
    model, source = ModelStore().get("dev-dense")
    assert model is not None and "offline fallback" in source


def test_photo_input_rejects_non_image_clearly(tmp_path):
    from gradio.data_classes import ImageData

    from restorelab.ui.common import photo_input

    p = tmp_path / "x.png"
    p.write_bytes(b"GIF89a? no")
    comp = photo_input(render=False)
    with pytest.raises(gr.Error) as info:
        comp.preprocess(ImageData(path=str(p), orig_name="x.png"))
    assert "x.png: not a readable image" in info.value.message
    good = comp.preprocess(ImageData(path=str(EXAMPLE), orig_name="chelsea.jpg"))
    assert good == str(EXAMPLE)  # the upload itself, not a re-encoded copy


def test_examples_are_small_and_attributed():
    photos = sorted((REPO / "examples").glob("*.jpg")) + sorted((REPO / "examples").glob("*.png"))
    assert 3 <= len(photos) <= 6
    attribution = (REPO / "examples" / "ATTRIBUTION.md").read_text()
    for p in photos:
        with Image.open(p) as im:
            assert max(im.size) <= 512
        assert p.stat().st_size < 200_000
        assert p.name in attribution


def test_restore_tab_defaults_to_the_default_dense_model_against_a_ticket(tmp_path, monkeypatch):
    import json

    from restorelab.paths import DEFAULT_MODEL, DEFAULT_TICKET
    from restorelab.ui.pipeline import INPUT
    from restorelab.ui.restore_tab import _model_choices

    monkeypatch.setenv("RESTORELAB_WEIGHTS_DIR", str(tmp_path))

    def ship(name, kind):
        (tmp_path / f"{name}.json").write_text(json.dumps({"kind": kind, "preset": "promptir-test", "params": 10,
                                                           "nonzero_params": 10 if kind == "dense" else 1}))
        (tmp_path / f"{name}.safetensors").write_bytes(b"")

    ship("a-dense", "dense")
    assert _model_choices()[1:] == ("a-dense", INPUT)
    ship(DEFAULT_MODEL, "dense")
    ship("z-ticket", "pruned")
    assert _model_choices()[1:] == (DEFAULT_MODEL, "z-ticket")
    ship(DEFAULT_TICKET, "pruned")
    assert _model_choices()[1:] == (DEFAULT_MODEL, DEFAULT_TICKET)
    # the classical baselines are always one pick away, listed after our models
    values = [v for _, v in _model_choices()[0]]
    assert values[-2:] == ["nlm", "bm3d"]


def test_restore_tab_self_ensemble_is_the_x4_mean_and_reports_it(weights_dir, app_env):
    from restorelab.inference import restore
    from restorelab.ui.models import ModelStore
    from restorelab.ui.restore_tab import _notes, _run

    store, seen = ModelStore(), []
    runs = {n: list(_run(store, str(EXAMPLE), "gaussian_noise", 25, 0, ["dev-dense"],
                         lambda *a, **k: seen.append(k.get("desc", "")), self_ensemble=n))[-1][1]
            for n in (1, 4)}
    x4 = runs[4]["results"]["dev-dense"].image
    np.testing.assert_allclose(x4, restore(store.get("dev-dense")[0], runs[4]["input"], self_ensemble=4), atol=1e-6)
    assert not np.allclose(x4, runs[1]["results"]["dev-dense"].image, atol=1e-4)
    assert runs[4]["records"]["dev-dense"]["self_ensemble"] == 4 and any("×4 self-ensemble" in d for d in seen)
    assert "×4 self-ensemble" in _notes(runs[4], []) and "self-ensemble" not in _notes(runs[1], [])


def test_restore_tab_guard_hands_back_the_photo_and_says_so(weights_dir, app_env, monkeypatch):
    from restorelab.inference import guard as G
    from restorelab.ui.models import ModelStore
    from restorelab.ui.restore_tab import _notes, _run

    store = ModelStore()
    monkeypatch.setattr(G, "judge", lambda img, out, cfg=None: G.Verdict(False))  # nothing counts as degraded
    state = list(_run(store, str(EXAMPLE), "none", None, 0, ["dev-dense"], lambda *a, **k: None))[-1][1]
    np.testing.assert_array_equal(state["results"]["dev-dense"].image, state["input"])
    assert "handed back unchanged" in _notes(state, [])
    raw = list(_run(store, str(EXAMPLE), "none", None, 0, ["dev-dense"], lambda *a, **k: None, guard=False))[-1][1]
    assert raw["records"]["dev-dense"]["guard"] is None and "do no harm" not in _notes(raw, [])
    assert not np.array_equal(raw["results"]["dev-dense"].image, raw["input"])


def test_big_photo_gets_a_preview_first_then_the_full_result_with_time_left(weights_dir, app_env, tmp_path):
    from restorelab.inference import PREVIEW_SIDE
    from restorelab.ui.models import ModelStore
    from restorelab.ui.restore_tab import _notes, _run

    big = tmp_path / "big.png"
    Image.open(EXAMPLE).convert("RGB").resize((900, 700)).save(big)  # > 768² pixels → tiles
    store, seen = ModelStore(), []
    stages = [(done, state["preview"] is not None, dict(state["records"]))
              for done, state in _run(store, str(big), "none", None, 0, ["dev-dense", "dev-pruned"],
                                      lambda *a, **k: seen.append(k.get("desc", "")), preview=True)]
    assert [s[0] for s in stages] == ["preview", "dev-dense", "dev-pruned"]
    assert stages[0][1] and not stages[0][2]  # the preview comes before any full result
    _, state = next(iter(_run(store, str(big), "none", None, 0, ["dev-dense"], lambda *a, **k: None, preview=True)))
    assert state["preview"].shape == state["input"].shape and f"{PREVIEW_SIDE} px" in _notes(state, ["dev-dense"])
    assert any("left" in d for d in seen if "tile by tile" in d)  # time left while tiles run
    # a photo that goes in one pass gets no preview; the API never asks for one
    small = [d for d, _ in _run(store, str(EXAMPLE), "none", None, 0, ["dev-dense"], lambda *a, **k: None,
                                preview=True)]
    assert small == ["dev-dense"]


def test_preview_is_the_model_on_a_downscaled_copy():
    import torch

    from restorelab.inference import preview

    img = np.random.default_rng(0).random((300, 200, 3), dtype=np.float32)
    identity = torch.nn.Identity()
    assert preview(identity, img, side=400) is not None  # no downscale: the model on the photo itself
    np.testing.assert_allclose(preview(identity, img, side=400), img, atol=1e-6)
    class Half(torch.nn.Module):
        def forward(self, x):
            return x * 0.5

    darker = preview(Half(), img * 0 + 0.8, side=100)
    assert darker.shape == img.shape and np.allclose(darker, 0.4, atol=1e-3)


def test_eta_text():
    from restorelab.ui.pipeline import Eta

    eta = Eta()
    eta.t0 -= 10.0  # ten seconds for the first 2 of 6 tiles
    assert "about 20 s left" in eta.left(2, 6) and eta.left(6, 6) == "" and eta.left(0, 6) == ""


def test_app_serves_on_torch_until_the_picked_backend_is_ready(weights_dir, app_env, monkeypatch):
    """RESTORELAB_BACKEND=auto: the first request runs on PyTorch while the pick runs in the background;
    later requests use the picked backend and the notes say which; a failed pick leaves torch serving."""
    import threading

    import restorelab.inference.backends as B
    from restorelab.ui.models import ModelStore
    from restorelab.ui.restore_tab import _notes, _run

    monkeypatch.setenv("RESTORELAB_BACKEND", "auto")
    release, calls = threading.Event(), []

    def fake_pick(model, backend=None, *, reduced=(), log=None, **kw):
        calls.append((backend, reduced))
        release.wait(30)
        if len(calls) > 1:
            raise RuntimeError("exporter exploded")
        return B.Pick("openvino", B.ExportedRestorer("openvino", lambda a: a), {"openvino": 0.1, "torch": 0.2})

    monkeypatch.setattr(B, "pick_backend", fake_pick)
    store = ModelStore()
    first = list(_run(store, str(EXAMPLE), "none", None, 0, ["dev-dense"], lambda *a, **k: None))[-1][1]
    assert first["records"]["dev-dense"]["backend"] == "torch" and "with PyTorch on cpu" in _notes(first, [])
    # the pick shares the CPU with that first request: its time is flagged, not passed off as the model's speed
    assert first["records"]["dev-dense"]["backend_measuring"] and "measured in the background" in _notes(first, [])
    release.set()
    assert store.wait_for_backend("dev-dense", timeout=30) == "openvino" and not store.measuring()
    later = list(_run(store, str(EXAMPLE), "none", None, 0, ["dev-dense"], lambda *a, **k: None))[-1][1]
    assert later["records"]["dev-dense"]["backend"] == "openvino" and "with OpenVINO (float32)" in _notes(later, [])
    assert not later["records"]["dev-dense"]["backend_measuring"] and "background" not in _notes(later, [])
    np.testing.assert_allclose(later["results"]["dev-dense"].image, later["input"], atol=1e-6)  # the identity stub ran
    assert calls == [("auto", ())]
    assert store.wait_for_backend("dev-pruned", timeout=30) == "torch"  # the pick failed: torch serves
    monkeypatch.setenv("RESTORELAB_BACKEND", "torch")
    assert store.runner("dev-dense")[1] == "torch" and len(calls) == 2


def test_classical_models_in_the_app_run_once_and_cbm3d_is_refused_on_big_photos(weights_dir, app_env, tmp_path,
                                                                                monkeypatch):
    from restorelab.errors import RestoreLabError
    from restorelab.ui.models import ModelStore
    from restorelab.ui.restore_tab import _notes, _run

    store = ModelStore()
    # ×4 self-ensemble: the network gets it, non-local means runs once and the notes say so
    state = list(_run(store, str(EXAMPLE), "gaussian_noise", 25, 0, ["dev-dense", "nlm"], lambda *a, **k: None,
                      self_ensemble=4))[-1][1]
    assert state["records"]["dev-dense"]["self_ensemble"] == 4 and state["records"]["nlm"]["self_ensemble"] == 1
    assert _notes(state, []).count("×4 self-ensemble") == 1
    # CBM3D on a photo above the app's limit: refused before any model runs, with the photo's size
    monkeypatch.setenv("RESTORELAB_CBM3D_MAX_PIXELS", "10000")
    ran = []
    with pytest.raises(RestoreLabError, match=r"CBM3D .* MP.*non-local means"):
        for done, _ in _run(store, str(EXAMPLE), "none", None, 0, ["dev-dense", "bm3d"], lambda *a, **k: None):
            ran.append(done)
    assert ran == []


def test_an_uploaded_photo_switches_the_simulation_off(weights_dir, app_env):
    from app import build_demo
    from restorelab.ui.pipeline import NO_DEGRADATION

    demo = build_demo()
    by_id = {getattr(b, "elem_id", None): b for b in demo.blocks.values()}
    photo, degradation = by_id["rl-photo"], by_id["rl-degradation"]
    deps = [d for d in demo.fns.values()
            if any(t[0] == photo._id and t[1] == "upload" for t in d.targets)]
    assert len(deps) == 1 and [o._id for o in deps[0].outputs] == [degradation._id]
    assert deps[0].fn() == NO_DEGRADATION


def test_lottery_demo_takes_any_seed():
    from restorelab.ui.lottery_tab import _demo_config

    for seed in (0, 1000, 2000):
        cfg = _demo_config(2, 0.4, 10, seed)
        assert cfg.seed == seed and cfg.reinit_seed != cfg.seed


def test_a_second_comparison_reuses_model_a_and_says_so(weights_dir, app_env):
    from restorelab.ui.models import ModelStore
    from restorelab.ui.restore_tab import _notes, _run

    store = ModelStore()
    first = list(_run(store, str(EXAMPLE), "gaussian_noise", 25, 0, ["dev-dense"], lambda *a, **k: None))[-1][1]
    again = list(_run(store, str(EXAMPLE), "gaussian_noise", 25, 0, ["dev-dense", "dev-pruned"],
                      lambda *a, **k: None))[-1][1]
    assert again["records"]["dev-dense"]["reused"] and not again["records"]["dev-pruned"]["reused"]
    np.testing.assert_array_equal(again["results"]["dev-dense"].image, first["results"]["dev-dense"].image)
    assert _notes(again, []).count("reused") == 1
    # another input (seed), switching the guard off or another store: computed afresh
    for other in (list(_run(store, str(EXAMPLE), "gaussian_noise", 25, 1, ["dev-dense"], lambda *a, **k: None)),
                  list(_run(store, str(EXAMPLE), "gaussian_noise", 25, 0, ["dev-dense"], lambda *a, **k: None,
                            guard=False)),
                  list(_run(ModelStore(), str(EXAMPLE), "gaussian_noise", 25, 0, ["dev-dense"], lambda *a, **k: None))):
        assert not other[-1][1]["records"]["dev-dense"]["reused"]


def test_recent_results_are_bounded_by_pixels():
    from restorelab.ui import models

    store = models.ModelStore()
    for i in range(5):
        store.remember(("k", i), i, models.RECENT_PIXELS // 3)
    assert store.recall(("k", 0)) is None and store.recall(("k", 1)) is None
    assert [store.recall(("k", i)) for i in (2, 3, 4)] == [2, 3, 4]
    store.remember(("huge",), "h", models.RECENT_PIXELS * 2)  # alone over the bound: still kept, alone
    assert store.recall(("huge",)) == "h" and store.recall(("k", 4)) is None


def test_stop_ends_the_work_at_the_next_tile_for_that_page_only(weights_dir, app_env, tmp_path):
    from restorelab.ui.common import StopButtons, Stopped
    from restorelab.ui.models import ModelStore
    from restorelab.ui.restore_tab import _run

    big = tmp_path / "big.png"
    Image.open(EXAMPLE).convert("RGB").resize((900, 700)).save(big)  # > 768² pixels → tiles
    stops, tiles = StopButtons(), []

    def progress(*args, **kwargs):
        if isinstance(args[0], tuple):  # a tile finished: the user presses Stop after the first
            tiles.append(args[0])
            stops.stop("page-1")

    other = stops.start("page-2", lambda *a, **k: None)
    with pytest.raises(Stopped):
        list(_run(ModelStore(), str(big), "none", None, 0, ["dev-dense"], stops.start("page-1", progress)))
    assert len(tiles) == 1 and tiles[0][1] > 1
    other(0.5)  # another page's run goes on


@pytest.mark.filterwarnings("ignore:dev-:UserWarning")  # gr.Warning outside a request: random dev models shift tones
def test_the_model_input_is_sent_once_per_run(weights_dir, app_env):
    from app import build_demo

    demo = build_demo()
    handler = next(f.fn for f in demo.fns.values() if f.fn is not None and f.fn.__name__ == "restore_ui")
    updates = list(handler(str(EXAMPLE), "gaussian_noise", 25, 0, "dev-dense", "dev-pruned", False, True, "page",
                           progress=lambda *a, **k: None))
    assert len(updates) == 2  # A, then B with the files
    assert isinstance(updates[0][3], np.ndarray) and updates[1][3] == gr.skip() and updates[1][4]
