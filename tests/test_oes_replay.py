"""Precomputed OES runs: recorded once, found by photo + settings, replayed as ``live.stream`` snapshots,
and the shipped replays of the example photos show the paper's point (dense DIP overfits, Sparse-DIP holds)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from restorelab.oes.live import LiveConfig, stream
from restorelab.oes.replay import find, record, settings_of
from restorelab.oes.sparse_dip import MaskPlan

REPO = Path(__file__).resolve().parents[1]
SHIPPED = REPO / "examples" / "oes-replay"


def _photo(seed=0, size=32):
    rng = np.random.default_rng(seed)
    base = np.linspace(0, 1, size, dtype=np.float32)
    img = np.stack([np.add.outer(base, base) / 2] * 3, -1) + 0.05 * rng.standard_normal((size, size, 3))
    return np.clip(img, 0, 1).astype(np.float32)


PLAN = MaskPlan(spec="random", preset="tiny", density=0.2, seed=0)
SETTINGS = settings_of(25, 0, "random", "tiny", 0.2, True)


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    from restorelab.oes._common import add_noise

    clean = _photo()
    noisy = add_noise(clean, 25, 0)
    out = tmp_path_factory.mktemp("replay")
    config = LiveConfig(steps=12, every=4, dense=True)
    path = record(clean, noisy, SETTINGS, PLAN, config, out, "photo")
    live = list(stream(noisy, clean=clean, plan=PLAN, config=config))
    return clean, out, path, live


def test_find_matches_only_the_same_crop_and_settings(recorded):
    clean, out, path, _ = recorded
    assert find(clean, SETTINGS, out).path == path
    assert find(clean, SETTINGS | {"sigma": 30.0}, out) is None
    assert find(clean, SETTINGS | {"dense": False}, out) is None
    other = clean.copy()
    other[0, 0, 0] = 1.0 - other[0, 0, 0]
    assert find(other, SETTINGS, out) is None
    assert find(clean, SETTINGS, out / "missing") is None


def test_snapshots_replay_the_recorded_run(recorded):
    clean, out, _, live = recorded
    snaps = list(find(clean, SETTINGS, out).snapshots())
    assert [s["step"] for s in snaps] == [s["step"] for s in live] == [4, 8, 12]
    assert [s["done"] for s in snaps] == [False, False, True]
    for rep, run in zip(snaps, live):
        assert rep["replay"] and rep["sparse"].shape == run["sparse"].shape == clean.shape
        for k in ("sparse", "dense"):
            # JPEG frames: close to the live images, not equal; the curves are the recorded floats
            assert np.abs(rep[k] - run[k]).mean() < 0.03
            assert rep["curves"][k]["clean"] == pytest.approx(run["curves"][k]["clean"], abs=5.1e-5)
            assert len(rep["curves"][k]["clean"]) == rep["step"]


def test_a_broken_or_foreign_file_is_skipped(recorded, tmp_path):
    clean, out, path, _ = recorded
    (tmp_path / "bad.json").write_text("{not json")
    (tmp_path / "old.json").write_text(json.dumps(json.loads(path.read_text()) | {"version": 0}))
    assert find(clean, SETTINGS, tmp_path) is None


def test_the_app_replays_instead_of_computing(recorded, monkeypatch, tmp_path):
    from PIL import Image

    from restorelab.io import to_uint8
    from restorelab.ui import oes_tab, settings

    clean, out, _, _ = recorded
    photo = tmp_path / "photo.png"
    Image.fromarray(to_uint8(clean)).save(photo)
    monkeypatch.setattr(settings, "oes_replay_dir", lambda: out)
    monkeypatch.setattr(oes_tab, "REPLAY_FRAME_SECONDS", 0.0)
    req = oes_tab.parse_request(sigma=25, mask="random", density=0.2, steps=500, size=32, preset="tiny")
    states = list(oes_tab.run_oes(str(photo), req))
    last = oes_tab.details(states[-1])
    assert last["replay"] and last["done"] and last["steps"] == last["step"] == 12  # the recorded length
    assert "replay of a precomputed run" in oes_tab.status_text(last)
    live = oes_tab.parse_request(sigma=25, mask="random", density=0.2, steps=10, size=32, preset="tiny", replay=False)
    last = oes_tab.details(list(oes_tab.run_oes(str(photo), live))[-1])
    assert last["replay"] is None and last["step"] == 10


def test_record_replays_cli(tmp_path):
    from PIL import Image

    from restorelab.io import to_uint8

    photo = tmp_path / "p.png"
    Image.fromarray(to_uint8(_photo(1, 40))).save(photo)
    res = subprocess.run([sys.executable, "-m", "restorelab", "oes", "record-replays", str(photo), "--out",
                          str(tmp_path / "r"), "--mask", "random", "--size", "32", "--steps", "6", "--frames", "3",
                          "--threads", "1", "--json"], capture_output=True, text=True, cwd=REPO, timeout=300)
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    rec = json.loads(Path(out["replays"][0]["replay"]).read_text())
    assert rec["frame_steps"] == [2, 4, 6] and set(rec["files"]) == {"sparse", "dense"}
    assert out["settings"] == settings_of(25, 0, "random", None, None, True)
    bad = subprocess.run([sys.executable, "-m", "restorelab", "oes", "record-replays", str(photo), "--frames", "9",
                          "--steps", "4"], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert bad.returncode != 0 and "frames" in bad.stderr and "Traceback" not in bad.stderr


@pytest.mark.skipif(not any(SHIPPED.glob("*.json")), reason="no shipped replays")
def test_shipped_replays_cover_the_examples_at_the_app_defaults_and_show_the_effect():
    from restorelab.io import load_image
    from restorelab.oes._common import add_noise  # noqa: F401 (the recording's noise)
    from restorelab.oes.cli import centre_crop
    from restorelab.ui import oes_tab, settings

    req = oes_tab.parse_request()
    for photo in settings.example_photos():
        clean = centre_crop(load_image(photo), req.size)
        rep = oes_tab._replay_for(clean, req)
        assert rep is not None, f"no replay of {photo.name} at the app's defaults"
        assert rep.steps > req.steps
        c = rep.record["curves"]
        dense, sparse = c["dense"]["clean"], c["sparse"]["clean"]
        assert len(dense) == len(sparse) == rep.steps
        assert max(dense) - dense[-1] > 2.0, photo.name  # dense DIP peaks, then overfits
        assert sparse[-1] > dense[-1] + 2.0, photo.name  # Sparse-DIP holds
