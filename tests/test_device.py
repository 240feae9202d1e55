"""Devices and backends: ``--device`` names, inference on the model's device, ``restore --backend``,
the ZeroGPU decorator of the app's heavy handlers.

This project's machines have no GPU: the CUDA tests at the end are skipped here and run only where
torch sees one.
"""

from __future__ import annotations

import functools
import importlib.util
import inspect
import json
import sys
import types

import numpy as np
import pytest
import torch

from restorelab.errors import RestoreLabError
from restorelab.inference import load_model, restore, run_model
from restorelab.io import load_image
from restorelab.tensors import check_device_name, model_device, resolve_device, to_image, to_tensor

from apphelpers import app_environment
from conftest import ROOT
from devmodels import make_test_models
from test_cli import img, run  # noqa: F401  (img: a fixture; weights comes from conftest)
from test_training import cfg_for, photos  # noqa: F401  (photos: a fixture)

CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU (none on this project's machines)")
NO_CUDA = pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")


# -- device names ---------------------------------------------------------------------------------
def test_resolve_device_names():
    assert resolve_device("cpu") == torch.device("cpu")
    expected = torch.device("cuda", torch.cuda.current_device()) if torch.cuda.is_available() else torch.device("cpu")
    assert resolve_device() == resolve_device("auto") == expected
    for bad in ("gpu", "CPU", "cuda:", "cuda:-1", "mps", ""):
        with pytest.raises(RestoreLabError, match="unknown device") as info:
            resolve_device(bad)
        assert "\n" not in str(info.value)
    assert check_device_name("cuda:7") == "cuda:7"  # a name is checked without a GPU


@NO_CUDA
def test_cuda_without_cuda_is_a_clear_error():
    for name in ("cuda", "cuda:0", "cuda:1"):
        with pytest.raises(RestoreLabError, match="CUDA is not available"):
            resolve_device(name)


@CUDA
def test_cuda_index_past_the_last_gpu_is_a_clear_error():
    with pytest.raises(RestoreLabError, match="CUDA device"):
        resolve_device(f"cuda:{torch.cuda.device_count()}")


def test_model_device_and_cpu_images():
    assert model_device(torch.nn.Conv2d(3, 3, 1)) == torch.device("cpu")
    assert model_device(torch.nn.Identity()) == torch.device("cpu")  # no weights: takes CPU tensors
    buffers_only = torch.nn.Module()
    buffers_only.register_buffer("b", torch.zeros(1, device="meta"))
    assert model_device(buffers_only) == torch.device("meta")
    a = np.random.default_rng(0).random((6, 5, 3)).astype(np.float32)
    np.testing.assert_array_equal(to_image(to_tensor(a)), a)


def test_load_model_device(weights):
    assert model_device(load_model(str(weights), device="cpu")) == torch.device("cpu")
    with pytest.raises(RestoreLabError, match="unknown device"):
        load_model(str(weights), device="gpu")
    assert model_device(load_model("nlm", device="auto")) == torch.device("cpu")  # classical: CPU always


# -- the command line -----------------------------------------------------------------------------
def test_restore_records_backend_and_device(capsys, img, weights, tmp_path):
    out_png = tmp_path / "r.png"
    code, out, err = run(capsys, "restore", img, out_png, "--model", weights, "--backend", "torch", "--device", "cpu",
                         "--json")
    assert code == 0, err
    res = json.loads(out)
    assert res["backend"] == "torch" and res["device"] == "cpu"
    expected = restore(load_model(str(weights)), load_image(img))
    np.testing.assert_allclose(load_image(out_png), expected, atol=1 / 255)  # PNG rounding
    code, out, _ = run(capsys, "restore", img, out_png, "--model", weights, "--backend", "torch")
    assert code == 0 and "(torch on cpu)" in out.splitlines()[0]


def test_restore_folder_records_backend_and_device(capsys, img, weights, tmp_path):
    code, out, err = run(capsys, "restore", img.parent, tmp_path / "out", "--model", weights, "--backend", "torch",
                         "--json")
    assert code == 0, err
    res = json.loads(out)
    assert (res["backend"], res["device"]) == ("torch", "cpu")
    assert all((r["backend"], r["device"]) == ("torch", "cpu") for r in res["images"])


@pytest.mark.skipif(any(importlib.util.find_spec(m) for m in ("onnxruntime", "openvino")),
                    reason="with an exported backend installed, auto measures")
def test_restore_backend_auto_is_torch_without_the_optional_runtimes(capsys, img, weights, tmp_path):
    code, out, err = run(capsys, "restore", img, tmp_path / "r.png", "--model", weights, "--json")
    assert code == 0, err
    assert json.loads(out)["backend"] == "torch"


def test_exported_backends_with_a_gpu_are_refused(capsys, img, weights, tmp_path, monkeypatch):
    import restorelab.tensors

    # the refusal comes before anything runs, so a pretended GPU is enough to reach it
    monkeypatch.setattr(restorelab.tensors, "resolve_device", lambda name="auto": torch.device("cuda", 0))
    code, _, err = run(capsys, "restore", img, tmp_path / "r.png", "--model", weights, "--backend", "onnxruntime",
                       "--device", "cuda")
    assert code == 2 and err.count("\n") == 1
    assert "--backend onnxruntime runs on the CPU only" in err and "--backend torch" in err


@pytest.mark.parametrize("argv", [
    ["restore", "IMG", "OUT", "--model", "W", "--device", "gpu"],
    ["restore", "IMG", "OUT", "--model", "W", "--device", "cuda:x"],
    ["eval", "--model", "W", "--dir", "DIR", "--sigma", "25", "--device", "tpu"],
])
def test_bad_device_is_one_line_exit_2(capsys, img, weights, tmp_path, argv):
    subs = {"IMG": img, "OUT": tmp_path / "o.png", "W": weights, "DIR": img.parent}
    code, _, err = run(capsys, *[subs.get(a, a) for a in argv])
    assert code == 2 and err.startswith("error: unknown device") and err.count("\n") == 1


@NO_CUDA
def test_cuda_device_without_cuda_says_so(capsys, img, weights, tmp_path):
    code, _, err = run(capsys, "restore", img, tmp_path / "o.png", "--model", weights, "--device", "cuda")
    assert code == 2 and "CUDA is not available" in err


def test_eval_runs_on_the_given_device(capsys, img, weights):
    code, out, err = run(capsys, "eval", "--model", weights, "--dir", img.parent, "--sigma", "25", "--device", "cpu",
                         "--json")
    assert code == 0, err
    assert json.loads(out)["n"] == 1


def test_device_flags_and_their_help():
    from restorelab.cli import build_parser

    subs = {a.dest: a for a in build_parser()._actions if a.dest == "command"}["command"].choices
    for cmd in ("restore", "eval", "report", "real-eval"):
        (flag,) = [a for a in subs[cmd]._actions if "--device" in a.option_strings]
        assert flag.default == "cpu" and "auto" in flag.help and "CUDA" in flag.help, cmd
    (backend,) = [a for a in subs["restore"]._actions if "--backend" in a.option_strings]
    assert backend.default == "auto" and set(backend.choices) == {"auto", "torch", "onnxruntime", "openvino", "openvino-bf16"}
    (train,) = [a for a in subs["train"]._actions if "--device" in a.option_strings]
    assert train.default == "auto"


# -- ZeroGPU ----------------------------------------------------------------------------------------
class _StubSpaces:
    """What ``spaces.GPU`` does as far as the app can tell: wraps the handler (signature kept)."""

    def __init__(self):
        self.wrapped: dict[str, int] = {}  # handler name -> duration
        self.calls: list[str] = []

    def module(self) -> types.ModuleType:
        mod = types.ModuleType("spaces")
        mod.GPU = self.GPU
        return mod

    def GPU(self, duration=60):
        def decorate(fn):
            self.wrapped[fn.__name__] = duration
            if inspect.isgeneratorfunction(fn):
                @functools.wraps(fn)
                def gen(*a, **k):
                    self.calls.append(fn.__name__)
                    yield from fn(*a, **k)

                return gen

            @functools.wraps(fn)
            def plain(*a, **k):
                self.calls.append(fn.__name__)
                return fn(*a, **k)

            return plain

        return decorate


def test_gpu_task_without_spaces_is_the_function_itself(monkeypatch):
    from restorelab.ui.gpu import gpu_task

    monkeypatch.setitem(sys.modules, "spaces", None)  # import spaces -> ImportError

    def handler(x):
        return x + 1

    assert gpu_task(handler) is handler
    assert gpu_task(duration=120)(handler) is handler


def test_gpu_task_with_spaces_wraps_with_the_duration(monkeypatch):
    from restorelab.ui.gpu import gpu_task

    stub = _StubSpaces()
    monkeypatch.setitem(sys.modules, "spaces", stub.module())

    @gpu_task
    def plain(x):
        return 2 * x

    @gpu_task(duration=120)
    def streamed(n):
        yield from range(n)

    assert stub.wrapped == {"plain": 60, "streamed": 120}
    assert plain(4) == 8 and list(streamed(3)) == [0, 1, 2]
    assert stub.calls == ["plain", "streamed"]


def test_app_with_spaces_wraps_its_heavy_handlers_and_still_restores_on_cpu(tmp_path, monkeypatch):
    import app

    stub = _StubSpaces()
    monkeypatch.setitem(sys.modules, "spaces", stub.module())
    make_test_models(tmp_path / "weights")
    with app_environment(tmp_path / "weights"):
        demo = app.build_demo()
        assert {"restore_ui", "restore_api", "select_ui", "grids_select"} <= set(stub.wrapped)
        (restore_api,) = [f.fn for f in demo.fns.values() if f.api_name == "restore"]
        png, model_in, rec = restore_api(str(ROOT / "examples" / "chelsea.jpg"), "dev-dense", "gaussian_noise", 25,
                                         0, progress=lambda *a, **k: None)
    assert stub.calls == ["restore_api"]  # the call went through spaces.GPU
    assert rec["device"] == "cpu" and rec["psnr"] is not None and load_image(png).ndim == 3 and model_in


def test_restore_notes_say_where_it_ran(tmp_path, monkeypatch):
    from restorelab.ui.models import ModelStore
    from restorelab.ui.restore_tab import _notes, _run

    make_test_models(tmp_path)
    monkeypatch.setenv("RESTORELAB_WEIGHTS_DIR", str(tmp_path))
    *_, (_, state) = _run(ModelStore(), str(ROOT / "examples" / "chelsea.jpg"), "none", None, 0,
                          ["dev-dense", "nlm"], lambda *a, **k: None)
    notes = _notes(state, [])
    dense, nlm = [line for line in notes.splitlines() if line.startswith("- ")]
    assert "with PyTorch on cpu" in dense and "PyTorch" not in nlm
    assert state["records"]["dev-dense"]["device"] == "cpu"


# -- on a GPU (skipped on this project's machines) ---------------------------------------------------
@CUDA
def test_restore_on_cuda_matches_the_cpu(weights):
    img = np.random.default_rng(2).random((96, 120, 3)).astype(np.float32)
    cpu, gpu = load_model(str(weights)), load_model(str(weights), device="cuda")
    assert model_device(gpu).type == "cuda"
    np.testing.assert_allclose(run_model(gpu, img), run_model(cpu, img), atol=1e-3)
    tiled = dict(tile=64, overlap=16, threshold=32 * 32)  # the tiled path: CPU accumulator, GPU tiles
    np.testing.assert_allclose(restore(gpu, img, **tiled), restore(cpu, img, **tiled), atol=1e-3)
    np.testing.assert_allclose(restore(gpu, img, self_ensemble=4), restore(cpu, img, self_ensemble=4), atol=1e-3)


@CUDA
def test_restore_command_on_cuda(capsys, img, weights, tmp_path):
    code, out, err = run(capsys, "restore", img, tmp_path / "r.png", "--model", weights, "--device", "cuda", "--json")
    assert code == 0, err
    res = json.loads(out)
    assert res["backend"] == "torch" and res["device"].startswith("cuda")


@CUDA
def test_three_training_steps_on_cuda(photos, tmp_path):  # noqa: F811  (the fixture)
    from restorelab.inference import load_weights
    from restorelab.training import Trainer

    cfg = cfg_for(photos, model="promptir-tiny", device="cuda", steps=3, warmup_steps=1, val_every=3, ckpt_every=2)
    trainer = Trainer(cfg, tmp_path / "r", progress=False)
    assert trainer.parts == 1 and trainer.device.type == "cuda"
    out = trainer.train()
    assert trainer.step == 3 and all(p.device.type == "cuda" and torch.isfinite(p).all() for p in out.parameters())
    final = load_weights(tmp_path / "r" / "final.safetensors")  # written from the GPU, read on the CPU
    assert all(torch.equal(p.cpu(), q) for p, q in zip(out.parameters(), final.parameters()))
    log = [json.loads(l) for l in (tmp_path / "r" / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log if "val" in r] == [3]
    # the checkpoint resumes on the CPU
    resumed = Trainer(cfg_for(photos, model="promptir-tiny", device="cpu", steps=4, warmup_steps=1, val_every=3,
                              ckpt_every=2), tmp_path / "r", progress=False)
    resumed.train()
    assert resumed.step == 4
