"""Inference backends chosen by measurement: PyTorch, ONNX Runtime, OpenVINO.

Which runtime is fastest for our PromptIR models depends on the CPU (AVX2 or AVX-512, native
bfloat16 or not), the thread count and the load on the machine, so it is measured rather than
guessed: ``pick_backend(name)`` exports the model once per backend (cached on disk), times every
available backend on a tile-sized input, in alternation, best of ``repeats``, checks that each one
agrees with PyTorch (max abs difference <= ``TOLERANCE`` at float32), remembers the result in a
JSON file and returns the fastest. ``backend="..."`` skips the measurement.

* ``torch``: the prepared model itself (channels_last, ``restore``'s fast path); always there.
Each export traces the PromptIR form its runtime runs fastest (``EXPORT_FORMS``, ``PromptIR.with_impl``,
``benchmarks/bench_export_form.py``, AVX2-only CPU, 512²): OpenVINO the ``graph`` form (NCHW, no
layout permutes; x1.07-1.11 over the ``fast`` form, whose permutes around every LayerNorm become real
transposes), ONNX Runtime the ``fast`` form (the graph form ran x0.84-0.87 there).

* ``onnxruntime``: the model exported with ``torch.onnx.export`` (the torch.export-based exporter,
  needs ``onnx`` + ``onnxscript``), run by an ``onnxruntime.InferenceSession`` on the CPU.
* ``openvino``: ``openvino.convert_model`` of the ``torch.export`` program, saved as OpenVINO IR (float32 weights: no FP16 compression), compiled
  for the CPU with ``INFERENCE_PRECISION_HINT=f32`` (OpenVINO would run bfloat16 on CPUs that have
  it, which misses the tolerance) and one static-shape compilation per input size (an LRU of
  ``max_shapes``): static shapes ran ~1.5x faster than one dynamic-shape compilation.
* ``openvino-bf16``: the same IR compiled at ``INFERENCE_PRECISION_HINT=bf16``: a *reduced-precision*
  backend (``REDUCED``). It differs from PyTorch by ~1e-2, so the float32 tolerance does not apply;
  instead it is a candidate only (a) on a CPU with native bfloat16 (AVX-512 BF16 or AMX; elsewhere
  bf16 is emulated and slower, so it is refused) and (b) for a model whose card records that it
  loses at most ``QUALITY_LOSS_DB`` on every evaluation set (``verify-backend``; see
  ``verified_reduced``).

Every backend object keeps the torch model's call contract, (1, 3, h, w) float tensor in [0, 1]
-> same shape, and is an ``nn.Module``, so ``restore``, ``run_model`` and ``restore_tiled`` use it
unchanged. The exported graphs take any height and width that are multiples of 8 (PromptIR pads
to 8 inside); the wrapper pads the input the way the model does (reflect, bottom/right) and crops
the output, which gives the model's own result for every size.

Cache (``cache_dir``, default ``$RESTORELAB_CACHE_DIR`` or ``~/.cache/restorelab``):
``backends/<key>/model.onnx``, ``backends/<key>/openvino.{xml,bin}`` and ``backend-timings.json``.
``<key>`` is ``model_key(model)``: the sha256 of the weights as loaded (names, dtypes, shapes and
bytes of every tensor) together with the module structure and the source of the model's code, so
new weights or an edited model re-export and nothing stale is ever run. Timings are keyed by that
key, the CPU (model name and avx2/avx512f/avx512_bf16/amx_bf16 flags), the thread count, the
measured size and the runtimes' versions.

Notes (docs/backends.md): exporting ``promptir-cpu`` takes ~30 s on two busy cores, once per
weights; ONNX Runtime runs with spinning threads off (``ort_spinning``) because on a loaded machine
(training beside the app) spinning threads halved its speed.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.metadata
import importlib.util
import inspect
import json
import logging
import os
import sys
import threading
import time
import warnings
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from torch import nn

from restorelab.errors import RestoreLabError
from restorelab.io import atomic_write
from restorelab.tensors import base_threads

BACKENDS = ("torch", "onnxruntime", "openvino", "openvino-bf16")
#: Backends that compute in less than float32: gated by quality on the evaluation sets, not TOLERANCE.
REDUCED = ("openvino-bf16",)
#: The most PSNR (dB) a reduced-precision backend may lose against float32 on any evaluation set.
QUALITY_LOSS_DB = 0.1
#: Sanity bound for a reduced backend's max abs difference to PyTorch (catches a broken build).
REDUCED_TOLERANCE = 0.05
AUTO = "auto"
#: The input size backends are measured on: ``restore``'s default tile.
TILE = 256
#: Max abs difference to PyTorch a backend may have on the measuring input (float32).
TOLERANCE = 1e-3
#: PromptIR pads its input to a multiple of this inside; exported graphs take multiples of it.
MULTIPLE = 8
#: Bumped when the export recipe changes, so old cached files are not reused.
FORMAT = 2  # 2: OpenVINO's export traces the graph form

# Python modules each backend needs to be built from scratch (export + run).
_MODULES = {"torch": (), "onnxruntime": ("onnxruntime", "onnx", "onnxscript"), "openvino": ("openvino",),
            "openvino-bf16": ("openvino",)}
_PIP = {"onnxruntime": "pip install onnxruntime onnx onnxscript", "openvino": "pip install openvino",
        "openvino-bf16": "pip install openvino"}
_VERSIONED = ("torch", "onnxruntime", "onnx", "onnxscript", "openvino")
_CPU_FLAGS = ("avx2", "avx512f", "avx512_bf16", "amx_bf16")
_TIMINGS = "backend-timings.json"
_lock = threading.Lock()  # one export / timings-file update at a time in this process


# -- what is here ---------------------------------------------------------------------------
def missing_packages(backend: str) -> list[str]:
    """The Python packages ``backend`` needs that are not installed (empty: usable)."""
    _check_name(backend)
    return [m for m in _MODULES[backend] if importlib.util.find_spec(m) is None]


def available_backends() -> list[str]:
    """Backends whose packages are installed, in ``BACKENDS`` order (``torch`` always)."""
    return [b for b in BACKENDS if not missing_packages(b)]


def _check_name(backend: str) -> None:
    if backend not in BACKENDS:
        raise RestoreLabError(f"unknown backend {backend!r}; valid: {', '.join(BACKENDS + (AUTO,))}")


def _require(backend: str) -> None:
    missing = missing_packages(backend)
    if missing:
        raise RestoreLabError(f"backend {backend} needs {', '.join(missing)} (optional): {_PIP[backend]}")
    if backend in REDUCED and not native_bf16_cpu():
        raise RestoreLabError(f"backend {backend} needs a CPU with native bfloat16 (AVX-512 BF16 or AMX); "
                              "on this one bf16 is emulated and slower than float32: use openvino")


def native_bf16_cpu(cpuinfo: str = "/proc/cpuinfo") -> bool:
    """Whether this CPU computes bfloat16 in hardware (AVX-512 BF16 or AMX-BF16 flags; False where
    there is no ``/proc/cpuinfo``). The one test of it: training's ``native_bf16`` is this."""
    cpu = cpu_info(cpuinfo)
    return bool(cpu.get("avx512_bf16") or cpu.get("amx_bf16"))


