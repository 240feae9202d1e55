import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("RESTORELAB_DATA", ROOT.parent / "shared" / "datasets"))
# The app's models run on PyTorch in tests: ``auto`` would export every tiny model in a background
# thread (tests/test_app.py covers the auto path with a stubbed pick).
os.environ.setdefault("RESTORELAB_BACKEND", "torch")


@pytest.fixture(scope="module")
def server(app_env):
    """``(demo, url)``: the whole app, launched once per module under that module's ``app_env``."""
    from apphelpers import launched_app

    with launched_app() as running:
        yield running


@pytest.fixture(scope="module")
def client(server):
    from gradio_client import Client

    return Client(server[1], verbose=False)


@pytest.fixture(scope="session")
def weights(tmp_path_factory):
    """A ``promptir-test`` weights file, seeded: its backend key (``model_key``) is the same in every
    test and every run, so ``restore``'s default ``--backend auto`` exports and measures it once, into
    the cache, rather than once per test (~1 min each with OpenVINO and ONNX Runtime installed)."""
    import torch

    from restorelab.inference import save_weights
    from restorelab.models import create_model

    torch.manual_seed(0)
    p = tmp_path_factory.mktemp("weights") / "m.safetensors"
    save_weights(create_model("promptir-test"), p)
    return p


@pytest.fixture
def data_root():
    if not DATA.is_dir():
        pytest.skip(f"shared datasets not found at {DATA}")
    return DATA


# -- tiny lottery runs (promptir-test, a few steps each), shared across test files ----------------------
# Used by tests/test_lottery_cli.py, the app tests and the browser test.
# Torch is imported only when one is used.
LOTTERY_TRAIN_FLAGS = ["--model", "promptir-test", "--tasks", "denoise_25", "--val-count", "1", "--patch-size",
                       "16", "--batch-size", "2", "--steps", "3", "--warmup-steps", "1", "--val-size", "32",
                       "--threads", "1"]
# name -> strategy of the tickets ``lottery_tickets`` exports, as the shipped ones are named.
LOTTERY_TICKETS = {"mirl-g": "global", "mirl-lw": "layerwise", "pir-osm-1": "oneshot-magnitude",
                   "pir-osr-2": "oneshot-random", "reinit-g": "reinit"}


def run_lottery_cli(*argv) -> str:
    """``restorelab prune|export …`` in-process; returns what it printed."""
    import argparse
    import contextlib
    import io

    from restorelab.lottery.cli import add_parser

    p = argparse.ArgumentParser()
    add_parser(p.add_subparsers(dest="command", required=True))
    args = p.parse_args([str(a) for a in argv])
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        args.fn(args)
    return out.getvalue()


@pytest.fixture(scope="session")
def lottery_photos(tmp_path_factory):
    """Three tiny generated photos (the toy training set)."""
    from restorelab.io import save_png
    from restorelab.lottery.toydata import toy_images

    d = tmp_path_factory.mktemp("lottery-clean")
    for i, img in enumerate(toy_images(3, 40, seed=4)):
        save_png(d / f"img{i}.png", img)
    return d


@pytest.fixture(scope="session")
def lottery_imp_run(tmp_path_factory, lottery_photos):
    """A finished global IMP run: dense round 0, then rounds 1 and 2 (50% and 75% of the prunable weights)."""
    d = tmp_path_factory.mktemp("lottery-prune") / "g"
    run_lottery_cli("prune", "--strategy", "global", "--rate", "0.5", "--target", "0.7", "--target-over", "prunable",
                    "--steps-per-round", "2", "--run-dir", d, "--data-dir", lottery_photos, "--json",
                    *LOTTERY_TRAIN_FLAGS)
    return d


@pytest.fixture(scope="session")
def lottery_tickets(tmp_path_factory, lottery_imp_run):
    """A weights folder holding exported tickets (compact file, card, rounds file) named as in
    ``LOTTERY_TICKETS``: the global run, a layer-wise run from the same dense model, one-shot
    magnitude 30% and random 70% baselines, and the random re-init of the global ticket.
    Session-wide: copy it before changing anything in it."""
    runs = tmp_path_factory.mktemp("lottery-runs")
    weights = tmp_path_factory.mktemp("lottery-weights")
    dense = lottery_imp_run / "round_00"
    run_lottery_cli("prune", "--strategy", "layerwise", "--rate", "0.5", "--rounds", "2", "--steps-per-round", "2",
                    "--dense-run", dense, "--run-dir", runs / "lw", "--json")
    run_lottery_cli("prune", "--strategy", "oneshot-magnitude", "--amount", "0.3", "--dense-run", lottery_imp_run,
                    "--run-dir", runs / "osm", "--json")
    run_lottery_cli("prune", "--strategy", "oneshot-random", "--amount", "0.7", "--dense-run", lottery_imp_run,
                    "--run-dir", runs / "osr", "--json")
    run_lottery_cli("prune", "--strategy", "reinit", "--ticket-run", lottery_imp_run, "--run-dir", runs / "re",
                    "--json")
    sources = {"mirl-g": lottery_imp_run, "mirl-lw": runs / "lw", "pir-osm-1": runs / "osm",
               "pir-osr-2": runs / "osr", "reinit-g": runs / "re"}
    for name, run in sources.items():
        run_lottery_cli("export", "--run-dir", run, "--name", name, "--weights-dir", weights, "--json")
    return weights
