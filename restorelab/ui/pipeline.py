"""One restore request, independent of Gradio: load → (simulate a degradation) → restore → score.

Everything is computed on server-side float arrays (the clean photo, the degraded input, the
restored outputs); nothing is measured on images that went through the browser. Networks run on
the GPU when torch sees one (a ZeroGPU Space lends it to the handlers ``ui.gpu.gpu_task`` wraps),
else on the CPU.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
import time
import uuid
import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from restorelab.errors import RestoreLabError
from restorelab.ui import settings

INPUT = "__input__"  # pseudo-model: the (degraded) input itself, for the slider's other side


@dataclass(frozen=True)
class Knob:
    """The one user-facing parameter of a simulated degradation."""

    param: str
    label: str
    minimum: float
    maximum: float
    default: float
    step: float


# UI name -> its main parameter (other parameters: the registry's seeded defaults).
DEGRADATIONS: dict[str, Knob] = {
    "gaussian_noise": Knob("sigma", "Noise σ (0–255 scale)", 1, 100, 25, 1),
    "rain": Knob("intensity", "Rain streak intensity", 0.05, 1.0, 0.3, 0.05),
    "haze": Knob("beta", "Haze density β", 0.02, 0.5, 0.15, 0.01),
    "jpeg": Knob("quality", "JPEG quality", 1, 100, 20, 1),
    "camera_noise": Knob("shot", "Camera shot-noise variance (read noise follows)", 0.0001, 0.012, 0.003, 0.0001),
    "heavy_rain": Knob("density", "Streak density per layer (several layers + veil)", 0.0004, 0.004, 0.002, 0.0001),
    "downpour": Knob("density", "Fine streaks per pixel per layer (dense faint rain, often a JPEG)", 0.002, 0.03,
                     0.01, 0.001),
}
#: Tone changes (0-255 scale) above which the app says the output is darker/brighter or tinted.
TONE_WARN = 2.0
NO_DEGRADATION = "none"


def normalise_degradation(name: str | None) -> str:
    n = (name or NO_DEGRADATION).strip().lower()
    if n in ("", "none", "no", "off"):
        return NO_DEGRADATION
    if n not in DEGRADATIONS:
        raise RestoreLabError(f"unknown degradation {name!r}; valid: none, {', '.join(DEGRADATIONS)}")
    return n


def load_photo(path: str | Path, display_name: str | None = None) -> np.ndarray:
    """Load an uploaded file with the app's pixel cap; errors name the user's file, not a temp path."""
    from restorelab.io import load_image

    if path is None or str(path) == "":
        raise RestoreLabError("no image given: upload a photo or pick an example")
    try:
        return load_image(path, max_pixels=settings.max_pixels())
    except RestoreLabError as err:
        msg = str(err)
        shown = display_name or Path(path).name
        raise RestoreLabError(msg.replace(str(path), shown)) from None


def simulate(img: np.ndarray, degradation: str | None, param: float | None, seed: int | None
             ) -> tuple[np.ndarray, dict | None]:
    """Degrade a clean photo (seeded); returns the input to restore and a description."""
    name = normalise_degradation(degradation)
    if name == NO_DEGRADATION:
        return img, None
    from restorelab import degradations

    knob = DEGRADATIONS[name]
    seed = 0 if seed is None else int(seed)
    params = {} if param is None else {knob.param: int(param) if name == "jpeg" else float(param)}
    out = degradations.apply(name, img, seed=seed, **params)
    return out, {"name": name, "seed": seed, **({knob.param: params[knob.param]} if params else {})}


def score(out: np.ndarray, ref: np.ndarray | None) -> dict:
    """PSNR/SSIM (RGB, [0,1] float, the project's protocol) against the clean photo, if any."""
    if ref is None:
        return {"psnr": None, "ssim": None}
    from restorelab.metrics import psnr, ssim

    if min(ref.shape[:2]) < 11:
        return {"psnr": float(psnr(out, ref)), "ssim": None}  # SSIM needs an 11x11 window
    return {"psnr": float(psnr(out, ref)), "ssim": float(ssim(out, ref))}


@dataclass
class Restored:
    name: str
    image: np.ndarray
    seconds: float
    source: str
    tiled: bool
    metrics: dict = field(default_factory=dict)
    self_ensemble: int = 1
    device: str = "cpu"  # where it ran: "cpu", "cuda:0"
    backend: str = "torch"  # the inference runtime (restorelab.inference.backends)
    guard: dict | None = None  # the do-no-harm verdict (``inference.guard.Verdict.as_dict``); None: not applied
    measuring: bool = False  # a backend pick ran in the background meanwhile: ``seconds`` reads high
    reused: bool = False  # an earlier run's result on the same input (``seconds`` are that run's)


def _weights_key(store, name: str) -> tuple:
    """Model ``name`` as it is on disk now (a re-shipped file is another model)."""
    from restorelab.ui.models import model_info

    path = model_info(name, store.weights_dir).path
    st = path.stat() if path is not None and path.exists() else None
    return name, str(path), None if st is None else (st.st_size, st.st_mtime_ns)


def _digest(img: np.ndarray) -> str:
    import hashlib

    a = np.ascontiguousarray(img)
    return f"{a.shape}|{a.dtype}|" + hashlib.blake2b(a.view(np.uint8).reshape(-1), digest_size=16).hexdigest()


def _on_device(model):
    """The cached ``model`` moved (in place) to the GPU when torch sees one; on the CPU it is left as
    it is. Classical restorers have no weights and stay on the CPU. Called inside the handler: on
    ZeroGPU CUDA exists only there."""
    from restorelab.tensors import resolve_device

    return model.to(resolve_device("auto"))


def restore_with(store, name: str, img: np.ndarray, progress: Callable[[int, int], None] | None = None,
                 self_ensemble: int = 1, guard: bool = False) -> Restored:
    """Run shipped model ``name`` on ``img`` (tiles above the threshold; progress per tile, or per
    transform with a ``self_ensemble`` of 4 or 8, see :func:`restorelab.inference.restore`). With
    ``guard``, a network's output is kept only where the photo showed a degradation
    (:func:`restorelab.inference.guard.guard`; classical methods are not guarded)."""
    from restorelab.inference import TILE_THRESHOLD, restore
    from restorelab.inference.classical import is_classical
    from restorelab.inference.guard import guard as do_no_harm
    from restorelab.tensors import model_device, resolve_device

    if is_classical(name):
        self_ensemble = 1  # the app's ×4 applies to the networks it compares with (notes say which ran it)
    _, source = store.get(name)
    on_cpu = resolve_device("auto").type == "cpu"
    model, backend = store.runner(name, on_cpu=on_cpu)
    # the same computation (weights on disk, input, ensemble, guard, runtime) is not run twice
    key = (_weights_key(store, name), _digest(img), self_ensemble, bool(guard), backend, on_cpu)
    earlier = store.recall(key)
    if earlier is not None:
        if progress:
            progress(1, 1)
        return dataclasses.replace(earlier, reused=True)
    if backend == "torch":
        model = _on_device(model)
    measuring = store.measuring()
    t = time.perf_counter()
    out = restore(model, img, progress=progress, self_ensemble=self_ensemble)
    verdict = None
    if guard and not is_classical(name):
        out, verdict = do_no_harm(img, out)
    secs = time.perf_counter() - t
    measuring = measuring or store.measuring()
    h, w = img.shape[:2]
    res = Restored(name, out, secs, source, h * w > TILE_THRESHOLD, self_ensemble=self_ensemble,
                   device=str(model_device(model)) if backend == "torch" else "cpu", backend=backend,
                   guard=None if verdict is None else verdict.as_dict(), measuring=measuring)
    store.remember(key, res, h * w)
    return res


def check_size_for(names: list[str], img: np.ndarray) -> None:
    """Refuse, before any work, a photo too big for a slow method in the app (CBM3D: about a minute
    per megapixel on 2 cores, with the one restore slot held meanwhile)."""
    h, w = img.shape[:2]
    limit = settings.cbm3d_max_pixels()
    if "bm3d" in names and h * w > limit:
        raise RestoreLabError(
            f"CBM3D would take about {h * w / 1e6:.0f} min on this {w}×{h} photo ({h * w / 1e6:.1f} MP; the app "
            f"gives it at most {limit / 1e6:.1f} MP): crop the photo, or compare with non-local means, which "
            "takes seconds")


def tiling_note() -> str:
    """How a big photo is cut (restore's defaults), for result notes."""
    from restorelab.inference import DEFAULT_TILE

    return f"tiles of at most {DEFAULT_TILE}², 32 px overlap"


def preview_with(store, name: str, img: np.ndarray) -> np.ndarray | None:
    """A downscaled quick look (:func:`restorelab.inference.preview`) of shipped model ``name`` on a
    photo big enough to be restored in tiles; None for a photo that goes in one pass anyway."""
    from restorelab.inference import TILE_THRESHOLD, preview

    h, w = img.shape[:2]
    if h * w <= TILE_THRESHOLD:
        return None
    model, _ = store.get(name)
    return preview(_on_device(model), img)


class Eta:
    """'about N s left' from the pace so far (for progress text over tiles or transforms)."""

    def __init__(self):
        self.t0 = time.perf_counter()

    def left(self, done: int, total: int) -> str:
        if done <= 0 or done >= total:
            return ""
        secs = (time.perf_counter() - self.t0) / done * (total - done)
        return f", about {secs:.0f} s left" if secs >= 1 else ", under a second left"


def noise_level(img: np.ndarray) -> float:
    """The photo's estimated noise std on 0-255 (``metrics.noise.estimate_sigma``)."""
    from restorelab.metrics.noise import estimate_sigma

    return round(255.0 * estimate_sigma(img), 2)


def result_record(r: Restored, info, ref: np.ndarray | None, model_in: np.ndarray | None = None) -> dict:
    """The metrics dict for one restored image (API output and table row source). With the model's
    input: the output's estimated noise level and its tone change against the input
    (``brightness``/``color`` on 0-255, see ``metrics.noise.tone_change``)."""
    rec = {"model": r.name, "kind": info.kind_label, **score(r.image, ref),
           "params": info.params, "nonzero_params": info.nonzero_params, "file_bytes": info.file_bytes,
           "seconds": round(r.seconds, 4), "tiled": r.tiled, "self_ensemble": r.self_ensemble,
           "device": r.device, "backend": r.backend, "weights_source": r.source, "guard": r.guard,
           "backend_measuring": r.measuring, "reused": r.reused}
    if model_in is not None:
        from restorelab.metrics.noise import tone_change

        rec["noise_sigma"] = noise_level(r.image)
        rec["tone_change"] = {k: round(v, 2) for k, v in tone_change(model_in, r.image).items()}
    return rec


def tone_warning(rec: dict) -> str | None:
    """A sentence when the output's brightness or colour moved by more than ``TONE_WARN``/255."""
    t = rec.get("tone_change")
    if not t:
        return None
    bits = []
    if abs(t["brightness"]) > TONE_WARN:
        bits.append(f"{abs(t['brightness']):.1f}/255 {'darker' if t['brightness'] < 0 else 'brighter'}")
    if t["color"] > TONE_WARN:
        bits.append(f"colour shifted by up to {t['color']:.1f}/255 in one channel")
    if not bits:
        return None
    return (f"{rec['model']}: compared with the input, the output is " + " and ".join(bits) + " (it removed what it "
            "took for haze, rain or a colour cast; compare before you keep it)")


TABLE_HEADERS = ["output", "kind", "PSNR dB", "SSIM", "params", "non-zero", "file MB", "seconds"]


def _fmt(v, spec: str) -> str:
    return "—" if v is None else format(v, spec)


def table_row(rec: dict) -> list[str]:
    mb = None if rec.get("file_bytes") is None else rec["file_bytes"] / 1e6
    return [rec["model"], rec.get("kind", ""), _fmt(rec.get("psnr"), ".2f"), _fmt(rec.get("ssim"), ".4f"),
            _fmt(rec.get("params"), ","), _fmt(rec.get("nonzero_params"), ","), _fmt(mb, ".2f"),
            _fmt(rec.get("seconds"), ".2f")]


class OutputDir:
    """Where result PNGs are written for download; files older than ``max_age`` s are pruned."""

    def __init__(self, root: str | Path | None = None, max_age: float = 3600):
        if root is None:  # our own temp folder: removed when the process exits
            root = tempfile.mkdtemp(prefix="restorelab-app-")
            atexit.register(shutil.rmtree, root, ignore_errors=True)
        self.root = Path(root)
        self.max_age = max_age

    def save_png(self, img: np.ndarray, stem: str) -> Path:
        from restorelab.io import save_png

        self.prune()
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in stem)[:80] or "image"
        path = self.root / uuid.uuid4().hex[:12] / f"{safe}.png"
        save_png(path, img)
        return path

    def prune(self) -> None:
        now = time.time()
        for sub in self.root.glob("*"):
            try:
                if now - sub.stat().st_mtime > self.max_age:
                    for f in sub.glob("*"):
                        f.unlink(missing_ok=True)
                    sub.rmdir()
            except OSError:
                pass  # another request pruned it first


def original_name(path: str | Path | None) -> str:
    """A friendly stem for output files: the uploaded file's name without Gradio's temp path."""
    return Path(str(path or "image")).stem or "image"


def env_flag(name: str, default: bool) -> bool:
    v = os.environ.get(name)
    return default if v is None else v.strip().lower() not in ("0", "false", "no", "off", "")
