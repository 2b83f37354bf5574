#!/usr/bin/python3
"""Writes tests/golden/stylegan2.gtfx: PyTorch references for the stylegan2 family (Karras et al.
2020) that tests/test_stylegan2.c compares gantry against.

Regenerate (from the repository root, on Debian with its PyTorch package):
    /usr/bin/python3 tests/golden/make_stylegan2_fixtures.py
The seed is fixed, so running it again writes a byte-identical file. Inputs are drawn in float32;
the references are computed in float64 from those exact values and rounded to float32 once.

(a) modconv.*: the modulated, demodulated 3x3 convolution (as StyleGAN2-ADA's modulated_conv2d
    with fused_modconv, padding 1): x [2, 3, 5, 5], weight [4, 3, 3, 3], styles [2, 3];
    y; v (a random cotangent) and g<in> = d sum(y v)/d in; u<in> (random) and
    h<in> = d (sum_in <g<in>, u<in>>)/d in, the second order.
(b) pl.*: path length regularization through a whole tiny G: 1-channel 8x8 images, z_dim =
    w_dim = 4, width 4, two mapping layers with lr multiplier 0.01, constant noise buffers
    (a training forward without gantry's style generator), no truncation or mixing:
      ws = repeat(mapping(z), 4); img = synthesis(ws); g = d sum(img y)/d ws;
      l = sqrt(mean over the 4 style layers of sum g^2); a' = a + 0.01 (mean l - a);
      penalty = mean (l - a')^2 and its gradient w.r.t. every trainable of G (second order).
    Records g.<name> (G's table by gantry's names), z [2, 4], y [2, 1, 8, 8], a, a_next, img,
    penalty, grad.<name>.
"""
import math
import os
import sys

import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from make_fixtures import gen, randn, write_gtfx  # noqa: E402

SQRT2 = math.sqrt(2.0)
Z, WD, NF, C, RES, N, LR_MUL = 4, 4, 4, 1, 8, 2, 0.01


