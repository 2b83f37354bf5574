#!/usr/bin/python3
"""Writes tests/golden/vbn_attention.gtfx: PyTorch references for virtual batch normalization and
the self-attention block that tests/test_vbn_attention.c compares gantry against.

Regenerate (from the repository root, on Debian with its PyTorch package):
    /usr/bin/python3 tests/golden/make_vbn_attention_fixtures.py
The seeds are fixed, so running it again writes byte-identical files. Inputs are drawn in float32;
the references are computed in float64 from those exact values and rounded to float32 once.

Records (file format: see make_fixtures.py):
  vbn4.*, vbn2.*  virtual batch norm (Salimans et al. 2016) written as OpenAI's improved-gan VBN
                  class: the first n_ref rows of x are the reference batch, normalized with their
                  own statistics (over N_ref, H, W); each further row with
                  w stats(x_i over H, W) + (1 - w) stats(reference), w = 1 / (n_ref + 1); std =
                  sqrt(eps + E x^2 - (E x)^2). The gradients of <y, gy> w.r.t. x, gamma, beta flow
                  through the reference statistics; gx_ref is the gradient for gy zero on the
                  reference rows (so the reference rows' gradient comes only through the
                  statistics the examples use).
  attn.*          the SAGAN self-attention block as BigGAN-PyTorch's layers.Attention (1x1 convs
                  without bias, 2x2 max pooling, softmax over the pooled positions), with an odd
                  map side (pooling floors) and gamma 0.7, with the gradients of <y, gy>.
"""
import os
import sys

import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from make_fixtures import gen, randn, write_gtfx  # noqa: E402


def vbn_ref(x, n_ref, gamma, beta, eps=1e-5):
    maps = x.dim() == 4
    xr, xe = x[:n_ref], x[n_ref:]
    ref_axes = [0, 2, 3] if maps else [0]
    mean = xr.mean(dim=ref_axes, keepdim=True)
    mean_sq = (xr * xr).mean(dim=ref_axes, keepdim=True)
    w = 1.0 / (n_ref + 1.0)
    if maps:
        new_mean = xe.mean(dim=[2, 3], keepdim=True)
        new_mean_sq = (xe * xe).mean(dim=[2, 3], keepdim=True)
    else:
        new_mean, new_mean_sq = xe, xe * xe
    mu = w * new_mean + (1 - w) * mean
    s = w * new_mean_sq + (1 - w) * mean_sq

    def normalize(v, m, sq):
        shape = [1, -1, 1, 1] if maps else [1, -1]
        out = (v - m) / torch.sqrt(eps + sq - m * m)
        return out * gamma.reshape(shape) + beta.reshape(shape)

    return torch.cat([normalize(xr, mean, mean_sq), normalize(xe, mu, s)], dim=0)


def vbn(prefix, g, shape, n_ref):
    x = randn(g, *shape, scale=1.5) + 0.3
    gamma = 1 + randn(g, shape[1], scale=0.2)
    beta = randn(g, shape[1], scale=0.2)
    xl, gl, bl = (t.clone().requires_grad_(True) for t in (x, gamma, beta))
    y = vbn_ref(xl, n_ref, gl, bl)
    gy = randn(g, *y.shape)
    gx, gg, gb = torch.autograd.grad((y * gy).sum(), [xl, gl, bl], retain_graph=True)
    gy_ex = gy.clone()
    gy_ex[:n_ref] = 0
    (gx_ref,) = torch.autograd.grad((y * gy_ex).sum(), [xl])
    recs = [("x", x), ("gamma", gamma), ("beta", beta), ("y", y), ("gy", gy), ("gx", gx),
            ("ggamma", gg), ("gbeta", gb), ("gx_ref", gx_ref)]
    return [(prefix + "." + n, t) for n, t in recs]


def attention(g):
    n, c, h, w = 2, 16, 5, 6
    x = randn(g, n, c, h, w)
    theta = randn(g, c // 8, c, 1, 1, scale=0.3)
    phi = randn(g, c // 8, c, 1, 1, scale=0.3)
    gw = randn(g, c // 2, c, 1, 1, scale=0.3)
    o = randn(g, c, c // 2, 1, 1, scale=0.3)
    gamma = torch.tensor([0.7], dtype=torch.float64)
    ins = [t.clone().requires_grad_(True) for t in (x, theta, phi, gw, o, gamma)]
    xl, tl, pl, gl, ol, gaml = ins
    # BigGAN-PyTorch layers.Attention.forward
    th = F.conv2d(xl, tl)
    ph = F.max_pool2d(F.conv2d(xl, pl), [2, 2])
    gg = F.max_pool2d(F.conv2d(xl, gl), [2, 2])
    p = ph.shape[2] * ph.shape[3]
    th = th.view(-1, c // 8, h * w)
    ph = ph.view(-1, c // 8, p)
    gg = gg.view(-1, c // 2, p)
    beta = F.softmax(torch.bmm(th.transpose(1, 2), ph), -1)
    out = F.conv2d(torch.bmm(gg, beta.transpose(1, 2)).view(-1, c // 2, h, w), ol)
    y = gaml * out + xl
    gy = randn(g, *y.shape)
    grads = torch.autograd.grad((y * gy).sum(), ins)
    names = ["x", "theta", "phi", "g", "o", "gamma"]
    recs = [(nm, t) for nm, t in zip(names, [x, theta, phi, gw, o, gamma])]
    recs += [("y", y), ("gy", gy)]
    recs += [("g" + nm, t) for nm, t in zip(names, grads)]
    return [("attn." + nm, t) for nm, t in recs]


def main():
    g = gen(8101)
    recs = []
    recs += vbn("vbn4", g, (4 + 3, 3, 3, 4), 4)
    recs += vbn("vbn2", g, (5 + 2, 4), 5)
    recs += attention(gen(8201))
    path = os.path.join(HERE, "vbn_attention.gtfx")
    n = write_gtfx(path, recs)
    print("wrote %s (%d bytes, %d tensors)" % (path, n, len(recs)))


if __name__ == "__main__":
    main()
