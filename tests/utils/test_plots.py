import numpy as np

from rlhf_from_scratch.utils.plots import trailing_mean


def test_trailing_mean_has_no_edge_dip():
    y = np.full(10, 5.0)
    assert np.allclose(trailing_mean(y, 4), 5.0)  # a flat curve stays flat at both ends
    assert np.allclose(trailing_mean(np.arange(5.0), 2), [0.0, 0.5, 1.5, 2.5, 3.5])
