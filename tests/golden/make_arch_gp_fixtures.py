#!/usr/bin/python3
"""Writes tests/golden/arch_gp.gtfx: gradient penalties through a discriminator that uses three
architecture tricks at once (spectral normalization on every weight, a self-attention block and a
minibatch standard deviation layer), checked by tests/test_arch_gp.c against gantry's dcgan
critic and gt_d_penalty.

Regenerate from the repository root:  /usr/bin/python3 tests/golden/make_arch_gp_fixtures.py
The seeds are fixed. Inputs are drawn in float32; the references are computed in float64 from
those exact values and rounded to float32 once (format: see make_fixtures.py).

The critic (src/nn/dcgan.c's D at 28x28, width 8, written here independently):
  conv1 k4 s2 p1 1 -> 8, leaky ReLU 0.2 -> self-attention at 14x14 (SAGAN / BigGAN-PyTorch
  layers.Attention: 1x1 convs theta, phi to C/8, g to C/2, 2x2 max pooling on phi and g, softmax
  over the pooled positions, o back to C, y = x + gamma o) -> conv2 k4 s2 p1 8 -> 16, leaky ReLU
  0.2 -> minibatch std (ProGAN, strided groups of 2: sample i is in group i mod N/2; biased
  variance over the group, sqrt(var + 1e-8), averaged over C, H, W, one map appended) -> flatten
  (17 * 49) -> fc to one logit.
Spectral normalization (Miyato et al. 2018; PyTorch's torch.nn.utils.spectral_norm in training
mode) on all seven weights: one power iteration from the stored u (rows: the weight's first axis),
v = normalize(W^T u), u' = normalize(W v), sigma = u'^T W v with u' and v constants; the layer uses
W / sigma. Every training-mode forward of D advances each u once.

Cases, each from the same weights and u:
  gp   WGAN-GP, weight 10, two-sided: x^ = eps real + (1 - eps) fake, 10 E (|dD(x^)/dx^| - 1)^2
  r1   R1, gamma 10: gamma / 2 E |dD(real)/dreal|^2
Records: "d.<param>" (weights, u's), "real", "fake", "gp_eps"; "<case>.value",
"<case>.grad.<param>" (D's trainables, double backward) and "<case>.u.<param>" (each u after the
case's one forward).
"""
import os

import torch
import torch.nn.functional as F

from make_fixtures import HERE, gen, rand, randn, write_gtfx

N, WIDTH = 4, 8
REC = []


def add(name, t):
    REC.append((name, t.detach().clone()))


def normalize(x):
    return x / x.norm().clamp_min(1e-12)


def sn_weight(w, u):
    """W / sigma from one power iteration; returns the normalized weight and the new u."""
    wm = w.detach().reshape(w.shape[0], -1)
    v = normalize(wm.t() @ u)
    u_new = normalize(wm @ v)
    sigma = (w.reshape(w.shape[0], -1) * torch.outer(u_new, v)).sum()
    return w / sigma, u_new


WEIGHTS = ["conv1.weight", "attn.theta.weight", "attn.phi.weight", "attn.g.weight",
           "attn.o.weight", "conv2.weight", "fc.weight"]


