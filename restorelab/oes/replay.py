"""Precomputed Sparse-DIP runs, replayed instantly (the app's example photos).

A full-length run (3,000 steps: dense DIP climbs, peaks and overfits while Sparse-DIP holds) takes
minutes on 2 cores, longer than a visitor waits. So ``record`` keeps what ``live.stream`` yielded
for one photo and one setting, small: the PSNR curves of every step, the run's info and timings,
and the Sparse-DIP / dense-DIP images at each snapshot as one JPEG film strip per fit (frames
stacked top to bottom). ``find`` looks a replay up by the SHA-256 of the working crop's 8-bit
pixels and the settings that change the run, so the same photo uploaded again replays too and any
other setting runs live. ``Replay.snapshots`` yields dicts shaped as ``live.stream``'s.

    python -m restorelab oes record-replays examples/*.jpg --out examples/oes-replay
"""

from __future__ import annotations

import hashlib
import io
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

from restorelab.errors import RestoreLabError

VERSION = 1
JPEG_QUALITY = 92  # frames are for the eye; the PSNRs shown are the recorded float measurements


def settings_of(sigma: float, noise_seed: int, mask: str, preset: str | None, density: float | None,
                dense: bool) -> dict:
    """The settings a replay must match (everything but the number of steps)."""
    return {"sigma": float(sigma), "noise_seed": int(noise_seed), "mask": str(mask), "preset": preset,
            "density": None if density is None else float(density), "dense": bool(dense)}


def replay_key(clean: np.ndarray, settings: dict) -> str:
    from restorelab.io import to_uint8

    h = hashlib.sha256(to_uint8(clean).tobytes())
    h.update(repr(clean.shape).encode())
    h.update(json.dumps(settings, sort_keys=True).encode())
    return h.hexdigest()


def _strip(frames: list[np.ndarray]) -> bytes:
    from PIL import Image

    from restorelab.io import to_uint8

    buf = io.BytesIO()
    Image.fromarray(to_uint8(np.concatenate(frames, axis=0))).save(buf, format="JPEG", quality=JPEG_QUALITY)
    return buf.getvalue()


def _unstrip(path: Path, n: int) -> list[np.ndarray]:
    from PIL import Image

    strip = np.asarray(Image.open(path).convert("RGB"), dtype=np.float32) / 255.0
    if strip.shape[0] % n:
        raise RestoreLabError(f"{path}: {strip.shape[0]} rows do not hold {n} frames")
    return np.split(strip, n, axis=0)


def record(clean: np.ndarray, noisy: np.ndarray, settings: dict, plan, config, out: str | Path,
           name: str, log=None) -> Path:
    """Run ``live.stream`` once and write ``out/name.json`` (+ ``.sparse.jpg``, ``.dense.jpg``)."""
    from restorelab.oes.live import stream
    from restorelab.io import atomic_write

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    frames: dict[str, list[np.ndarray]] = {"sparse": [], "dense": []}
    steps, seconds, last = [], [], None
    for snap in stream(noisy, clean=clean, plan=plan, config=config):
        steps.append(snap["step"])
        seconds.append(round(snap["seconds"], 2))
        for k in frames:
            if snap[k] is not None:
                frames[k].append(snap[k])
        last = snap
        if log:
            log(f"{name}: step {snap['step']}/{snap['steps']} ({snap['seconds']:.0f} s)")
    files = {}
    for k, fs in frames.items():
        if fs:
            files[k] = f"{name}.{k}.jpg"
            atomic_write(out / files[k], lambda tmp, fs=fs: tmp.write_bytes(_strip(fs)))
    info = {k: v for k, v in last["info"].items() if k not in ("mask_file", "mask")}
    record_ = {"version": VERSION, "key": replay_key(clean, settings), "settings": settings,
               "shape": list(clean.shape[:2]), "steps": last["steps"], "every": config.every,
               "frame_steps": steps, "frame_seconds": seconds, "curves": _rounded(last["curves"]), "info": info,
               "files": files, "live_config": config.to_dict(), "threads": config.threads,
               "recorded_at": time.strftime("%Y-%m-%d")}
    path = out / f"{name}.json"
    atomic_write(path, lambda tmp: tmp.write_text(json.dumps(record_)))
    return path


def _rounded(curves: dict) -> dict:
    """PSNRs to 1e-4 dB: a third of the file, nothing the eye or the summary can see."""
    return {k: {c: [round(float(y), 4) for y in ys] for c, ys in v.items()} for k, v in curves.items()}


@dataclass(frozen=True)
class Replay:
    path: Path
    record: dict

    @property
    def steps(self) -> int:
        return int(self.record["steps"])

    def snapshots(self) -> Iterator[dict]:
        """The recorded snapshots, as ``live.stream`` yields them (curves cut at each step)."""
        r = self.record
        n = len(r["frame_steps"])
        frames = {k: _unstrip(self.path.parent / f, n) for k, f in r["files"].items()}
        for i, (step, secs) in enumerate(zip(r["frame_steps"], r["frame_seconds"])):
            curves = {k: {c: ys[:step] for c, ys in v.items()} for k, v in r["curves"].items()}
            yield {"step": step, "steps": r["steps"], "sparse": frames["sparse"][i],
                   "dense": frames["dense"][i] if "dense" in frames else None, "curves": curves,
                   "seconds": secs, "done": i == n - 1, "info": r["info"], "replay": True}


def find(clean: np.ndarray, settings: dict, root: str | Path) -> Replay | None:
    """The replay in ``root`` recorded for this crop and these settings, or None."""
    root = Path(root)
    if not root.is_dir():
        return None
    key = replay_key(clean, settings)
    for p in sorted(root.glob("*.json")):
        try:
            rec = json.loads(p.read_text())
        except (OSError, ValueError):
            continue
        if isinstance(rec, dict) and rec.get("version") == VERSION and rec.get("key") == key:
            return Replay(p, rec)
    return None
