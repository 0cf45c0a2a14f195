"""The network: a 1D ResNet over the log-q grid with masked pooling.

Outputs ``logits`` (one per catalog class), ``embedding`` (the penultimate features, used
for the outlier score and, L2-normalised, by the supervised contrastive loss), ``params``
(encoded start parameters), ``structure_logits`` (no structure factor, then one per
catalog.STRUCTURE_FACTORS) and ``volfraction`` (4 x the volume fraction S sees).
"""
from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import nn

from sasview_automodel.encoding import MASK


ACTIVATIONS = {"gelu": nn.GELU, "relu": nn.ReLU}   # relu: onnxruntime fuses it into the convolution


class ResBlock(nn.Module):
    def __init__(self, c_in: int, c_out: int, stride: int = 1, kernel: int = 5, activation: str = "gelu"):
        super().__init__()
        self.act = ACTIVATIONS[activation]()
        pad = kernel // 2
        self.conv1 = nn.Conv1d(c_in, c_out, kernel, stride=stride, padding=pad, bias=False)
        self.bn1 = nn.BatchNorm1d(c_out)
        self.conv2 = nn.Conv1d(c_out, c_out, kernel, padding=pad, bias=False)
        self.bn2 = nn.BatchNorm1d(c_out)
        self.skip = (nn.Sequential(nn.Conv1d(c_in, c_out, 1, stride=stride, bias=False), nn.BatchNorm1d(c_out))
                     if stride != 1 or c_in != c_out else nn.Identity())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.act(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return self.act(y + self.skip(x))


class CurveNet(nn.Module):
    """features (B, C, G) -> (logits (B, K), embedding (B, E), start parameters (B, S),
    structure logits (B, 1 + n_structure), volume fraction (B, 1))."""

    def __init__(self, n_channels: int, n_classes: int, widths=(32, 64, 96, 128), embedding: int = 128,
                 n_regression: int = 0, n_structure: int = 0, kernel: int = 5, activation: str = "gelu"):
        super().__init__()
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, not {activation!r}")
        self.stem = nn.Sequential(nn.Conv1d(n_channels, widths[0], 7, padding=3, bias=False),
                                  nn.BatchNorm1d(widths[0]), ACTIVATIONS[activation]())
        blocks, c = [], widths[0]
        for i, w in enumerate(widths):
            blocks += [ResBlock(c, w, stride=1 if i == 0 else 2, kernel=kernel, activation=activation),
                       ResBlock(w, w, kernel=kernel, activation=activation)]
            c = w
        self.blocks = nn.Sequential(*blocks)
        self.downsample = 2 ** (len(widths) - 1)
        self.head = nn.Sequential(nn.Linear(2 * c, embedding), nn.GELU(), nn.Linear(embedding, embedding))
        self.classifier = nn.Linear(embedding, n_classes)
        self.regressor = nn.Linear(embedding, max(n_regression, 1))
        self.structure = nn.Linear(embedding, n_structure + 1) if n_structure else None
        self.volfraction = nn.Linear(embedding, 1) if n_structure else None

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return self.heads(x, self.blocks(self.stem(x)))

    def heads(self, x: torch.Tensor, h: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """Masked pooling of the trunk output ``h`` (B, C, G') and every head."""
        mask = x[:, MASK:MASK + 1]
        m = F.max_pool1d(mask, self.downsample, self.downsample, ceil_mode=True)[..., : h.shape[-1]]
        mean = (h * m).sum(-1) / m.sum(-1).clamp_min(1.0)
        peak = (h + (m - 1.0) * 1e4).amax(-1)
        emb = self.head(torch.cat([mean, peak], dim=1))
        h = F.gelu(emb)
        out = (self.classifier(h), emb, self.regressor(h))
        if self.structure is not None:
            out += (self.structure(h), self.volfraction(h))
        return out


class Conv2dTrunk(nn.Module):
    """Export-time twin of a CurveNet whose convolutional trunk runs as Conv2d of height 1.

    Same weights and the same function; onnxruntime's 2D convolution kernels are about 25 %
    faster on CPU than its 1D ones for this network (measured, docs/benchmarks.md).

    With ``ood_bank`` (N, E: L2-normalised embeddings of training curves) the graph has one more
    output, ``knn_distance`` (B,): 1 - the ``knn_k``-th largest cosine similarity of the
    embedding to the bank (sasview_automodel.scoring.knn_distance, Sun et al. 2022)."""

    def __init__(self, net: CurveNet, ood_bank=None, knn_k: int = 10):
        super().__init__()
        self.net = copy.deepcopy(net).eval()
        _convert_to_2d(self.net.stem)
        _convert_to_2d(self.net.blocks)
        self.knn_k = knn_k
        self.register_buffer("ood_bank", None if ood_bank is None else torch.as_tensor(ood_bank, dtype=torch.float32))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        h = self.net.blocks(self.net.stem(x.unsqueeze(2))).squeeze(2)
        out = self.net.heads(x, h)
        if self.ood_bank is None:
            return out
        sims = F.normalize(out[1], dim=1) @ self.ood_bank.T
        return out + (1.0 - torch.topk(sims, self.knn_k, dim=1).values[:, -1],)


def _convert_to_2d(module: nn.Module) -> None:
    """Replace every Conv1d / BatchNorm1d inside ``module`` by its height-1 Conv2d / BatchNorm2d twin."""
    for name, child in module.named_children():
        if isinstance(child, nn.Conv1d):
            conv = nn.Conv2d(child.in_channels, child.out_channels, (1, child.kernel_size[0]), (1, child.stride[0]),
                             (0, child.padding[0]), bias=child.bias is not None)
            conv.weight.data = child.weight.data[:, :, None, :].clone()
            if child.bias is not None:
                conv.bias.data = child.bias.data.clone()
            setattr(module, name, conv)
        elif isinstance(child, nn.BatchNorm1d):
            bn = nn.BatchNorm2d(child.num_features, eps=child.eps, momentum=child.momentum)
            bn.load_state_dict(child.state_dict())
            setattr(module, name, bn.eval())
        else:
            _convert_to_2d(child)


def supcon_loss(emb: torch.Tensor, labels: torch.Tensor, temperature: float = 0.1) -> torch.Tensor:
    """Supervised contrastive loss (Khosla et al. 2020) on L2-normalised embeddings."""
    z = F.normalize(emb, dim=1)
    sim = z @ z.T / temperature
    n = z.shape[0]
    eye = torch.eye(n, dtype=torch.bool, device=z.device)
    sim = sim.masked_fill(eye, -1e9)
    pos = (labels[:, None] == labels[None, :]) & ~eye   # any shared label, -1 (exposure) included
    log_prob = sim - torch.logsumexp(sim, dim=1, keepdim=True)
    n_pos = pos.sum(1).clamp_min(1)
    return -((log_prob * pos).sum(1) / n_pos).mean()
