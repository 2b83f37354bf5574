#!/usr/bin/python3
"""Golden fixture for unrolled GANs (src/gan/unroll.c, tricks.md section 10), checked by
tests/test_unrolled.c on real gantry models.

Regenerate from the repository root:  /usr/bin/python3 tests/golden/make_unrolled_fixtures.py
Writes tests/golden/unrolled.gtfx (format: see make_fixtures.py). The seeds are fixed.

The reference is written here independently of src/gan and src/optim: D's K future updates are
torch formulas with torch.optim semantics, differentiated with torch.autograd.grad, in float64 from
float32 inputs, rounded to float32 once.
  Adam (torch.optim.Adam, L2 weight decay added to the gradient), update number t = step + 1:
      g += wd p;  m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2
      denom = sqrt(v) / sqrt(1 - b2^t) + eps;  p -= lr / (1 - b1^t) m / denom
    (sqrt of v floored at 1e-30, as gantry's graph form does; no v entry here is near 0)
  SGD with momentum (torch.optim.SGD, no dampening, no Nesterov): the buffer is created from the
    gradient on the first update (gantry: optimizer step count 0), then buf = momentum buf + g;
    p -= lr buf.
D's loss on (real, fake), fake = G(z) not detached: BCE(D(real), 1) + BCE(D(fake), 0) (D called on
each batch separately); G's loss is the non-saturating BCE(D_K(fake), 1) against the K-th D.
exact: the updates' gradients are taken with create_graph=True, so G's gradient flows through all
K updates; surrogate: they are detached (first order), G sees only D_K's answer.

Networks (parameter names follow src/nn/mlp.c):
  g      mlp G, z 3 -> fc1 5 (tanh) -> out 2
  d      mlp D on 2-D points, depth 1, width 5, tanh, no norm
  d_bn   the same with batch norm after fc1 (training mode: batch statistics, biased variance)
Optimizers of D (state as gantry's gt_optim holds it: m, v per trainable, step):
  adam       lr 0.05, betas (0.5, 0.999), eps 1e-8, step 2 (m and v from two earlier updates)
  adam_wd    lr 0.03, betas (0.9, 0.99), eps 1e-8, weight decay 0.05, step 5
  sgd        lr 0.3, momentum 0.9, step 3 (a momentum buffer present)
  sgd_fresh  lr 0.4, momentum 0.5, step 0 (no buffer yet: the first unrolled update starts it)
Record names: "g.<param>", "<net>.<param>" for weights; "real", "z"; "<opt>.m.<param>",
"<opt>.v.<param>" (Adam), "<opt>.buf.<param>" (SGD); per case "<case>" =
"<net>.<opt>.k<K>.<mode>": "<case>.value" (G's unrolled loss) and "<case>.grad.<param>" (its
gradient with respect to G's trainables); per "<net>.<opt>.k<K>" the unrolled weights
"<net>.<opt>.k<K>.dk.<param>" (the same in both modes).
"""
import os

import torch
import torch.nn.functional as F

from make_fixtures import HERE, gen, rand, randn, write_gtfx

N, Z, W = 8, 3, 5
REC = []

OPTS = {
    "adam": dict(type="adam", lr=0.2, b1=0.5, b2=0.999, eps=1e-8, wd=0.0, step=2),
    "adam_wd": dict(type="adam", lr=0.15, b1=0.6, b2=0.99, eps=1e-8, wd=0.05, step=5),
    "sgd": dict(type="sgd", lr=0.3, momentum=0.9, wd=0.0, step=3),
    "sgd_fresh": dict(type="sgd", lr=0.4, momentum=0.5, wd=0.0, step=0),
}
# which optimizers each critic is unrolled with
CASES = {"d": ("adam", "adam_wd", "sgd", "sgd_fresh"), "d_bn": ("adam", "sgd")}


def add(name, t):
    REC.append((name, t.detach().clone()))


def lin(g, name, n_in, n_out, std, bstd):
    return [(name + ".weight", randn(g, n_out, n_in, scale=std)), (name + ".bias", randn(g, n_out, scale=bstd))]


def g_forward(P, z):
    h = torch.tanh(F.linear(z, P["fc1.weight"], P["fc1.bias"]))
    return F.linear(h, P["out.weight"], P["out.bias"])


def d_forward(P, x):
    h = F.linear(x, P["fc1.weight"], P["fc1.bias"])
    if "norm1.weight" in P:  # batch norm in training mode: batch statistics, biased variance
        mean = h.mean(0, keepdim=True)
        var = ((h - mean) ** 2).mean(0, keepdim=True)
        h = (h - mean) / torch.sqrt(var + 1e-5) * P["norm1.weight"] + P["norm1.bias"]
    h = torch.tanh(h)
    return F.linear(h, P["out.weight"], P["out.bias"])


def bce(d, t):
    return F.binary_cross_entropy_with_logits(d, torch.full_like(d, t))


def d_loss(P, real, fake):
    return bce(d_forward(P, real), 1.0) + bce(d_forward(P, fake), 0.0)


