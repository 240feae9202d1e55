"""The shared torch helpers: image <-> tensor and scoped thread counts."""

import numpy as np
import pytest
import torch

from restorelab.errors import RestoreLabError
from restorelab.tensors import threads, to_image, to_tensor, with_threads


def test_image_tensor_round_trip():
    img = np.random.default_rng(0).random((5, 7, 3)).astype(np.float32)
    x = to_tensor(img)
    assert x.shape == (1, 3, 5, 7) and x.dtype == torch.float32
    np.testing.assert_array_equal(to_image(x), img)
    assert to_image(x * 2).max() <= 1.0
    with pytest.raises(RestoreLabError, match="H x W x 3"):
        to_tensor(np.zeros((5, 7)))


def test_threads_restores_the_count_even_on_error():
    before = torch.get_num_threads()
    with pytest.raises(ValueError):
        with threads(before + 1):
            assert torch.get_num_threads() == before + 1
            raise ValueError
    assert torch.get_num_threads() == before
    with threads(0):  # 0: leave as is
        assert torch.get_num_threads() == before


def test_with_threads_holds_the_count_only_while_an_item_is_computed():
    before = torch.get_num_threads()

    def items():
        for _ in range(2):
            yield torch.get_num_threads()

    seen = []
    for n in with_threads(items(), before + 1):
        seen.append(n)
        assert torch.get_num_threads() == before
    assert seen == [before + 1] * 2 and torch.get_num_threads() == before


def test_base_threads_is_the_count_outside_any_threads_block():
    from restorelab.tensors import base_threads

    before = torch.get_num_threads()
    assert base_threads() == before
    with threads(1):  # e.g. the app's lottery demo computing a round on one thread
        with threads(3):
            assert base_threads() == before and torch.get_num_threads() == 3
        assert base_threads() == before
    assert base_threads() == before
