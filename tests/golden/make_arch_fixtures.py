#!/usr/bin/python3
"""Writes tests/golden/arch.gtfx: PyTorch references for the architecture tricks that
tests/test_arch_tricks.c compares gantry against.

Regenerate (from the repository root, on Debian with its PyTorch package):
    /usr/bin/python3 tests/golden/make_arch_fixtures.py
The seeds are fixed, so running it again writes byte-identical files. Inputs are drawn in float32;
the references are computed in float64 from those exact values and rounded to float32 once.

Records (file format: see make_fixtures.py):
  sn_{lin,conv,convt}.*  spectral normalization with torch.nn.utils.spectral_norm (Miyato et al.
                         2018; dim 1 for ConvTranspose2d), its u set to our u0, one training-mode
                         forward with n power iterations: the advanced u, sigma, W_SN, the layer's
                         output y, and the gradients of <y, gy> w.r.t. W (through sigma, u and v
                         constants), the bias and x.
  mbstd.*                minibatch standard deviation (ProGAN's strided grouping, StyleGAN2's channel
                         groups), written independently of gantry's formulation, with gradients.
  mbdisc.*               minibatch discrimination (Salimans et al. 2016, j = i included), with
                         gradients w.r.t. x and T.
"""
import os
import sys

import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from make_fixtures import gen, randn, write_gtfx  # noqa: E402


def unit(g, n):
    u = randn(g, n)
    return (u / u.norm()).float().double()  # stored in float32: use exactly those values


def spectral(prefix, g, module, x, iterations):
    module = module.double()
    w = randn(g, *module.weight.shape, scale=0.3)
    b = randn(g, *module.bias.shape, scale=0.1)
    with torch.no_grad():
        module.weight.copy_(w)
        module.bias.copy_(b)
    torch.nn.utils.spectral_norm(module, n_power_iterations=iterations, eps=1e-12)
    u0 = unit(g, module.weight_u.shape[0])
    with torch.no_grad():
        module.weight_u.copy_(u0)
    module.train()
    xl = x.clone().requires_grad_(True)
    y = module(xl)
    gy = randn(g, *y.shape)
    gw, gb, gx = torch.autograd.grad((y * gy).sum(), [module.weight_orig, module.bias, xl])
    u1 = module.weight_u.detach().clone()
    w_sn = module.weight.detach().clone()
    k = w.abs().flatten().argmax()
    sigma = w.flatten()[k] / w_sn.flatten()[k]
    recs = [("w", w), ("b", b), ("u0", u0), ("x", x), ("u1", u1), ("sigma", sigma),
            ("w_sn", w_sn), ("y", y), ("gy", gy), ("gw", gw), ("gb", gb), ("gx", gx)]
    return [(prefix + "." + n, t) for n, t in recs]


def mbstd_ref(x, group, channels):
    """Loops over groups as ProGAN defines them: sample i belongs to group i mod (N / group)."""
    n, c = x.shape[0], x.shape[1]
    m = n // group
    rest = x.shape[2:]
    maps = []
    for i in range(n):
        members = x[i % m::m]                                   # [group, C, ...]
        sd = torch.sqrt(members.var(dim=0, unbiased=False) + 1e-8)
        per = sd.reshape(channels, -1).mean(dim=1)              # [channels]
        maps.append(per.reshape(channels, *([1] * len(rest))).expand(channels, *rest))
    return torch.cat([x, torch.stack(maps)], dim=1)


def minibatch_std():
    g = gen(7101)
    recs = []
    for name, shape, group, channels in [("mbstd4", (8, 4, 3, 3), 4, 2), ("mbstd2", (6, 6), 2, 3)]:
        x = randn(g, *shape)
        xl = x.clone().requires_grad_(True)
        y = mbstd_ref(xl, group, channels)
        gy = randn(g, *y.shape)
        (gx,) = torch.autograd.grad((y * gy).sum(), [xl])
        recs += [(name + ".x", x), (name + ".y", y), (name + ".gy", gy), (name + ".gx", gx)]
    return recs


def minibatch_discrimination():
    g = gen(7201)
    n, a, kernels, dim = 6, 5, 3, 4
    x = randn(g, n, a).requires_grad_(True)
    t = randn(g, kernels * dim, a, scale=0.3).requires_grad_(True)
    m = (x @ t.t()).reshape(n, kernels, dim)
    o = torch.zeros(n, kernels, dtype=torch.float64)
    for i in range(n):
        for j in range(n):
            o[i] = o[i] + torch.exp(-(m[i] - m[j]).abs().sum(dim=1))
    y = torch.cat([x, o], dim=1)
    gy = randn(g, *y.shape)
    gx, gt = torch.autograd.grad((y * gy).sum(), [x, t])
    return [("mbdisc.x", x), ("mbdisc.t", t), ("mbdisc.y", y), ("mbdisc.gy", gy),
            ("mbdisc.gx", gx), ("mbdisc.gt", gt)]


def main():
    torch.manual_seed(0)  # spectral_norm draws its own initial u and v; ours replace them
    g = gen(7001)
    recs = []
    recs += spectral("sn_lin", g, torch.nn.Linear(7, 5), randn(g, 3, 7), 1)
    recs += spectral("sn_conv", g, torch.nn.Conv2d(3, 4, 3, stride=2, padding=1),
                     randn(g, 2, 3, 6, 6), 2)
    recs += spectral("sn_convt", g, torch.nn.ConvTranspose2d(3, 4, 4, stride=2, padding=1),
                     randn(g, 2, 3, 3, 3), 1)
    recs += minibatch_std()
    recs += minibatch_discrimination()
    path = os.path.join(HERE, "arch.gtfx")
    n = write_gtfx(path, recs)
    print("wrote %s (%d bytes, %d tensors)" % (path, n, len(recs)))


if __name__ == "__main__":
    main()
