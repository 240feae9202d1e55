"""Inference backends (restorelab.inference.backends): ONNX Runtime and OpenVINO against PyTorch.

The optional runtimes are skipped one by one when their packages are missing. Exports go to a
temporary cache shared by this module's tests (promptir-cpu takes ~30 s to export, the tiny preset
~15 s). The tiny model builds OpenVINO first, so its OpenVINO IR comes from
``openvino.convert_model`` of the ``torch.export`` program; real-cpu builds ONNX Runtime first, so
OpenVINO reads the cached ONNX file: both conversion paths are covered without extra exports.
"""

from __future__ import annotations

import json
import time

import numpy as np
import pytest
import torch

from restorelab.errors import RestoreLabError
from restorelab.inference import backends as B
from restorelab.inference import load_model, prepare, restore
from restorelab.models import create_model

EXPORTED = ("onnxruntime", "openvino")
TOL = 1e-3  # the float32 equality the backends promise (B.TOLERANCE)


def _skip_missing(backend: str) -> None:
    missing = B.missing_packages(backend)
    if missing:
        pytest.skip(f"{backend} needs {', '.join(missing)}")


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("backend-cache")


@pytest.fixture(scope="module")
def models():
    torch.manual_seed(0)
    return {"real-cpu": load_model("real-cpu"), "tiny": prepare(create_model("promptir-tiny"))}


@pytest.fixture(scope="module")
def built(models, cache):
    """(model id, backend) -> restorer, built lazily in a fixed order per model (see module doc)."""
    done: dict = {}
    order = {"tiny": ("openvino", "onnxruntime"), "real-cpu": ("onnxruntime", "openvino")}

    def get(model_id: str, backend: str):
        _skip_missing(backend)
        for b in order[model_id]:
            if (model_id, b) not in done and not B.missing_packages(b):
                done[model_id, b] = B.load_backend(models[model_id], b, cache)
            if b == backend:
                break
        return done[model_id, backend]

    return get


def _torch_out(model, x):
    with torch.inference_mode():
        return model(x.contiguous(memory_format=torch.channels_last))


@pytest.mark.parametrize("model_id", ["tiny", "real-cpu"])
@pytest.mark.parametrize("backend", EXPORTED)
def test_matches_torch_on_random_128(models, built, model_id, backend):
    x = torch.rand(1, 3, 128, 128, generator=torch.Generator().manual_seed(1))
    out = built(model_id, backend)(x)
    assert out.shape == x.shape and out.dtype == torch.float32
    assert float((out - _torch_out(models[model_id], x)).abs().max()) <= TOL


@pytest.mark.parametrize("model_id", ["tiny", "real-cpu"])
@pytest.mark.parametrize("backend", EXPORTED)
def test_matches_torch_on_a_two_tile_image(models, built, model_id, backend):
    img = np.random.default_rng(2).random((256, 448, 3), dtype=np.float32)  # 2 tiles of 256x240, at x = 0 and 208
    kw = dict(tile=256, overlap=32, threshold=0)  # threshold 0: always tiled
    ref = restore(models[model_id], img, **kw)
    calls, r = [], built(model_id, backend)
    out = restore(r, img, progress=lambda d, n: calls.append((d, n)), **kw)
    # OpenVINO takes both tiles at once in its parallel streams (2 threads here), ONNX Runtime one by one
    assert calls == ([(2, 2)] if r.tile_batch == 2 else [(1, 2), (2, 2)])
    assert out.shape == img.shape
    assert float(np.abs(out - ref).max()) <= TOL


@pytest.mark.parametrize("backend", EXPORTED)
def test_any_size_and_batch(models, built, backend):
    """Sizes that are not multiples of 8 (padded like PromptIR pads), tiny ones, channels_last, N > 1."""
    model = models["tiny"]
    r = built("tiny", backend)
    for h, w in [(61, 77), (5, 9), (8, 200)]:
        x = torch.rand(1, 3, h, w, generator=torch.Generator().manual_seed(h))
        assert float((r(x) - _torch_out(model, x)).abs().max()) <= TOL
    x = torch.rand(2, 3, 40, 24, generator=torch.Generator().manual_seed(3))
    x = x.contiguous(memory_format=torch.channels_last)
    assert float((r(x) - _torch_out(model, x)).abs().max()) <= TOL
    img = np.random.default_rng(4).random((48, 72, 3), dtype=np.float32)
    ens = restore(r, img, self_ensemble=4)  # flips and the half turn: same shapes, other content
    assert float(np.abs(ens - restore(model, img, self_ensemble=4)).max()) <= TOL
    with pytest.raises(RestoreLabError, match="expects an"):
        r(torch.rand(3, 8, 8))


