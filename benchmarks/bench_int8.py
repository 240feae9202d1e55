"""Is int8 post-training quantization (NNCF) worth a backend? Speed and PSNR against OpenVINO f32/bf16.

    pip install nncf      # not a RestoreLab requirement: this benchmark only
    python benchmarks/bench_int8.py [--model real-cpu] [--calib 36] [--threads 1] [--photos 12] > result.json

The shipped model's OpenVINO export is quantized by ``nncf.quantize`` (default preset, static 256²
input) on ``--calib`` crops of training photos degraded with the model's tasks in turn (the held-out
photos are not used). Four compiled models then take turns on one 256² input (best of 3):
f32, bf16 (the ``openvino-bf16`` backend), int8 and int8 with bf16 for the rest. Quality: the centre
256² crop of the first ``--photos`` CBSD68 photos per task, PSNR difference to float32 PyTorch (clean
photos: against the input). A backend that loses more than 0.1 dB, or is no faster than bf16,
is not worth shipping (issue 24's rule for int8).

Prints one JSON object (CPU flags, threads, seconds, PSNR differences per task).
"""

import argparse
import contextlib
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from restorelab.data import list_images, synthesize  # noqa: E402
from restorelab.inference import load_model, read_card  # noqa: E402
from restorelab.inference import backends as B  # noqa: E402
from restorelab.io import load_image  # noqa: E402
from restorelab.metrics import psnr  # noqa: E402

SIDE = 256
TASKS = ("clean", "denoise_25", "camera_noise", "jpeg", "heavy_rain", "dehaze")


def _chw(img: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(img.transpose(2, 0, 1)[None], dtype=np.float32)


def _calibration(data: Path, tasks: list[str], n: int) -> list[np.ndarray]:
    files = list_images(data)[:-8]  # the trainer's held-out photos stay out
    rng = np.random.default_rng(0)
    out = []
    for i in range(n):
        img = load_image(files[rng.integers(len(files))])
        y, x = rng.integers(img.shape[0] - SIDE), rng.integers(img.shape[1] - SIDE)
        out.append(_chw(synthesize(tasks[i % len(tasks)], img[y:y + SIDE, x:x + SIDE], seed=i)))
    return out


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", default="real-cpu", help="shipped model")
    p.add_argument("--calib", type=int, default=36, help="calibration crops")
    p.add_argument("--threads", type=int, default=1, help="OpenVINO threads")
    p.add_argument("--photos", type=int, default=12, help="CBSD68 photos per task for PSNR")
    p.add_argument("--data", type=Path, default=Path("../shared/datasets"), help="datasets folder")
    a = p.parse_args(argv)
    import nncf
    import openvino as ov

    torch.set_num_threads(a.threads)
    model = load_model(a.model)
    core = ov.Core()
    fp = core.read_model(str(B.export_openvino(model)))
    fp.reshape({0: [1, 3, SIDE, SIDE]})
    tasks = list(dict.fromkeys(read_card(a.model).tasks))
    calib = _calibration(a.data / "train" / "clean", tasks, a.calib)
    t0 = time.perf_counter()
    with contextlib.redirect_stdout(sys.stderr):  # NNCF's progress bars: stdout is the JSON
        q = nncf.quantize(fp, nncf.Dataset(calib), subset_size=len(calib))
    quantize_s = time.perf_counter() - t0

    def compiled(m, precision):
        cfg = {"INFERENCE_PRECISION_HINT": precision, "PERFORMANCE_HINT": "LATENCY", "INFERENCE_NUM_THREADS": a.threads}
        return core.compile_model(m, "CPU", cfg).create_infer_request()

    reqs = {"f32": compiled(fp, "f32"), "bf16": compiled(fp, "bf16"), "int8": compiled(q, "f32"),
            "int8+bf16": compiled(q, "bf16")}
    times = {k: [] for k in reqs}
    for _ in range(4):  # the first round warms up and is dropped
        for k, req in reqs.items():
            t = time.perf_counter()
            req.infer({0: calib[0]})
            times[k].append(time.perf_counter() - t)
    seconds = {k: round(min(v[1:]), 4) for k, v in times.items()}

    photos = list_images(a.data / "test" / "denoise" / "CBSD68")[: a.photos]
    quality = {}
    for task in TASKS:
        diffs = {k: [] for k in reqs}
        ref_psnr = []
        for i, f in enumerate(photos):
            img = load_image(f)
            y, x = (img.shape[0] - SIDE) // 2, (img.shape[1] - SIDE) // 2
            clean = img[y:y + SIDE, x:x + SIDE]
            deg = synthesize(task, clean, seed=i)
            target = deg if task == "clean" else clean
            with torch.no_grad():
                ref = model(torch.from_numpy(_chw(deg))).clamp(0, 1)[0].permute(1, 2, 0).numpy()
            base = psnr(ref, target)
            ref_psnr.append(base)
            for k, req in reqs.items():
                out = np.clip(req.infer({0: _chw(deg)})[0][0].transpose(1, 2, 0), 0, 1)
                diffs[k].append(psnr(out, target) - base)
        quality[task] = {"torch_psnr": round(float(np.mean(ref_psnr)), 3),
                         "psnr_minus_torch": {k: round(float(np.mean(v)), 3) for k, v in diffs.items()}}
    res = {"benchmark": "int8", "model": a.model, "cpu": B.cpu_info(), "threads": a.threads,
           "versions": {**B.versions(), "nncf": nncf.__version__}, "input": [SIDE, SIDE],
           "calibration_crops": len(calib), "quantize_seconds": round(quantize_s, 1), "seconds": seconds,
           "speedup_vs_bf16": {k: round(seconds["bf16"] / s, 2) for k, s in seconds.items()},
           "photos": len(photos), "quality": quality,
           "worst_loss_db": {k: round(min(q["psnr_minus_torch"][k] for q in quality.values()), 3) for k in reqs}}
    print(json.dumps(res, indent=1))
    return res


if __name__ == "__main__":
    main()