def verified_reduced(name: str, weights_dir: str | Path | None = None) -> tuple[str, ...]:
    """The reduced-precision backends the card of shipped model ``name`` records as losing at most
    ``QUALITY_LOSS_DB`` on every evaluation set (``verify-backend --save-card``); () when none or
    no card."""
    from restorelab.inference.weights import read_card

    try:
        quality = read_card(name, weights_dir).extra.get("backend_quality") or {}
    except (OSError, ValueError, RestoreLabError):
        return ()
    return tuple(b for b in REDUCED if (quality.get(b) or {}).get("ok") is True)


def versions() -> dict[str, str | None]:
    """Installed versions of the runtimes and exporters (None: not installed)."""
    out = {}
    for name in _VERSIONED:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = None
    return out


def cpu_info(cpuinfo: str = "/proc/cpuinfo") -> dict:
    """The CPU's model name and the SIMD flags that decide kernel choice (Linux; else empty)."""
    name, flags = "", set()
    try:
        with open(cpuinfo) as f:
            for line in f:
                if line.startswith("model name") and not name:
                    name = line.split(":", 1)[1].strip()
                elif line.startswith("flags") and not flags:
                    flags = set(line.split(":", 1)[1].split())
                if name and flags:
                    break
    except OSError:
        pass
    import platform

    return {"model": name or platform.processor() or platform.machine(), **{k: k in flags for k in _CPU_FLAGS}}