def opt_step(o, names, P, G, state, step):
    """One update of every trainable in the order of names; state: dict of m (buf) and v."""
    out = {}
    t = step + 1
    for n in names:
        p, g = P[n], G[n]
        if o["wd"]:
            g = g + o["wd"] * p
        if o["type"] == "adam":
            m = o["b1"] * state["m"][n] + (1 - o["b1"]) * g
            v = o["b2"] * state["v"][n] + (1 - o["b2"]) * g * g
            state["m"][n], state["v"][n] = m, v
            denom = torch.sqrt(torch.clamp(v, min=1e-30)) / (1 - o["b2"] ** t) ** 0.5 + o["eps"]
            out[n] = p - o["lr"] / (1 - o["b1"] ** t) * m / denom
        else:
            buf = g if step == 0 else o["momentum"] * state["m"][n] + g
            state["m"][n] = buf
            out[n] = p - o["lr"] * buf
    return out


def unrolled(o, d_names, D0, state0, real, fake, K, exact):
    """D's weights after K updates from D0 with the state state0; depend on fake (exact)."""
    P = {n: t.clone().requires_grad_(True) for n, t in D0.items()}
    state = {k: dict(v) for k, v in state0.items()}
    step = o["step"]
    for _ in range(K):
        loss = d_loss(P, real, fake)
        gs = torch.autograd.grad(loss, [P[n] for n in d_names], create_graph=exact)
        G = dict(zip(d_names, gs))
        P = opt_step(o, d_names, P, G, state, step)
        step += 1
    return P


def opt_state(g, o, names, D0):
    """Realistic state: Adam's moments after `step` updates with gradients N(0, 0.1^2); SGD's
    buffer N(0, 0.05^2) (zeros without a buffer)."""
    st = {"m": {}, "v": {}}
    for n in names:
        shape = D0[n].shape
        if o["type"] == "adam":
            m = torch.zeros(shape, dtype=torch.float64)
            v = torch.zeros(shape, dtype=torch.float64)
            for _ in range(o["step"]):
                gr = randn(g, *shape, scale=0.1)
                m = o["b1"] * m + (1 - o["b1"]) * gr
                v = o["b2"] * v + (1 - o["b2"]) * gr * gr
            # what gantry holds (float32)
            st["m"][n], st["v"][n] = m.float().double(), v.float().double()
        else:
            buf = randn(g, *shape, scale=0.05) if o["step"] > 0 else torch.zeros(shape, dtype=torch.float64)
            st["m"][n] = buf
    return st


def main():
    torch.set_num_threads(1)
    g = gen(7331)
    gp = dict(lin(g, "fc1", Z, W, 0.8, 0.3) + lin(g, "out", W, 2, 0.8, 0.2))
    g_names = ["fc1.weight", "fc1.bias", "out.weight", "out.bias"]
    nets = {
        "d": dict(lin(g, "fc1", 2, W, 1.0, 0.3) + lin(g, "out", W, 1, 1.0, 0.2)),
    }
    bn = dict(lin(g, "fc1", 2, W, 1.0, 0.3))
    bn["norm1.weight"] = 1 + randn(g, W, scale=0.2)
    bn["norm1.bias"] = randn(g, W, scale=0.1)
    bn.update(lin(g, "out", W, 1, 1.0, 0.2))
    nets["d_bn"] = bn
    d_names = {"d": ["fc1.weight", "fc1.bias", "out.weight", "out.bias"],
               "d_bn": ["fc1.weight", "fc1.bias", "norm1.weight", "norm1.bias", "out.weight", "out.bias"]}
    real = randn(g, N, 2) * 0.7 + torch.tensor([1.0, -0.5], dtype=torch.float64).float().double()
    real = real.float().double()
    z = randn(g, N, Z)
    for n in g_names:
        add("g." + n, gp[n])
    for net, P in nets.items():
        for n in d_names[net]:
            add(net + "." + n, P[n])
    add("real", real)
    add("z", z)

    states = {}
    for net in nets:
        for oname in CASES[net]:
            o = OPTS[oname]
            st = opt_state(g, o, d_names[net], nets[net])
            states[(net, oname)] = st
            for n in d_names[net]:
                if o["type"] == "adam":
                    add("%s.%s.m.%s" % (net, oname, n), st["m"][n])
                    add("%s.%s.v.%s" % (net, oname, n), st["v"][n])
                else:
                    add("%s.%s.buf.%s" % (net, oname, n), st["m"][n])

    for net, D0 in nets.items():
        for oname in CASES[net]:
            o = OPTS[oname]
            for K in (1, 3):
                base = "%s.%s.k%d" % (net, oname, K)
                grads = {}
                for mode in ("exact", "surrogate"):
                    G = {n: gp[n].clone().requires_grad_(True) for n in g_names}
                    fake = g_forward(G, z)
                    DK = unrolled(o, d_names[net], D0, states[(net, oname)], real, fake, K, mode == "exact")
                    loss = bce(d_forward(DK, fake), 1.0)
                    gr = torch.autograd.grad(loss, [G[n] for n in g_names])
                    grads[mode] = torch.cat([x.reshape(-1) for x in gr])
                    add(base + "." + mode + ".value", loss)
                    for n, x in zip(g_names, gr):
                        add(base + "." + mode + ".grad." + n, x)
                    if mode == "exact":
                        for n in d_names[net]:
                            add(base + ".dk." + n, DK[n])
                diff = float((grads["exact"] - grads["surrogate"]).norm() / grads["exact"].norm())
                print("%-22s loss %.5f  |g_exact - g_surrogate| / |g_exact| = %.3f" % (base, float(loss), diff))

    size = write_gtfx(os.path.join(HERE, "unrolled.gtfx"), REC)
    print("unrolled.gtfx: %d bytes, %d records" % (size, len(REC)))


if __name__ == "__main__":
    main()
