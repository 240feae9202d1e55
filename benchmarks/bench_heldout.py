"""Do no harm, off the training distribution: PSNR of input and output against the clean photo for
photo sets and degradations the real-photo models never trained on.

    python benchmarks/bench_heldout.py --models real-cpu,real-cpu+guard > benchmarks/results/heldout-guard.json
    python benchmarks/bench_heldout.py --models real-cpu,real-cpu+guard --sets Set5 > benchmarks/results/heldout-guard-set5.json
    python benchmarks/bench_heldout.py --table benchmarks/results/heldout-guard.json benchmarks/results/heldout-guard-set5.json

Sets: McMaster and Set14 (not BSDS-like: stronger colours, finer detail, line art and text) beside
CBSD68 (the BSDS distribution of the training photos); Set5 (5 photos), kept unseen while the guard's
thresholds were chosen on the other three. Degradations none of our models trained on
(WebP, Gaussian blur, bicubic down-up sampling, a resized JPEG, Poisson and salt-and-pepper noise,
under-exposure noise, a grey photo) plus clean photos and mild JPEGs (q60, q90). An output identical
to the clean photo scores ``PSNR_CAP`` (100 dB). Each photo is its
top-left ``--crop``² (or all of it when smaller), degraded with a seed fixed per photo. "Harm" is a
mean output below the input; ``worst`` is the worst single photo. ``NAME+guard``: the model behind the
do-no-harm guard (``restorelab.inference.guard``; ``restored`` counts the outputs it kept). Prints JSON
(CPU flags included); ``--table`` prints docs/real-photos.md's held-out table from such JSON files
(each model against itself behind the guard).
"""

import argparse
import json
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from restorelab.data import list_images  # noqa: E402
from restorelab.degradations import get  # noqa: E402
from restorelab.evaluation import PSNR_CAP  # noqa: E402
from restorelab.inference import load_model, restore  # noqa: E402
from restorelab.inference.backends import cpu_info  # noqa: E402
from restorelab.inference.guard import guard, split_method  # noqa: E402
from restorelab.io import load_image  # noqa: E402
from restorelab.metrics.noise import LUMA  # noqa: E402

SETS = {"CBSD68": "test/denoise/CBSD68", "McMaster": "test/denoise/McMaster", "Set14": "test/sr/Set14",
        "Set5": "test/sr/Set5"}
DEFAULT_SETS = "CBSD68,McMaster,Set14"  # Set5 stayed unseen while the guard's thresholds were chosen


def _codec(img: np.ndarray, ext: str, flag: int, quality: int) -> np.ndarray:
    u8 = (np.clip(img, 0, 1) * 255 + 0.5).astype(np.uint8)[:, :, ::-1]
    ok, buf = cv2.imencode(ext, np.ascontiguousarray(u8), [flag, quality])
    return cv2.imdecode(buf, cv2.IMREAD_COLOR)[:, :, ::-1].astype(np.float32) / 255


