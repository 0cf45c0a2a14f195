"""Narrowing a trained network into one with fewer channels (training/narrow.py)."""
from __future__ import annotations

import pytest

pytestmark = pytest.mark.slow   # torch training steps or a dask cluster: make test-unit leaves them out

torch = pytest.importorskip("torch")

from sasview_automodel.grid import CHANNELS  # noqa: E402
from training.model import CurveNet  # noqa: E402
from training.average import recompute_batchnorm  # noqa: E402
from training.narrow import narrow_into  # noqa: E402
from tests.conftest import random_features  # noqa: E402

N_REG, N_SQ = 31, 4


def _features(n: int, seed: int) -> torch.Tensor:
    return torch.from_numpy(random_features(n, seed))


def _net(widths, activation="gelu", seed=0) -> CurveNet:
    torch.manual_seed(seed)
    net = CurveNet(len(CHANNELS), 9, widths, 16, n_regression=N_REG, n_structure=N_SQ, activation=activation)
    net.train()
    with torch.no_grad():   # BatchNorm statistics and affine away from their defaults
        for m in net.modules():
            if isinstance(m, torch.nn.BatchNorm1d):
                m.weight.uniform_(0.5, 1.5)
                m.bias.normal_(0, 0.1)
        net(_features(64, 1))
    return net.eval()


def _kill_stage0_channels(net: CurveNet, stream: list[int], inner: list[int]) -> None:
    """Make ``stream`` channels of stage 0's residual stream and ``inner`` channels of its two blocks
    influence nothing: every weight that reads them is zero."""
    b0, b1, b2 = net.blocks[0], net.blocks[1], net.blocks[2]
    with torch.no_grad():
        for conv in (b0.conv1, b1.conv1, b2.conv1, b2.skip[0]):
            conv.weight[:, stream] = 0.0
        for block in (b0, b1):
            block.conv2.weight[:, inner] = 0.0


def test_dropping_channels_that_influence_nothing_keeps_the_function_exactly():
    src = _net((12, 16, 24))
    _kill_stage0_channels(src, stream=[1, 4, 7, 10], inner=[0, 5, 6, 11])
    dst = _net((8, 16, 24), seed=1)
    kept = narrow_into(src, dst)
    assert kept["stage0"] == [0, 2, 3, 5, 6, 8, 9, 11]
    assert kept["block0.inner"] == kept["block1.inner"] == [1, 2, 3, 4, 7, 8, 9, 10]
    x = _features(16, 2)
    with torch.no_grad():
        for a, b in zip(src(x), dst(x)):
            assert torch.allclose(a, b, atol=1e-5), (a - b).abs().max()


def test_narrowing_into_the_same_widths_is_a_copy_and_the_activation_may_change():
    src = _net((8, 16))
    same = _net((8, 16), seed=3)
    narrow_into(src, same)
    x = _features(8, 4)
    with torch.no_grad():
        assert all(torch.equal(a, b) for a, b in zip(src(x), same(x)))
    relu = _net((8, 16), activation="relu", seed=3)
    narrow_into(src, relu)
    assert all(torch.equal(p, q) for p, q in zip(src.state_dict().values(), relu.state_dict().values()))


def test_after_a_real_narrowing_recalibration_measures_the_new_statistics():
    src = _net((12, 16, 24))
    dst = _net((8, 16, 24), activation="relu", seed=5)
    narrow_into(src, dst)
    x = _features(256, 6)
    recompute_batchnorm(dst, x.split(512))
    assert not dst.training
    # the first BatchNorm of stage 1 sees the narrowed stream: its running mean is now that input's mean
    seen = {}
    handle = dst.blocks[2].bn1.register_forward_pre_hook(lambda m, inp: seen.setdefault("z", inp[0]))
    with torch.no_grad():
        dst(x)
    handle.remove()
    z = seen["z"].transpose(0, 1).reshape(16, -1)
    assert torch.allclose(dst.blocks[2].bn1.running_mean, z.mean(1), atol=1e-4)
    assert torch.allclose(dst.blocks[2].bn1.running_var, z.var(1), rtol=1e-3)
    assert not torch.allclose(src.blocks[2].bn1.running_mean[:16], dst.blocks[2].bn1.running_mean)


@pytest.mark.parametrize("widths,kernel,match", [((16, 16), 5, "wider"), ((8, 16, 24), 5, "only the stage widths"),
                                                  ((8, 16), 3, "only the stage widths")])
def test_what_is_not_a_narrowing_is_refused(widths, kernel, match):
    src = _net((12, 16))
    torch.manual_seed(0)
    dst = CurveNet(len(CHANNELS), 9, widths, 16, n_regression=N_REG, n_structure=N_SQ, kernel=kernel)
    with pytest.raises(ValueError, match=match):
        narrow_into(src, dst)