def default_cache_dir() -> Path:
    """``$RESTORELAB_CACHE_DIR``, else ``$XDG_CACHE_HOME/restorelab``, else ``~/.cache/restorelab``."""
    env = os.environ.get("RESTORELAB_CACHE_DIR")
    if env:
        return Path(env)
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "restorelab"


# -- keys -------------------------------------------------------------------------------------
def model_key(model: nn.Module) -> str:
    """sha256 (hex) of the weights as loaded + the module structure + the model code's source."""
    h = hashlib.sha256(f"restorelab-backends-v{FORMAT}\n".encode())
    cfg = getattr(model, "config", None)
    if hasattr(cfg, "to_dict"):
        h.update(json.dumps(cfg.to_dict(), sort_keys=True, default=str).encode())
    h.update(repr(model).encode())  # module types and shapes (shrunk models differ here)
    sources = sorted({type(m).__module__ for m in model.modules()})
    for mod in sources:
        try:
            h.update(inspect.getsource(sys.modules[mod]).encode())
        except (OSError, TypeError, KeyError):
            h.update(mod.encode())
    for name, t in model.state_dict().items():
        t = t.detach().cpu().contiguous()
        h.update(f"{name}|{t.dtype}|{tuple(t.shape)}\n".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()


def _timing_key(mkey: str, size: int, names=()) -> str:
    cpu = cpu_info()
    flags = ",".join(k for k in _CPU_FLAGS if cpu[k]) or "none"
    vers = ",".join(f"{k}={v}" for k, v in versions().items())
    return (f"{mkey[:16]}|{cpu['model']}|{flags}|threads={base_threads()}|size={size}|{vers}"
            f"|candidates={','.join(names)}")


# -- export ----------------------------------------------------------------------------------
def _supports(model: nn.Module) -> None:
    from restorelab.models.promptir import PromptIR

    if not isinstance(model, PromptIR):
        raise RestoreLabError(f"exported backends run PromptIR models, not {type(model).__name__}; "
                              "use backend 'torch'")


@contextlib.contextmanager
def _quiet():
    """The exporters' chatter (progress lines, deprecation warnings, torchvision notes) off."""
    loggers = [logging.getLogger(n) for n in ("torch.onnx", "torch.export", "torch._dynamo", "onnxscript")]
    levels = [lg.level for lg in loggers]
    try:
        for lg in loggers:
            lg.setLevel(logging.ERROR)
        with warnings.catch_warnings(), contextlib.redirect_stdout(sys.stderr):
            warnings.simplefilter("ignore")
            yield
    finally:
        for lg, lv in zip(loggers, levels):
            lg.setLevel(lv)


EXPORT_FORMS = {"onnxruntime": "fast", "openvino": "graph"}  # the PromptIR form each export traces


def exported_program(model: nn.Module, form: str):
    """``torch.export`` of ``model`` in ``form`` (``PromptIRConfig.impl``) for (1, 3, 8a, 8b)
    inputs, a and b dynamic."""
    from torch.export import Dim

    example = torch.rand(1, 3, 8 * MULTIPLE, 8 * MULTIPLE, generator=torch.Generator().manual_seed(0))
    dims = {2: MULTIPLE * Dim("h8", min=1, max=4096), 3: MULTIPLE * Dim("w8", min=1, max=4096)}
    with _quiet(), torch.no_grad():
        return torch.export.export(model.with_impl(form).eval(), (example,), dynamic_shapes=(dims,))


def _model_dir(model: nn.Module, cache_dir: str | Path | None, key: str | None = None) -> Path:
    return Path(cache_dir or default_cache_dir()) / "backends" / (key or model_key(model))[:32]


def export_onnx(model: nn.Module, cache_dir: str | Path | None = None, key: str | None = None) -> Path:
    """``model.onnx`` for ``model`` in the cache (exported on the first call, ~30 s for promptir-cpu)."""
    _supports(model)
    path = _model_dir(model, cache_dir, key) / "model.onnx"
    with _lock:
        if path.exists():
            return path
        _require("onnxruntime")
        program = exported_program(model, EXPORT_FORMS["onnxruntime"])
        with _quiet():
            onnx_program = torch.onnx.export(program, dynamo=True, input_names=["image"],
                                             output_names=["restored"], optimize=True, verbose=False)
        atomic_write(path, lambda tmp: onnx_program.save(str(tmp), external_data=False))
    return path


def export_openvino(model: nn.Module, cache_dir: str | Path | None = None, key: str | None = None) -> Path:
    """``openvino.xml`` (+ ``.bin``) for ``model`` in the cache: ``openvino.convert_model`` of the
    ``torch.export`` program in OpenVINO's form. Float32 weights."""
    _supports(model)
    _require("openvino")
    import openvino as ov

    d = _model_dir(model, cache_dir, key)
    xml = d / "openvino.xml"
    with _lock:
        if xml.exists() and xml.with_suffix(".bin").exists():
            return xml
        with _quiet():
            ov_model = ov.convert_model(exported_program(model, EXPORT_FORMS["openvino"]))
        d.mkdir(parents=True, exist_ok=True)
        tmp = d / f"openvino.tmp-{os.getpid()}.xml"
        try:
            ov.save_model(ov_model, str(tmp), compress_to_fp16=False)
            os.replace(tmp.with_suffix(".bin"), xml.with_suffix(".bin"))
            os.replace(tmp, xml)
        finally:
            tmp.unlink(missing_ok=True)
            tmp.with_suffix(".bin").unlink(missing_ok=True)
    return xml


# -- runners ---------------------------------------------------------------------------------
class ExportedRestorer(nn.Module):
    """An exported model behind the torch model's contract: (N, 3, h, w) float -> same shape.

    ``run`` maps a C-contiguous float32 array (1, 3, H, W), H and W multiples of ``MULTIPLE``, to
    the restored array. The input is padded as PromptIR pads it and the output cropped back.
    Holds no parameters; ``eval``/``train`` are no-ops kept for ``restore``'s sake.
    """

    def __init__(self, backend: str, run: Callable[[np.ndarray], np.ndarray], source: Path | None = None):
        super().__init__()
        self.backend = backend
        self.source = source
        self._run = run
        self.eval()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        from restorelab.models.promptir import _pad_to_multiple

        if not isinstance(x, torch.Tensor) or x.ndim != 4 or x.shape[1] != 3:
            got = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
            raise RestoreLabError(f"backend {self.backend} expects an (N, 3, H, W) tensor, got {got}")
        h, w = x.shape[-2:]
        ins = [np.ascontiguousarray(_pad_to_multiple(x[i : i + 1].detach().to(torch.float32), MULTIPLE).cpu().numpy(),
                                    dtype=np.float32) for i in range(x.shape[0])]
        many = getattr(self._run, "many", None)
        outs = many(ins) if many is not None and len(ins) > 1 else [self._run(a) for a in ins]
        return torch.cat([torch.from_numpy(np.asarray(o))[..., :h, :w] for o in outs]).to(device=x.device, dtype=x.dtype)

    @property
    def tile_batch(self) -> int:
        """How many tiles ``restore`` hands over at once: the runner's parallel streams (else 1)."""
        return getattr(self._run, "streams", 1)

    def extra_repr(self) -> str:
        return f"backend={self.backend!r}, source={str(self.source)!r}"


def onnxruntime_runner(path: str | Path, threads: int | None = None,
                       spinning: bool = False) -> Callable[[np.ndarray], np.ndarray]:
    """An ONNX Runtime CPU session for ``path`` as an array -> array function (thread-safe)."""
    _require("onnxruntime")
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = threads or base_threads()
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.add_session_config_entry("session.intra_op.allow_spinning", "1" if spinning else "0")
    so.log_severity_level = 3
    session = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name

    def run(a: np.ndarray) -> np.ndarray:
        return session.run(None, {name: a})[0]

    return run


class OpenVINORunner:
    """OpenVINO CPU inference at float32, one static-shape compilation per input shape (LRU).

    ``many`` runs several same-shape inputs side by side, one per stream (OpenVINO's throughput
    mode, ``streams`` streams sharing the threads): on a 2-core AVX2 EPYC two 1-thread streams
    restored 456×480 tiles ~11% faster than one 2-thread request, a 12 MP photo 3% faster
    (``benchmarks/bench_backends.py --big --ov-one-stream``; docs/backends.md).
    """

    def __init__(self, path: str | Path, threads: int | None = None, static_shapes: bool = True,
                 max_shapes: int = 4, precision: str = "f32", streams: int | None = None):
        _require("openvino")
        import openvino as ov

        self.core = ov.Core()
        self.model = self.core.read_model(str(path))
        threads = int(threads or base_threads())
        self.config = {"INFERENCE_PRECISION_HINT": precision, "PERFORMANCE_HINT": "LATENCY",
                       "INFERENCE_NUM_THREADS": threads}
        self.streams = max(1, min(2, threads) if streams is None else int(streams))
        self.static_shapes = static_shapes
        self.max_shapes = max_shapes
        self._compiled: OrderedDict[tuple, object] = OrderedDict()
        self._lock = threading.Lock()  # an infer request runs one inference at a time

    def _get(self, shape: tuple, streams: int):
        """An infer request (1 stream) or an ``AsyncInferQueue`` (several) for inputs of ``shape``."""
        import openvino as ov

        key = (streams, shape if self.static_shapes else None)
        if key in self._compiled:
            self._compiled.move_to_end(key)
            return self._compiled[key]
        model = self.model
        if self.static_shapes:
            model = self.model.clone()
            model.reshape({0: list(shape)})
        config = self.config if streams == 1 else {**self.config, "PERFORMANCE_HINT": "THROUGHPUT",
                                                    "NUM_STREAMS": streams}
        compiled = self.core.compile_model(model, "CPU", config)
        self._compiled[key] = compiled.create_infer_request() if streams == 1 else ov.AsyncInferQueue(compiled, streams)
        while len(self._compiled) > self.max_shapes:
            self._compiled.popitem(last=False)
        return self._compiled[key]

    def __call__(self, a: np.ndarray) -> np.ndarray:
        with self._lock:
            return np.array(self._get(tuple(a.shape), 1).infer({0: a})[0], copy=True)

    def many(self, arrays: list[np.ndarray]) -> list[np.ndarray]:
        """``[self(a) for a in arrays]`` (all one shape), run ``streams`` at a time."""
        if self.streams == 1 or len(arrays) < 2:
            return [self(a) for a in arrays]
        outs: list = [None] * len(arrays)

        def done(request, i):
            outs[i] = np.array(request.get_output_tensor(0).data, copy=True)

        with self._lock:
            queue = self._get(tuple(arrays[0].shape), self.streams)
            queue.set_callback(done)
            for i, a in enumerate(arrays):
                queue.start_async({0: a}, i)
            queue.wait_all()
        return outs


def load_backend(model: nn.Module, backend: str, cache_dir: str | Path | None = None, *,
                 key: str | None = None, ort_spinning: bool = False, ov_static_shapes: bool = True,
                 ov_precision: str = "f32", ov_streams: int | None = None) -> nn.Module:
    """``model`` behind ``backend``: the model itself for ``torch``, else an ``ExportedRestorer``
    (exporting into the cache on the first use). Raises ``RestoreLabError`` when the backend's
    packages are missing or the model cannot be exported."""
    _check_name(backend)
    if backend == "torch":
        return model
    _require(backend)
    _supports(model)
    key = key or model_key(model)
    if backend == "onnxruntime":
        path = export_onnx(model, cache_dir, key)
        return ExportedRestorer(backend, onnxruntime_runner(path, spinning=ort_spinning), path)
    path = export_openvino(model, cache_dir, key)
    precision = "bf16" if backend == "openvino-bf16" else ov_precision
    runner = OpenVINORunner(path, static_shapes=ov_static_shapes, precision=precision, streams=ov_streams)
    return ExportedRestorer(backend, runner, path)


# -- measuring and picking -----------------------------------------------------------------------
def time_backends(restorers: dict[str, Callable], x, repeats: int = 3, reference: str = "torch",
                  warmup: bool = True) -> dict[str, dict]:
    """Seconds (best of ``repeats``, all backends timed in alternation, after one untimed warm-up
    call each unless ``warmup`` is False) and max abs difference to ``reference``'s output, per
    backend, for ``fn(x)`` (tensors or arrays)."""
    outs, best = {}, dict.fromkeys(restorers, float("inf"))
    with torch.inference_mode():
        for name, fn in restorers.items() if warmup else ():  # first-call allocation, OpenVINO compilation
            outs[name] = torch.as_tensor(fn(x)).float()
        for _ in range(max(1, repeats)):
            for name, fn in restorers.items():
                t0 = time.perf_counter()
                out = fn(x)
                best[name] = min(best[name], time.perf_counter() - t0)
                if name not in outs:
                    outs[name] = torch.as_tensor(out).float()
    ref = outs.get(reference)
    return {name: {"seconds": best[name],
                   "max_abs_diff": None if ref is None else float((outs[name] - ref).abs().max())}
            for name in restorers}


@dataclass
class Pick:
    """What ``pick_backend`` chose. ``restorer`` is called like the torch model."""

    backend: str
    restorer: nn.Module
    seconds: dict[str, float] = field(default_factory=dict)  # per backend, on a size x size input
    max_abs_diff: dict[str, float | None] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)  # backend -> why it was not a candidate
    measured: bool = False  # True: timed in this call; False: forced or read from the timings file
    size: int = TILE

    def summary(self) -> str:
        """One line for a log or the app, e.g. ``openvino (0.36 s per 256² input; torch 0.70 s)``."""
        if not self.seconds:
            return f"{self.backend} (chosen, not measured)"
        own = self.seconds.get(self.backend)
        others = ", ".join(f"{b} {s:.3g} s" for b, s in self.seconds.items() if b != self.backend)
        lead = f"{self.backend} ({own:.3g} s per {self.size}² input" if own is not None else f"{self.backend} ("
        return f"{lead}; {others})" if others else f"{lead})"