def _resized_jpeg(img: np.ndarray, rng) -> np.ndarray:
    h, w = img.shape[:2]
    small = cv2.resize(img, (w // 2, h // 2), interpolation=cv2.INTER_AREA)
    return _codec(cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC), ".jpg", cv2.IMWRITE_JPEG_QUALITY, 75)


def _grey(img: np.ndarray) -> np.ndarray:
    return np.repeat((img @ LUMA)[..., None], 3, axis=-1)


DEGRADATIONS = {  # name -> (clean photo -> clean reference, clean reference + rng -> input)
    "clean": (None, lambda x, r: x),
    "clean grey": (_grey, lambda x, r: x),
    "jpeg q90": (None, lambda x, r: get("jpeg")(x, r, quality=90)),
    "jpeg q60": (None, lambda x, r: get("jpeg")(x, r, quality=60)),
    "webp q70": (None, lambda x, r: _codec(x, ".webp", cv2.IMWRITE_WEBP_QUALITY, 70)),
    "webp q30": (None, lambda x, r: _codec(x, ".webp", cv2.IMWRITE_WEBP_QUALITY, 30)),
    "half size, bicubic back, jpeg q75": (None, _resized_jpeg),
    "bicubic down-up x0.5": (None, lambda x, r: get("sr")(x, r, scale=0.5, down="bicubic", up="bicubic")),
    "gaussian blur 1.0": (None, lambda x, r: get("gaussian_blur")(x, r, sigma=1.0)),
    "poisson noise": (None, lambda x, r: get("poisson_noise")(x, r)),
    "salt and pepper 1%": (None, lambda x, r: get("salt_pepper")(x, r, snr=0.99)),
    "under-exposed x0.3, sigma 8, brightened": (
        None, lambda x, r: np.clip(get("gaussian_noise")(x * 0.3, r, sigma=8) / 0.3, 0, 1)),
}


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((np.clip(a, 0, 1) - b) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(1 / mse)


def table(paths: list[str], data_root: str = "../shared/datasets") -> str:
    """Markdown: per degradation and set, the model's mean gain over the input without -> with the
    guard, the photos it left unchanged in brackets (clean rows: the output against the input)."""
    cells, sets = {}, []
    for path in paths:
        res = json.loads(Path(path).read_text())
        guarded = [m for m in res["models"] if split_method(m)[1]]
        for m in guarded:
            plain, kept = res["models"][split_method(m)[0]], res["models"][m]
            for key, row in kept.items():
                set_name, deg = key.split(" / ", 1)
                sets += [set_name] if set_name not in sets else []
                n = min(res["images"], len(list_images(str(Path(data_root) / SETS[set_name]))))  # as main() took them
                left = n - row["restored"]
                if "gain" in row:
                    cell = f"{plain[key]['gain']:+.2f} → {row['gain']:+.2f} ({left}/{n})"
                else:
                    cell = f"{plain[key]['output']:.1f} dB → {left}/{n} unchanged"
                cells.setdefault(deg, {})[set_name] = cell
    lines = ["| input | " + " | ".join(sets) + " |", "| --- |" + " --- |" * len(sets)]
    for deg, row in cells.items():
        label = {"clean": "clean (output against input)", "clean grey": "clean, grey"}.get(deg, deg)
        lines.append(f"| {label} | " + " | ".join(row.get(s, "–") for s in sets) + " |")
    return "\n".join(lines)


def main() -> None:
    if sys.argv[1:2] == ["--table"]:
        print(table(sys.argv[2:]))
        return
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--models", default="real-cpu", help="comma-separated shipped model names")
    p.add_argument("--data-root", default="../shared/datasets", help="folder holding test/")
    p.add_argument("--images", type=int, default=6, help="photos per set (first N, sorted)")
    p.add_argument("--crop", type=int, default=512, help="top-left crop side")
    p.add_argument("--sets", default=DEFAULT_SETS, help=f"comma-separated, of {', '.join(SETS)}")
    a = p.parse_args()
    bad = [n for n in a.sets.split(",") if n not in SETS]
    if bad:
        raise SystemExit(f"unknown set(s) {', '.join(bad)}; valid: {', '.join(SETS)}")
    t0 = time.perf_counter()
    out = {"benchmark": "heldout", "images": a.images, "crop": a.crop, "models": {}, "cpu": cpu_info()}
    photos = {}
    for name in a.sets.split(","):
        rel = SETS[name]
        folder = Path(a.data_root) / rel
        if folder.is_dir():
            photos[name] = [load_image(f)[:a.crop, :a.crop] for f in list_images(str(folder))[:a.images]]
    if not photos:
        raise SystemExit(f"no test sets under {a.data_root}")
    for model_name in a.models.split(","):
        base, guarded = split_method(model_name)
        model = load_model(base)
        rows = out["models"][model_name] = {}
        for set_name, imgs in photos.items():
            for deg, (ref_fn, deg_fn) in DEGRADATIONS.items():
                res, kept = [], 0
                for i, img in enumerate(imgs):
                    ref = ref_fn(img) if ref_fn else img
                    x = np.clip(deg_fn(ref, np.random.default_rng(i)), 0, 1).astype(np.float32)
                    with torch.inference_mode():
                        y = restore(model, x)
                    if guarded:
                        y, verdict = guard(x, y)
                        kept += verdict.kept
                    res.append((_psnr(x, ref), min(_psnr(y, ref), PSNR_CAP), float((np.clip(y, 0, 1).mean() - x.mean()) * 255)))
                r = np.array(res)
                finite = np.isfinite(r[:, 0])
                row = {"output": round(float(r[:, 1].mean()), 3), "level_shift": round(float(r[:, 2].mean()), 3),
                       **({"restored": kept} if guarded else {})}
                if finite.all():
                    gain = r[:, 1] - r[:, 0]
                    row |= {"input": round(float(r[:, 0].mean()), 3), "gain": round(float(gain.mean()), 3),
                            "worst_gain": round(float(gain.min()), 3)}
                rows[f"{set_name} / {deg}"] = row
                print(f"{model_name:14s} {set_name:9s} {deg:42s} " + " ".join(f"{k} {v:+.2f}" for k, v in row.items()),
                      file=sys.stderr, flush=True)
    out["seconds"] = round(time.perf_counter() - t0, 1)
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
