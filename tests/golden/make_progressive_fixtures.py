#!/usr/bin/python3
"""Writes tests/golden/progressive.gtfx: a PyTorch reference for the progressive family's
discriminator (Karras et al. 2018) that tests/test_progressive.c compares gantry against.

Regenerate (from the repository root, on Debian with its PyTorch package):
    /usr/bin/python3 tests/golden/make_progressive_fixtures.py
The seed is fixed, so running it again writes a byte-identical file. Inputs are drawn in float32;
the reference is computed in float64 from those exact values and rounded to float32 once.

The network: D for 3-channel 16x16 images, width 4 (4 channels at every level), minibatch std
with groups of 2 (one map), at resolution 16 while it fades in with alpha = 0.35:
    h = lrelu(from_rgb16(x)); h = down(lrelu(b16.conv1(lrelu(b16.conv0(h)))))
    h = (1 - alpha) lrelu(from_rgb8(down(x))) + alpha h
    h = down(lrelu(b8.conv1(lrelu(b8.conv0(h))))); h = mbstd(h)
    h = lrelu(b4.conv(h)); h = lrelu(b4.fc(flatten(h))); logit = b4.out(h)
with equalized learning rate (every weight times gain / sqrt(fan_in); gain sqrt(2), 1 for b4.out),
3x3 convs padded by 1, lrelu slope 0.2, down = 2x2 average pooling. from_rgb4 is declared but
unused at this resolution (its gradient is zero).

Records (file format: see make_fixtures.py):
  d.<name>      D's parameters by gantry's names (weights N(0, 1), biases N(0, 0.1^2))
  real, fake    [4, 3, 16, 16]; eps [4, 1, 1, 1] U[0, 1)
  alpha         []
  logit_real    D(real) [4, 1]
  penalty       WGAN-GP at x^ = fake + eps (real - fake): E (sqrt(||grad x^ D||^2 + 1e-12) - 1)^2
  grad.<name>   the penalty's gradient w.r.t. each parameter (through the gradient: double backward)
"""
import math
import os
import sys

import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from make_fixtures import gen, rand, randn, write_gtfx  # noqa: E402

C, RES, WIDTH, N, GROUP, ALPHA = 3, 16, 4, 4, 2, 0.35
SQRT2 = math.sqrt(2.0)


def shapes():
    """gantry's declaration order: from_rgb per level, blocks from the top down, the 4x4 block."""
    out = []
    for r in (4, 8, 16):
        out += [("from_rgb%d.weight" % r, (WIDTH, C, 1, 1)), ("from_rgb%d.bias" % r, (WIDTH,))]
    for r in (16, 8):
        for k in (0, 1):
            out += [("b%d.conv%d.weight" % (r, k), (WIDTH, WIDTH, 3, 3)),
                    ("b%d.conv%d.bias" % (r, k), (WIDTH,))]
    out += [("b4.conv.weight", (WIDTH, WIDTH + 1, 3, 3)), ("b4.conv.bias", (WIDTH,)),
            ("b4.fc.weight", (WIDTH, WIDTH * 16)), ("b4.fc.bias", (WIDTH,)),
            ("b4.out.weight", (1, WIDTH)), ("b4.out.bias", (1,))]
    return out


def eq(w, gain):
    return w * (gain / math.sqrt(w[0].numel()))


def lrelu(x):
    return F.leaky_relu(x, 0.2)


def mbstd(x, group):
    """ProGAN: sample i in group i mod (N / group); biased std over the group, averaged."""
    n, c, h, w = x.shape
    m = n // group
    y = x.reshape(group, m, c, h, w)
    sd = torch.sqrt(((y - y.mean(0, keepdim=True)) ** 2).mean(0) + 1e-8)   # [M, C, H, W]
    s = sd.mean(dim=(1, 2, 3))                                            # [M]
    maps = s.reshape(1, m, 1, 1, 1).expand(group, m, 1, h, w).reshape(n, 1, h, w)
    return torch.cat([x, maps], 1)


def discriminator(p, x, alpha):
    def conv(h, name, pad, gain=SQRT2):
        return F.conv2d(h, eq(p[name + ".weight"], gain), p[name + ".bias"], padding=pad)

    down = lambda t: F.avg_pool2d(t, 2)  # noqa: E731
    h = lrelu(conv(x, "from_rgb16", 0))
    h = down(lrelu(conv(lrelu(conv(h, "b16.conv0", 1)), "b16.conv1", 1)))
    h = (1 - alpha) * lrelu(conv(down(x), "from_rgb8", 0)) + alpha * h
    h = down(lrelu(conv(lrelu(conv(h, "b8.conv0", 1)), "b8.conv1", 1)))
    h = lrelu(conv(mbstd(h, GROUP), "b4.conv", 1))
    h = lrelu(F.linear(h.flatten(1), eq(p["b4.fc.weight"], SQRT2), p["b4.fc.bias"]))
    return F.linear(h, eq(p["b4.out.weight"], 1.0), p["b4.out.bias"])


def main():
    g = gen(1414)
    params = {}
    for name, shape in shapes():
        scale = 1.0 if name.endswith("weight") else 0.1
        params[name] = randn(g, *shape, scale=scale).requires_grad_(True)
    real = randn(g, N, C, RES, RES, scale=0.5)
    fake = randn(g, N, C, RES, RES, scale=0.5)
    eps = rand(g, N, 1, 1, 1)
    logit_real = discriminator(params, real, ALPHA)
    x_hat = (fake + eps * (real - fake)).requires_grad_(True)
    (gx,) = torch.autograd.grad(discriminator(params, x_hat, ALPHA).sum(), x_hat, create_graph=True)
    sq = gx.flatten(1).pow(2).sum(1)
    penalty = ((sq + 1e-12).sqrt() - 1).pow(2).mean()
    names = [n for n, _ in shapes()]
    grads = torch.autograd.grad(penalty, [params[n] for n in names], allow_unused=True)
    records = [("d." + n, params[n]) for n in names]
    records += [("real", real), ("fake", fake), ("eps", eps),
                ("alpha", torch.tensor(ALPHA, dtype=torch.float64)),
                ("logit_real", logit_real), ("penalty", penalty)]
    for n, gr in zip(names, grads):
        records.append(("grad." + n, gr if gr is not None else torch.zeros_like(params[n])))
    size = write_gtfx(os.path.join(HERE, "progressive.gtfx"), records)
    print("wrote tests/golden/progressive.gtfx (%d bytes, %d records)" % (size, len(records)))


if __name__ == "__main__":
    main()