def make_params(g):
    c, c2 = WIDTH, 2 * WIDTH
    p = {
        "conv1.weight": randn(g, c, 1, 4, 4, scale=0.6), "conv1.bias": randn(g, c, scale=0.1),
        "attn.theta.weight": randn(g, c // 8, c, 1, 1, scale=0.5),
        "attn.phi.weight": randn(g, c // 8, c, 1, 1, scale=0.5),
        "attn.g.weight": randn(g, c // 2, c, 1, 1, scale=0.5),
        "attn.o.weight": randn(g, c, c // 2, 1, 1, scale=0.5),
        "attn.gamma": torch.tensor([0.8], dtype=torch.float64),
        "conv2.weight": randn(g, c2, c, 4, 4, scale=0.3), "conv2.bias": randn(g, c2, scale=0.1),
        "fc.weight": randn(g, 1, (c2 + 1) * 49, scale=0.05), "fc.bias": randn(g, 1, scale=0.1),
    }
    for w in WEIGHTS:
        p[w + "_u"] = normalize(randn(g, p[w].shape[0]))
    return p


def attention(x, w):
    n, c, h, wd = x.shape
    th = F.conv2d(x, w["attn.theta.weight"]).reshape(n, c // 8, h * wd)
    ph = F.max_pool2d(F.conv2d(x, w["attn.phi.weight"]), 2)
    gg = F.max_pool2d(F.conv2d(x, w["attn.g.weight"]), 2)
    pooled = ph.shape[2] * ph.shape[3]
    beta = F.softmax(torch.bmm(th.transpose(1, 2), ph.reshape(n, c // 8, pooled)), -1)
    o = torch.bmm(gg.reshape(n, c // 2, pooled), beta.transpose(1, 2)).reshape(n, c // 2, h, wd)
    return x + w["attn.gamma"] * F.conv2d(o, w["attn.o.weight"])


def mbstd(x, group=2):
    n, c, h, w = x.shape
    y = x.reshape(group, n // group, c, h, w)
    var = ((y - y.mean(0, keepdim=True)) ** 2).mean(0)
    s = (var + 1e-8).sqrt().mean(dim=[1, 2, 3])                    # [N / group]
    maps = s.reshape(1, n // group, 1, 1, 1).expand(group, n // group, 1, h, w).reshape(n, 1, h, w)
    return torch.cat([x, maps], 1)


def critic(p, x):
    """D(x) in training mode: the logits and the advanced u's."""
    w, u_new = dict(p), {}
    for name in WEIGHTS:
        w[name], u_new[name] = sn_weight(p[name], p[name + "_u"])
    h = F.leaky_relu(F.conv2d(x, w["conv1.weight"], p["conv1.bias"], stride=2, padding=1), 0.2)
    h = attention(h, w)
    h = F.leaky_relu(F.conv2d(h, w["conv2.weight"], p["conv2.bias"], stride=2, padding=1), 0.2)
    h = mbstd(h).reshape(x.shape[0], -1)
    return F.linear(h, w["fc.weight"], p["fc.bias"]), u_new


def grad_sq_norm(p, x):
    x = x.detach().clone().requires_grad_(True)
    logit, u_new = critic(p, x)
    (gx,) = torch.autograd.grad(logit.sum(), x, create_graph=True)
    return (gx.reshape(x.shape[0], -1) ** 2).sum(1), u_new


def record_case(name, value, p, u_new):
    trainable = [k for k in p if not k.endswith("_u")]
    grads = torch.autograd.grad(value, [p[k] for k in trainable], allow_unused=True)
    add(name + ".value", value)
    for k, gr in zip(trainable, grads):  # fc.bias does not reach an input gradient: zero
        add(name + ".grad." + k, torch.zeros_like(p[k]) if gr is None else gr)
    for k, u in u_new.items():
        add(name + ".u." + k + "_u", u)


def main():
    torch.set_num_threads(1)
    g = gen(9107)
    p0 = make_params(g)
    real = rand(g, N, 1, 28, 28, lo=-1, hi=1)
    fake = rand(g, N, 1, 28, 28, lo=-1, hi=1) * 0.8
    eps = rand(g, N, 1, 1, 1)
    for k, t in p0.items():
        add("d." + k, t)
    add("real", real)
    add("fake", fake)
    add("gp_eps", eps)

    def fresh():
        return {k: (t.clone() if k.endswith("_u") else t.clone().requires_grad_(True)) for k, t in p0.items()}

    p = fresh()
    sq, u_new = grad_sq_norm(p, eps * real + (1 - eps) * fake)
    norms = sq.sqrt()
    print("gp: per-sample gradient norms", [round(float(v), 3) for v in norms])
    record_case("gp", 10 * ((norms - 1) ** 2).mean(), p, u_new)

    p = fresh()
    sq, u_new = grad_sq_norm(p, real)
    record_case("r1", 10 / 2 * sq.mean(), p, u_new)

    path = os.path.join(HERE, "arch_gp.gtfx")
    n = write_gtfx(path, REC)
    print("wrote %s (%d bytes, %d tensors)" % (path, n, len(REC)))


if __name__ == "__main__":
    main()