def test_openvino_streams_run_a_batch_side_by_side(models, built):
    r = built("tiny", "openvino")
    x = torch.rand(3, 3, 40, 56, generator=torch.Generator().manual_seed(5))
    one = B.OpenVINORunner(r.source, threads=2, streams=1)
    two = B.OpenVINORunner(r.source, threads=2, streams=2)
    assert (one.streams, two.streams) == (1, 2)
    ins = [np.ascontiguousarray(x[i : i + 1].numpy()) for i in range(3)]
    seq, par = [one(a) for a in ins], two.many(ins)
    assert all(float(np.abs(p - q).max()) <= TOL for p, q in zip(par, seq))
    assert float((r(x) - _torch_out(models["tiny"], x)).abs().max()) <= TOL  # the batch path in forward


@pytest.mark.parametrize("backend", EXPORTED)
def test_export_is_cached(models, built, cache, backend, monkeypatch):
    built("tiny", backend)  # exported once already
    def no_export(*a, **k):
        raise AssertionError("exported again")
    monkeypatch.setattr(B, "exported_program", no_export)
    monkeypatch.setattr(torch.onnx, "export", no_export)
    r = B.load_backend(models["tiny"], backend, cache)
    x = torch.rand(1, 3, 32, 32)
    assert float((r(x) - _torch_out(models["tiny"], x)).abs().max()) <= TOL
    assert r.source.parent.name == B.model_key(models["tiny"])[:32]


@pytest.mark.parametrize("backend", ["onnxruntime", "openvino"])
def test_each_export_traces_its_runtimes_form(models, tmp_path, backend, monkeypatch):
    """OpenVINO runs the NCHW graph form faster, ONNX Runtime the fast one (bench_export_form.py)."""
    if backend not in B.available_backends():
        pytest.skip(f"{backend} not installed")
    forms = []

    def record(model, form):
        forms.append(form)
        raise RuntimeError("recorded")

    monkeypatch.setattr(B, "exported_program", record)
    with pytest.raises(RuntimeError, match="recorded"):
        (B.export_openvino if backend == "openvino" else B.export_onnx)(models["tiny"], tmp_path)
    assert forms == [B.EXPORT_FORMS[backend]] == [{"openvino": "graph", "onnxruntime": "fast"}[backend]]


def test_model_key_follows_the_weights(models):
    tiny = models["tiny"]
    other = prepare(create_model("promptir-tiny"))
    other.load_state_dict(tiny.state_dict())
    assert B.model_key(other) == B.model_key(tiny)
    with torch.no_grad():
        other.output.weight[0, 0, 0, 0] += 1e-3
    assert B.model_key(other) != B.model_key(tiny)


def test_pick_measures_once_and_remembers(models, cache, tmp_path):
    available = B.available_backends()
    if available == ["torch"]:
        pytest.skip("only torch is installed: nothing to measure")
    picks = []
    p = B.pick_backend(models["tiny"], cache_dir=cache, size=64, repeats=1, log=picks.append)
    assert p.measured and p.backend in available
    assert set(p.seconds) == set(available) - set(p.skipped)
    assert all(d is not None and d <= TOL for d in p.max_abs_diff.values())
    assert p.seconds[p.backend] == min(p.seconds.values())
    x = torch.rand(1, 3, 64, 64)
    with torch.inference_mode():
        assert float((p.restorer(x) - _torch_out(models["tiny"], x)).abs().max()) <= TOL
    data = json.loads((cache / "backend-timings.json").read_text())
    entry = next(v for k, v in data.items() if "size=64" in k and v["fastest"] == p.backend)
    assert entry["threads"] == torch.get_num_threads() and "avx2" in entry["cpu"]
    again = B.pick_backend(models["tiny"], cache_dir=cache, size=64, repeats=1)
    assert not again.measured and again.backend == p.backend and again.seconds == p.seconds
    assert p.backend in again.summary()


def test_pick_override_and_errors(models, cache):
    forced = B.pick_backend(models["tiny"], "torch", cache_dir=cache)
    assert forced.backend == "torch" and forced.restorer is models["tiny"] and not forced.measured
    with pytest.raises(RestoreLabError, match="unknown backend"):
        B.pick_backend(models["tiny"], "tensorrt", cache_dir=cache)
    classical = B.pick_backend("nlm", cache_dir=cache)
    assert classical.backend == "torch"


def test_missing_packages_are_skipped_not_fatal(models, tmp_path, monkeypatch):
    real = B.importlib.util.find_spec
    monkeypatch.setattr(B.importlib.util, "find_spec",
                        lambda name, *a: None if name in ("onnxruntime", "openvino") else real(name, *a))
    assert B.available_backends() == ["torch"]
    with pytest.raises(RestoreLabError, match="pip install openvino"):
        B.load_backend(models["tiny"], "openvino", tmp_path)
    p = B.pick_backend(models["tiny"], cache_dir=tmp_path, size=32, repeats=1)
    assert p.backend == "torch" and p.restorer is models["tiny"] and not p.measured
    assert "pip install" in p.skipped["onnxruntime"] and "pip install" in p.skipped["openvino"]
    assert not (tmp_path / "backend-timings.json").exists()