def _read_timings(path: Path) -> dict:
    try:
        data = json.loads(path.read_text())
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def _load(model_or_name) -> nn.Module:
    if isinstance(model_or_name, nn.Module):
        return model_or_name
    from restorelab.inference import load_model

    return load_model(str(model_or_name))


def pick_backend(model_name, backend: str | None = None, *, cache_dir: str | Path | None = None,
                 size: int = TILE, repeats: int = 3, remeasure: bool = False,
                 tolerance: float = TOLERANCE, candidates: tuple[str, ...] | None = None,
                 reduced: tuple[str, ...] | None = None, log: Callable[[str], None] | None = None) -> Pick:
    """The fastest backend for a model on this machine, measured once and remembered.

    ``model_name``: a shipped model name, a ``.safetensors`` path (loaded with ``load_model``) or
    an already loaded model. ``backend``: ``None``/``"auto"`` = measure (or reuse the timings
    file), else that backend without measuring (``RestoreLabError`` if it cannot be built).
    ``candidates``: the backends to consider (default: all installed ones). Backends that fail to
    build or differ from PyTorch by more than ``tolerance`` are skipped, with the reason in
    ``Pick.skipped``. Classical methods (nlm, bm3d) and non-PromptIR models always get ``torch``.
    ``reduced``: the reduced-precision backends verified for this model (default: what the card of
    a shipped ``model_name`` records, see ``verified_reduced``); the others in ``REDUCED`` are not
    candidates, and none is on a CPU without native bfloat16.
    """
    say = log or (lambda msg: None)
    if reduced is None:
        reduced = verified_reduced(model_name) if isinstance(model_name, str) and not model_name.endswith(
            ".safetensors") else ()
    model = _load(model_name)
    if backend not in (None, AUTO):
        _check_name(backend)
        return Pick(backend, load_backend(model, backend, cache_dir), size=size)
    from restorelab.models.promptir import PromptIR

    if not isinstance(model, PromptIR):
        return Pick("torch", model, skipped={"*": f"{type(model).__name__} runs on torch only"}, size=size)
    cache = Path(cache_dir or default_cache_dir())
    mkey = model_key(model)
    timings_path = cache / _TIMINGS
    names = [b for b in (candidates or BACKENDS) if b in BACKENDS]
    if "torch" not in names:
        names.insert(0, "torch")
    skipped = {b: "not installed: " + _PIP[b] for b in names if missing_packages(b)}
    for b in REDUCED:
        if b in names and b not in skipped:
            if not native_bf16_cpu():
                skipped[b] = "no native bfloat16 on this CPU (emulated: slower than float32)"
            elif b not in reduced:
                skipped[b] = f"not verified to lose <= {QUALITY_LOSS_DB} dB on the evaluation sets (verify-backend)"
    names = [b for b in names if b not in skipped]
    tkey = _timing_key(mkey, size, names)
    if names == ["torch"]:  # nothing to choose between: no export, no measurement
        return Pick("torch", model, skipped=skipped, size=size)

    entry = None if remeasure else _read_timings(timings_path).get(tkey)
    if entry and entry.get("fastest") in names:
        try:
            restorer = load_backend(model, entry["fastest"], cache, key=mkey)
            say(f"backend {entry['fastest']} (timings from {timings_path})")
            return Pick(entry["fastest"], restorer, entry.get("seconds", {}), entry.get("max_abs_diff", {}),
                        {**entry.get("skipped", {}), **skipped}, measured=False, size=size)
        except RestoreLabError as err:  # a cached export gone bad: measure again
            say(f"cached choice {entry['fastest']} failed ({err}); measuring again")

    restorers: dict[str, nn.Module] = {}
    for b in names:
        try:
            if b != "torch":
                say(f"preparing backend {b} (first time: exporting, may take a minute)")
            restorers[b] = load_backend(model, b, cache, key=mkey)
        except Exception as err:  # an exporter or runtime failure only removes that candidate
            skipped[b] = f"{type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}"[:300]
    x = torch.rand(1, 3, size, size, generator=torch.Generator().manual_seed(0))
    x = x.contiguous(memory_format=torch.channels_last)  # as run_model hands it over
    res = time_backends(restorers, x, repeats)
    for b, r in res.items():
        tol = REDUCED_TOLERANCE if b in REDUCED else tolerance
        if r["max_abs_diff"] is not None and r["max_abs_diff"] > tol:
            skipped[b] = f"max abs diff {r['max_abs_diff']:.2e} to torch > {tol:g}"
    ok = {b: r["seconds"] for b, r in res.items() if b not in skipped}
    fastest = min(ok, key=ok.get)
    seconds = {b: r["seconds"] for b, r in res.items()}
    diffs = {b: r["max_abs_diff"] for b, r in res.items()}
    with _lock:
        data = _read_timings(timings_path)
        data[tkey] = {"model": str(model_name) if not isinstance(model_name, nn.Module) else None,
                      "fastest": fastest, "seconds": seconds, "max_abs_diff": diffs,
                      "skipped": {b: s for b, s in skipped.items() if b in res}, "size": size,
                      "repeats": repeats, "threads": base_threads(), "cpu": cpu_info(),
                      "versions": versions(), "measured_at": time.strftime("%Y-%m-%dT%H:%M:%S")}
        try:
            atomic_write(timings_path, lambda tmp: tmp.write_text(json.dumps(data, indent=1, sort_keys=True)))
        except OSError as err:  # a read-only cache only costs a re-measurement next time
            say(f"could not write {timings_path}: {err}")
    for b in list(restorers):
        if b != fastest:
            del restorers[b]
    say(f"backend {fastest}: " + ", ".join(f"{b} {s:.3g} s" for b, s in seconds.items()))
    return Pick(fastest, restorers[fastest], seconds, diffs, skipped, measured=True, size=size)


__all__ = ["AUTO", "BACKENDS", "EXPORT_FORMS", "QUALITY_LOSS_DB", "REDUCED", "TILE", "TOLERANCE", "ExportedRestorer", "OpenVINORunner", "Pick",
           "available_backends", "cpu_info", "default_cache_dir", "export_onnx", "export_openvino", "exported_program",
           "load_backend", "missing_packages", "model_key", "native_bf16_cpu", "onnxruntime_runner",
           "pick_backend", "time_backends", "verified_reduced", "versions"]
