"""Weight averaging (training/average.py): the mean of the weights, BatchNorm statistics measured again."""
import numpy as np
import pytest

pytestmark = pytest.mark.slow   # torch training steps or a dask cluster: make test-unit leaves them out

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

from training.average import average_state, recompute_batchnorm  # noqa: E402


def test_average_state_means_floats_and_keeps_the_last_counters():
    a = {"w": torch.tensor([1.0, 2.0]), "n": torch.tensor(3)}
    b = {"w": torch.tensor([3.0, 6.0]), "n": torch.tensor(7)}
    out = average_state([a, b])
    assert torch.equal(out["w"], torch.tensor([2.0, 4.0])) and int(out["n"]) == 7
    assert torch.equal(a["w"], torch.tensor([1.0, 2.0]))   # inputs untouched


def test_recomputed_batchnorm_statistics_are_those_of_the_batches():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv1d(2, 4, 3, padding=1, bias=False), nn.BatchNorm1d(4))
    net[1].running_mean.fill_(100.0)   # stale statistics, as after averaging weights
    batches = [torch.randn(8, 2, 16) * 3 + 1 for _ in range(5)]
    recompute_batchnorm(net, batches)
    with torch.no_grad():
        h = torch.cat([net[0](x) for x in batches])
    expected_mean = h.mean(dim=(0, 2))
    assert torch.allclose(net[1].running_mean, expected_mean, atol=1e-5)
    assert torch.allclose(net[1].running_var, h.var(dim=(0, 2)), rtol=0.1)
    assert net[1].momentum == 0.1 and not net.training