def modconv(x, weight, styles, demod):
    n, ci, h, w = x.shape
    co, _, k, _ = weight.shape
    wt = weight[None] * styles[:, None, :, None, None]
    if demod:
        wt = wt * (wt.square().sum(dim=[2, 3, 4], keepdim=True) + 1e-8).rsqrt()
    y = F.conv2d(x.reshape(1, n * ci, h, w), wt.reshape(n * co, ci, k, k), padding=k // 2, groups=n)
    return y.reshape(n, co, y.shape[2], y.shape[3])


def modconv_records():
    g = gen(2020)
    ins = [("x", randn(g, 2, 3, 5, 5)), ("weight", randn(g, 4, 3, 3, 3)),
           ("styles", randn(g, 2, 3, scale=0.7) + 1.0)]
    leaves = [t.clone().requires_grad_(True) for _, t in ins]
    y = modconv(*leaves, demod=True)
    v = randn(g, *y.shape)
    grads = torch.autograd.grad((y * v).sum(), leaves, create_graph=True)
    us = [randn(g, *t.shape) for t in leaves]
    s2 = sum((gr * u).sum() for gr, u in zip(grads, us))
    hs = torch.autograd.grad(s2, leaves)
    recs = [("modconv." + n, t) for (n, _), t in zip(ins, leaves)]
    recs += [("modconv.y", y), ("modconv.v", v)]
    recs += [("modconv.g" + n, gr) for (n, _), gr in zip(ins, grads)]
    recs += [("modconv.u" + n, u) for (n, _), u in zip(ins, us)]
    recs += [("modconv.h" + n, h) for (n, _), h in zip(ins, hs)]
    return recs


def g_shapes():
    """gantry's declaration order for G (buffers included)."""
    out = [("mapping.fc0.weight", (WD, Z)), ("mapping.fc0.bias", (WD,)),
           ("mapping.fc1.weight", (WD, WD)), ("mapping.fc1.bias", (WD,)),
           ("mapping.w_avg", (WD,)), ("b4.const", (NF, 4, 4))]

    def layer(name, ci, co, k, res, rgb):
        ls = [(name + ".affine.weight", (ci, WD)), (name + ".affine.bias", (ci,)),
              (name + ".weight", (co, ci, k, k)), (name + ".bias", (co,))]
        if not rgb:
            ls += [(name + ".noise_strength", (1,)), (name + ".noise_const", (1, 1, res, res))]
        return ls

    out += layer("b4.conv1", NF, NF, 3, 4, False) + layer("b4.to_rgb", NF, C, 1, 4, True)
    out += layer("b8.conv0", NF, NF, 3, 8, False) + layer("b8.conv1", NF, NF, 3, 8, False)
    out += layer("b8.to_rgb", NF, C, 1, 8, True)
    return out


def lrelu(x):
    return F.leaky_relu(x, 0.2) * SQRT2


def mapping(p, z):
    x = z * (z.square().mean(1, keepdim=True) + 1e-8).rsqrt()
    for i in range(2):
        w = p["mapping.fc%d.weight" % i]
        x = lrelu(F.linear(x, w * (LR_MUL / math.sqrt(w.shape[1])), p["mapping.fc%d.bias" % i] * LR_MUL))
    return x


def layer(p, name, x, w, up=False, rgb=False):
    aw = p[name + ".affine.weight"]
    s = F.linear(w, aw / math.sqrt(aw.shape[1]), p[name + ".affine.bias"])
    weight = p[name + ".weight"]
    if rgb:
        s = s / math.sqrt(weight[0].numel())
    if up:
        x = F.interpolate(x, scale_factor=2, mode="nearest")
    y = modconv(x, weight, s, demod=not rgb)
    if not rgb:
        y = y + p[name + ".noise_const"] * p[name + ".noise_strength"]
    y = y + p[name + ".bias"].reshape(1, -1, 1, 1)
    return y if rgb else lrelu(y)


def synthesis(p, ws):
    x = p["b4.const"][None].expand(ws.shape[0], -1, -1, -1)
    x = layer(p, "b4.conv1", x, ws[:, 0])
    img = layer(p, "b4.to_rgb", x, ws[:, 1], rgb=True)
    x = layer(p, "b8.conv0", x, ws[:, 1], up=True)
    x = layer(p, "b8.conv1", x, ws[:, 2])
    return F.interpolate(img, scale_factor=2, mode="nearest") + layer(p, "b8.to_rgb", x, ws[:, 3], rgb=True)


def pl_records():
    g = gen(2021)
    p = {}
    for name, shape in g_shapes():
        if name.endswith(".weight") or name.endswith("const"):
            t = randn(g, *shape)
            if name.startswith("mapping."):
                t = t / LR_MUL
        elif name.endswith("affine.bias"):
            t = 1.0 + randn(g, *shape, scale=0.1)
        elif name.endswith("noise_strength"):
            t = randn(g, *shape, scale=0.3)
        else:
            t = randn(g, *shape, scale=0.1)
        p[name] = t.requires_grad_(not name.endswith("w_avg") and not name.endswith("noise_const"))
    z = randn(g, N, Z)
    y = randn(g, N, C, RES, RES) / math.sqrt(RES * RES)
    a = torch.tensor(0.75, dtype=torch.float64)
    ws = mapping(p, z)[:, None].repeat(1, 4, 1)
    img = synthesis(p, ws)
    (gw,) = torch.autograd.grad((img * y).sum(), ws, create_graph=True)
    lengths = gw.square().sum(2).mean(1).sqrt()
    a_next = a + 0.01 * (lengths.mean().detach() - a)
    penalty = (lengths - a_next).square().mean()
    names = [n for n, _ in g_shapes() if p[n].requires_grad]
    grads = torch.autograd.grad(penalty, [p[n] for n in names], allow_unused=True)
    grads = [gr if gr is not None else torch.zeros_like(p[n]) for n, gr in zip(names, grads)]
    recs = [("g." + n, p[n]) for n, _ in g_shapes()]
    recs += [("pl.z", z), ("pl.y", y), ("pl.a", a), ("pl.a_next", a_next), ("pl.img", img),
             ("pl.penalty", penalty)]
    recs += [("grad." + n, gr) for n, gr in zip(names, grads)]
    return recs


def main():
    records = modconv_records() + pl_records()
    size = write_gtfx(os.path.join(HERE, "stylegan2.gtfx"), records)
    print("wrote tests/golden/stylegan2.gtfx (%d bytes, %d records)" % (size, len(records)))


if __name__ == "__main__":
    main()