def test_failing_or_inexact_backend_is_skipped(models, tmp_path, monkeypatch):
    """A backend that cannot be built, or that disagrees with PyTorch, is never picked."""
    monkeypatch.setattr(B, "missing_packages", lambda b: [])
    real_load = B.load_backend

    def fake_load(model, backend, cache_dir=None, **kw):
        if backend == "onnxruntime":
            raise RuntimeError("exporter exploded")
        if backend == "openvino":  # fast but wrong
            return B.ExportedRestorer("openvino", lambda a: a + 0.1)
        return real_load(model, backend, cache_dir, **kw)

    monkeypatch.setattr(B, "load_backend", fake_load)
    p = B.pick_backend(models["tiny"], cache_dir=tmp_path, size=32, repeats=1)
    assert p.backend == "torch"
    assert "exporter exploded" in p.skipped["onnxruntime"]
    assert "max abs diff" in p.skipped["openvino"]


def test_cpu_info_and_cache_dir(tmp_path, monkeypatch):
    f = tmp_path / "cpuinfo"
    f.write_text("processor\t: 0\nmodel name\t: Test CPU\nflags\t\t: fpu sse avx2 avx512f avx512_bf16\n")
    info = B.cpu_info(str(f))
    assert info == {"model": "Test CPU", "avx2": True, "avx512f": True, "avx512_bf16": True, "amx_bf16": False}
    assert B.cpu_info(str(tmp_path / "none"))["avx2"] is False
    monkeypatch.setenv("RESTORELAB_CACHE_DIR", str(tmp_path / "c"))
    assert B.default_cache_dir() == tmp_path / "c"
    monkeypatch.delenv("RESTORELAB_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "x"))
    assert B.default_cache_dir() == tmp_path / "x" / "restorelab"


def _flags(monkeypatch, bf16: bool):
    cpu = {"model": "Test CPU", "avx2": True, "avx512f": bf16, "avx512_bf16": bf16, "amx_bf16": False}
    monkeypatch.setattr(B, "cpu_info", lambda *a: dict(cpu))


def test_reduced_precision_backend_is_gated(models, tmp_path, monkeypatch):
    """openvino-bf16 is refused where bf16 is emulated, and in ``auto`` it is a candidate only when
    verified for the model; then a ~1e-2 difference (bf16) is accepted, a broken build is not."""
    monkeypatch.setattr(B, "missing_packages", lambda b: [])
    _flags(monkeypatch, bf16=False)
    with pytest.raises(RestoreLabError, match="native bfloat16"):
        B.load_backend(models["tiny"], "openvino-bf16", tmp_path)
    offsets = {"openvino-bf16": 0.01}

    def fake_load(model, backend, cache_dir=None, **kw):
        """Every backend (torch too) an identity (+ an offset): no model runs, so the timings are
        the sleeps: each exact backend 0.2 s slower than openvino-bf16."""
        def run(a, backend=backend):
            if backend != "openvino-bf16":
                time.sleep(0.2)
            return a + offsets.get(backend, 0.0)
        return B.ExportedRestorer(backend, run)

    monkeypatch.setattr(B, "load_backend", fake_load)
    p = B.pick_backend(models["tiny"], cache_dir=tmp_path, size=32, repeats=1, reduced=("openvino-bf16",))
    assert "no native bfloat16" in p.skipped["openvino-bf16"] and p.backend != "openvino-bf16"
    _flags(monkeypatch, bf16=True)
    p = B.pick_backend(models["tiny"], cache_dir=tmp_path, size=32, repeats=1, reduced=())
    assert "not verified" in p.skipped["openvino-bf16"] and p.backend != "openvino-bf16"
    p = B.pick_backend(models["tiny"], cache_dir=tmp_path, size=32, repeats=1, reduced=("openvino-bf16",))
    assert p.backend == "openvino-bf16", (p.skipped, p.seconds, p.measured)
    assert 5e-3 < p.max_abs_diff["openvino-bf16"] <= B.REDUCED_TOLERANCE
    offsets["openvino-bf16"] = 0.2  # beyond the sanity bound: never picked
    p = B.pick_backend(models["tiny"], cache_dir=tmp_path, size=32, repeats=1, reduced=("openvino-bf16",),
                       remeasure=True)
    assert p.backend != "openvino-bf16" and "max abs diff" in p.skipped["openvino-bf16"]


def test_verified_reduced_reads_the_card(tmp_path):
    from conftest import ROOT
    from restorelab.inference.weights import update_card

    card = json.loads((ROOT / "weights" / "real-cpu.json").read_text())
    card.pop("backend_quality", None)
    (tmp_path / "real-cpu.json").write_text(json.dumps(card))
    assert B.verified_reduced("real-cpu", tmp_path) == ()
    update_card("real-cpu", lambda c: c.__setitem__("backend_quality", {"openvino-bf16": {"ok": False}}), tmp_path)
    assert B.verified_reduced("real-cpu", tmp_path) == ()
    update_card("real-cpu", lambda c: c.__setitem__("backend_quality", {"openvino-bf16": {"ok": True}}), tmp_path)
    assert B.verified_reduced("real-cpu", tmp_path) == ("openvino-bf16",)
    assert B.verified_reduced("no-such-model", tmp_path) == ()
