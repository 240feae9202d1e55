"""The classroom lottery experiment: streamed rounds, deterministic; the full run shows the ticket win."""

import dataclasses

import pytest

from restorelab.errors import RestoreLabError
from restorelab.lottery.demo import DemoConfig, run_demo

SMALL = DemoConfig(width=8, depth=3, train_images=8, val_images=2, val_size=24, patch=16, batch_size=4,
                   steps=12, oneshot_steps=2, rounds=2, rate=0.5)


def test_yields_one_record_per_round_deterministically():
    recs = list(run_demo(SMALL))
    assert [r["round"] for r in recs] == [0, 1, 2]
    assert [r["sparsity"] for r in recs] == pytest.approx([0.0, 0.5, 0.75], abs=0.01)
    assert recs[0]["reinit_psnr"] is None and recs[0]["ticket_psnr"] == recs[0]["dense_psnr"]
    for r in recs[1:]:
        assert all(r[k] > 5 for k in ("ticket_psnr", "reinit_psnr", "oneshot_psnr"))
        assert r["kept_weights"] < r["total_weights"]
    again = list(run_demo(SMALL))
    strip = lambda rs: [{k: v for k, v in r.items() if k != "seconds"} for r in rs]  # noqa: E731
    assert strip(again) == strip(recs)


def test_generator_streams_before_the_end():
    gen = run_demo(SMALL)
    first = next(gen)
    assert first["round"] == 0
    gen.close()


def test_thread_count_is_the_callers_between_rounds():
    import torch

    from restorelab.models import TinyDenoiser

    before = torch.get_num_threads()
    seen = []
    hook = TinyDenoiser.forward

    def forward(self, x):
        seen.append(torch.get_num_threads())
        return hook(self, x)

    TinyDenoiser.forward = forward
    try:
        gen = run_demo(dataclasses.replace(SMALL, threads=before + 1, rounds=1))
        next(gen)  # suspended between rounds: the process is back on the caller's count
        assert torch.get_num_threads() == before
        list(gen)
    finally:
        TinyDenoiser.forward = hook
    assert torch.get_num_threads() == before and set(seen) == {before + 1}


def test_bad_config():
    with pytest.raises(RestoreLabError, match="reinit_seed"):
        DemoConfig(seed=3, reinit_seed=3)
    with pytest.raises(RestoreLabError, match="rate"):
        DemoConfig(rate=1.0)


@pytest.mark.slow
def test_full_demo_ticket_beats_random_reinit():
    recs = list(run_demo())
    assert recs[-1]["sparsity"] > 0.9
    for r in recs[-2:]:
        assert r["ticket_psnr"] > r["reinit_psnr"] + 1.0
        assert r["ticket_psnr"] > r["oneshot_psnr"]
