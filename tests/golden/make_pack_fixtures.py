#!/usr/bin/python3
"""Golden fixture for packing (Lin et al. 2018, PacGAN) with a gradient penalty, checked by
tests/test_pack.c on a real gantry model.

Regenerate from the repository root:  /usr/bin/python3 tests/golden/make_pack_fixtures.py
Writes tests/golden/pack.gtfx (format: see make_fixtures.py). The seeds are fixed.

The reference follows the PacGAN paper and tricks.md, written here independently of src/gan: D
judges packs of M = 3 two-dimensional points, each pack the concatenation of 3 consecutive
samples on the feature axis ([N, 2] -> [N / 3, 6]). D is PacGAN's kind of discriminator, small:
two maxout layers of W = 4 units x K = 3 pieces (a linear layer to W K units, unit j's pieces
adjacent, max over the pieces), then a linear output; parameter names follow gantry's mlp family
(fc1, fc2, out). The losses are on the packs' logits:
  WGAN-GP:  E_packs D(fake) - E_packs D(real) + 10 E_packs (||grad D(x^)|| - 1)^2, with
            x^ = e real + (1 - e) fake and one e ~ U[0, 1) per pack (interpolates of whole packs),
            the norm over all 6 inputs of a pack;
  R1:       E_packs ||grad D(real)||^2, the squared norm over the pack.
Each value and its gradient with respect to D's weights (double backward) is recorded. Computed in
float64 from float32 inputs. Record names: "d.<param>" for weights, "real", "fake" [N, 2], "gp_eps"
[N, 1] (each pack's draw repeated for its 3 samples, the layout gantry's draws use), and per case
"<case>.value", "<case>.grad.<param>".
"""
import os

import torch

from make_fixtures import HERE, gen, rand, randn, write_gtfx

N, M, W, K = 12, 3, 4, 3   # samples, pack size, maxout units and pieces
REC = []


def add(name, t):
    REC.append((name, t.detach().clone()))


def maxout(h, w, b):
    y = torch.nn.functional.linear(h, w, b)            # [n, W K], unit j: columns j K .. j K + K - 1
    return y.reshape(h.shape[0], W, K).max(dim=2).values


def packed_d(params, x):
    h = x.reshape(x.shape[0] // M, M * x.shape[1])      # [N / M, M 2]
    h = maxout(h, params["fc1.weight"], params["fc1.bias"])
    h = maxout(h, params["fc2.weight"], params["fc2.bias"])
    return torch.nn.functional.linear(h, params["out.weight"], params["out.bias"])


def pack_grad_sq(params, x):
    x = x.detach().clone().requires_grad_(True)
    (g,) = torch.autograd.grad(packed_d(params, x).sum(), x, create_graph=True)
    return (g.reshape(x.shape[0] // M, -1) ** 2).sum(1)  # per pack


def case(name, value, params):
    add(name + ".value", value)
    names = list(params)
    grads = torch.autograd.grad(value, [params[n] for n in names], retain_graph=True,
                                allow_unused=True)  # a penalty does not see out.bias
    for n, gr in zip(names, grads):
        add(name + ".grad." + n, torch.zeros_like(params[n]) if gr is None else gr)


def main():
    torch.set_num_threads(1)
    g = gen(1818)
    shapes = [("fc1.weight", (W * K, M * 2), 0.6), ("fc1.bias", (W * K,), 0.2),
              ("fc2.weight", (W * K, W), 0.6), ("fc2.bias", (W * K,), 0.2),
              ("out.weight", (1, W), 0.8), ("out.bias", (1,), 0.2)]
    params = {}
    for n, shape, std in shapes:
        params[n] = randn(g, *shape, scale=std).requires_grad_(True)
        add("d." + n, params[n])
    real = randn(g, N, 2)
    fake = randn(g, N, 2, scale=1.5)
    eps_pack = rand(g, N // M, 1)
    eps = eps_pack.repeat_interleave(M, dim=0)          # [N, 1], constant within a pack
    add("real", real)
    add("fake", fake)
    add("gp_eps", eps)

    x_hat = eps * real + (1 - eps) * fake
    norms = pack_grad_sq(params, x_hat).sqrt()
    print("per-pack gradient norms at the interpolates:", [round(float(v), 3) for v in norms])
    gp = ((norms - 1) ** 2).mean()
    wgan = packed_d(params, fake).mean() - packed_d(params, real).mean()
    case("wgan_gp", wgan + 10 * gp, params)
    case("gp", gp, params)
    case("r1", pack_grad_sq(params, real).mean(), params)
    size = write_gtfx(os.path.join(HERE, "pack.gtfx"), REC)
    print("wrote pack.gtfx (%d records, %d bytes)" % (len(REC), size))


if __name__ == "__main__":
    main()
