#!/usr/bin/python3
"""Golden fixture for the GAN losses and penalties (src/gan, tricks.md sections 1-2, 4, 5, 7/12, 8
and 13), checked by tests/test_tricks.c on real gantry models.

Regenerate from the repository root:  /usr/bin/python3 tests/golden/make_tricks_fixtures.py
Writes tests/golden/tricks.gtfx (format: see make_fixtures.py). The seeds are fixed.

The references follow tricks.md, written here independently of src/gan (PyTorch's own BCE with
logits, softplus, layer norm, autograd double backward), in float64 from float32 inputs, rounded to
float32 once. Every random draw the C code would make (targets, instance noise, the WGAN-GP and
DRAGAN interpolation draws) is written to the fixture and supplied to the objectives.

Networks (parameter names follow gantry's tables, src/nn/mlp.c and src/nn/dcgan.c):
  g_img  mlp G, z 4 -> fc1 4 (relu) -> out 784, tanh, reshaped to [1, 28, 28]
  g_pts  mlp G, z 4 -> fc1 4 (relu) -> out 2
  d_a    dcgan D at 28x28, width 4, norm "layer": conv1 k4s2p1 -> leaky 0.2 -> conv2 -> layer norm
         over [8, 7, 7] -> leaky 0.2 -> fc 392 -> 1
  d_b    mlp D on 2-D points, depth 2, width 4, layer norm, tanh
  d_c    mlp D on 2-D points, depth 2, width 4, no norm, relu
  d_d    mlp D on 14x14 (the half view of 28x28 data: 2x2 box mean first), depth 1, width 4,
         layer norm, leaky_relu
Weights are N(0, s^2) with s from 0.03 to 3 per layer (biases N(0, 0.1^2) or N(0, 0.2^2), layer-norm
weights 1 + N(0, 0.2^2)), chosen so that the gradients are not tiny and each critic's per-sample
input-gradient norms at the WGAN-GP points lie on both sides of 1 (so the one-sided penalty differs
from the two-sided one; the script prints them). d_c's hidden biases are positive so that no sample
has an all-dead ReLU layer: a zero input gradient has no derivative of its norm (PyTorch gives NaN,
gantry's sqrt(. + 1e-12) gives 0), and the script asserts that none occurs.
Record names: "<net>.<param>" for weights; "img.*" and "pts.*" for batches and draws; each case
"<case>.value" (and "<case>.parts" for penalties: unweighted GP, DRAGAN, R1, R2) and
"<case>.grad.<param>" for the gradient with respect to the updated network's trainables.
"""
import os

import torch
import torch.nn.functional as F

from make_fixtures import HERE, gen, rand, randn, write_gtfx

NI, NP = 4, 6          # image and point batch sizes
Z, W = 4, 4            # latent size, hidden width
REC = []


def add(name, t):
    REC.append((name, t.detach().clone()))


def f32(t):
    """The float32 rounding of a float64 tensor, as float64 (what gantry holds)."""
    return t.detach().to(torch.float32).double()


# ---- networks --------------------------------------------------------------------------------
class Net:
    def __init__(self, name, params, forward):
        self.name = name
        self.params = [(n, t.clone().requires_grad_(True)) for n, t in params]
        self.forward_fn = forward
        for n, t in params:
            add(name + "." + n, t)

    def p(self, n):
        return dict(self.params)[n]

    def tensors(self):
        return [t for _, t in self.params]

    def __call__(self, x, features=False):
        y, f = self.forward_fn(self, x)
        return (y, f) if features else y


def lin(g, name, n_in, n_out, std, bstd=0.1):
    return [(name + ".weight", randn(g, n_out, n_in, scale=std)), (name + ".bias", randn(g, n_out, scale=bstd))]


def norm_params(g, name, shape):
    return [(name + ".weight", 1 + randn(g, *shape, scale=0.2)), (name + ".bias", randn(g, *shape, scale=0.1))]


def mlp_g(g, name, out, image):
    params = lin(g, "fc1", Z, W, 0.5) + lin(g, "out", W, out, 0.4)

    def fwd(net, z):
        h = F.relu(F.linear(z, net.p("fc1.weight"), net.p("fc1.bias")))
        y = F.linear(h, net.p("out.weight"), net.p("out.bias"))
        if image:
            y = torch.tanh(y).reshape(z.shape[0], 1, 28, 28)
        return y, None

    return Net(name, params, fwd)


def mlp_d(g, name, n_in, depth, act, layer_norm, half=False, std=(0.5, 0.5, 0.5), bias=0.2,
          positive_bias=False):
    """std: of the first layer's weights, the other hidden layers' and the output layer's."""
    params = []
    d_in = n_in
    for i in range(1, depth + 1):
        params += lin(g, "fc%d" % i, d_in, W, std[0] if i == 1 else std[1], bias)
        if positive_bias:  # relu units alive on every sample: no zero input gradient
            params[-1] = (params[-1][0], params[-1][1].abs() + 0.5)
        if layer_norm:
            params += norm_params(g, "norm%d" % i, (W,))
        d_in = W
    params += lin(g, "out", W, 1, std[2])

    def fwd(net, x):
        if half:
            x = F.avg_pool2d(x, 2)
        h = x.reshape(x.shape[0], -1)
        for i in range(1, depth + 1):
            h = F.linear(h, net.p("fc%d.weight" % i), net.p("fc%d.bias" % i))
            if layer_norm:
                h = F.layer_norm(h, (W,), net.p("norm%d.weight" % i), net.p("norm%d.bias" % i), 1e-5)
            h = act(h)
        return F.linear(h, net.p("out.weight"), net.p("out.bias")), h

    return Net(name, params, fwd)


def dcgan_d(g, name):
    params = [("conv1.weight", randn(g, W, 1, 4, 4, scale=0.5)), ("conv1.bias", randn(g, W, scale=0.1)),
              ("conv2.weight", randn(g, 2 * W, W, 4, 4, scale=0.5)), ("conv2.bias", randn(g, 2 * W, scale=0.1))]
    params += norm_params(g, "norm2", (2 * W, 7, 7))
    params += lin(g, "fc", 2 * W * 49, 1, 0.03)

    def fwd(net, x):
        h = F.leaky_relu(F.conv2d(x, net.p("conv1.weight"), net.p("conv1.bias"), stride=2, padding=1), 0.2)
        h = F.conv2d(h, net.p("conv2.weight"), net.p("conv2.bias"), stride=2, padding=1)
        h = F.layer_norm(h, h.shape[1:], net.p("norm2.weight"), net.p("norm2.bias"), 1e-5)
        h = F.leaky_relu(h, 0.2).reshape(x.shape[0], -1)
        return F.linear(h, net.p("fc.weight"), net.p("fc.bias")), h

    return Net(name, params, fwd)


def leaky(h):
    return F.leaky_relu(h, 0.2)


# ---- losses (tricks.md; sp(t) = ln(1 + e^t), D returns logits) ---------------------------------
def sp(t):
    return F.softplus(t)


def bce(d, t):
    """BCE(d, t) = -t log s(d) - (1 - t) log(1 - s(d)), batch mean; t a tensor or a number."""
    if not torch.is_tensor(t):
        t = torch.full_like(d, float(t))
    return F.binary_cross_entropy_with_logits(d, t)


def d2_log(logit):
    return torch.log(torch.clamp(sp(logit), min=1e-8))


def loss_d(kind, k, dr, df, rt=1.0, ft=0.0, drift=0.0, alpha=1.0, beta=1.0):
    if kind in ("bce", "minimax"):
        loss = bce(dr, rt) + bce(df, ft)
    elif kind == "lsgan":
        loss = (((dr - rt) ** 2).mean() + ((df - ft) ** 2).mean()) / 2
    elif kind == "hinge":
        loss = F.relu(1 - dr).mean() + F.relu(1 + df).mean()
    elif kind == "wgan":
        loss = df.mean() - dr.mean()
    elif kind == "ragan":
        loss = sp(-(dr - df.mean())).mean() + sp(df - dr.mean()).mean()
    elif kind == "rpgan":
        loss = sp(-(dr - df)).mean()
    elif kind == "d2gan":
        if k == 0:  # E[-a log D1(x) + D1(x~)]
            loss = (-alpha * d2_log(dr) + sp(df)).mean()
        else:       # E[D2(x) - b log D2(x~)]
            loss = (sp(dr) - beta * d2_log(df)).mean()
    if drift:
        loss = loss + drift * (dr ** 2).mean()
    return loss


def loss_g(kind, k, df, dr, beta=1.0):
    if kind == "bce":
        return bce(df, 1.0)
    if kind == "minimax":
        return -bce(df, 0.0)
    if kind == "lsgan":
        return ((df - 1) ** 2).mean() / 2
    if kind in ("hinge", "wgan"):
        return -df.mean()
    if kind == "ragan":
        return sp(-(df - dr.mean())).mean() + sp(dr - df.mean()).mean()
    if kind == "rpgan":
        return sp(-(df - dr)).mean()
    if kind == "d2gan":  # L_G = E[-D1(x~) + b log D2(x~)], split over the critics
        return -sp(df).mean() if k == 0 else beta * d2_log(df).mean()


def feature_matching(kind, fr, ff):
    diff = fr.mean(0) - ff.mean(0)
    return diff.abs().mean() if kind == "l1" else (diff ** 2).sum()


# ---- penalties ---------------------------------------------------------------------------------
def grad_norm_sq(D, x):
    x = x.detach().clone().requires_grad_(True)
    (g,) = torch.autograd.grad(D(x).sum(), x, create_graph=True)
    return (g.reshape(x.shape[0], -1) ** 2).sum(1)


def penalties(D, real, fake, eps, u, a, c=0.5, one_sided=False):
    """Unweighted GP, DRAGAN, R1, R2 (any may be None when its draws are None)."""
    out = [None] * 4
    if eps is not None:
        x_hat = eps * real + (1 - eps) * fake
        dev = grad_norm_sq(D, x_hat).sqrt() - 1
        if one_sided:
            dev = F.relu(dev)
        out[0] = (dev ** 2).mean()
    if u is not None:
        std = real.std(unbiased=False)  # biased, over the whole batch
        x_p = real + c * std * u
        x_hat = real + a * (x_p - real)
        out[1] = ((grad_norm_sq(D, x_hat).sqrt() - 1) ** 2).mean()
    out[2] = grad_norm_sq(D, real).mean()
    out[3] = grad_norm_sq(D, fake).mean()
    return out


def weighted(parts, gp=0.0, dragan=0.0, r1=0.0, r2=0.0, scale=1.0):
    total = 0
    for p, w in zip(parts, (gp, dragan, r1 / 2, r2 / 2)):
        if w:
            total = total + scale * w * p
    return total


# ---- cases -------------------------------------------------------------------------------------
def case(name, value, net, extra=None):
    """Records <name>.value and the gradients of value with respect to net's trainables."""
    add(name + ".value", value)
    grads = torch.autograd.grad(value, net.tensors(), allow_unused=True, retain_graph=True)
    for (n, t), gr in zip(net.params, grads):
        add(name + ".grad." + n, torch.zeros_like(t) if gr is None else gr)
    if extra is not None:
        add(name + ".parts", torch.tensor([0.0 if p is None else float(p) for p in extra], dtype=torch.float64))


def main():
    torch.set_num_threads(1)
    g = gen(4242)
    g_img = mlp_g(g, "g_img", 784, True)
    g_pts = mlp_g(g, "g_pts", 2, False)
    d_a = dcgan_d(g, "d_a")
    d_b = mlp_d(g, "d_b", 2, 2, torch.tanh, True, std=(1.0, 1.0, 2.0))
    d_c = mlp_d(g, "d_c", 2, 2, F.relu, False, std=(1.2, 1.2, 1.2), positive_bias=True)
    d_d = mlp_d(g, "d_d", 196, 1, leaky, True, half=True, std=(3.0, 0, 0.5))

    # batches: reals, latents, and the fakes G(z) rounded to float32 (D's inputs)
    img_real = rand(g, NI, 1, 28, 28, lo=-1, hi=1)
    img_z = randn(g, NI, Z)
    pts_real = randn(g, NP, 2)
    pts_z = randn(g, NP, Z)
    with torch.no_grad():
        img_fake = f32(g_img(img_z))
        pts_fake = f32(g_pts(pts_z))
    for n, t in (("img.real", img_real), ("img.z", img_z), ("img.fake", img_fake),
                 ("pts.real", pts_real), ("pts.z", pts_z), ("pts.fake", pts_fake)):
        add(n, t)

    # draws, as gt_gan_draw_d shapes them
    draws = {}
    for pre, n, shape in (("img", NI, (NI, 1, 28, 28)), ("pts", NP, (NP, 2))):
        per = (n,) + (1,) * (len(shape) - 1)
        dr = {"gp_eps": rand(g, *per), "dragan_u": rand(g, *shape), "dragan_a": rand(g, *per),
              "real_target": rand(g, n, 1, lo=0.7, hi=1.2), "fake_target": rand(g, n, 1, lo=0.0, hi=0.3)}
        # instance noise, already scaled (sigma 0.3) and masked (fraction < 1: sample 1 clean)
        mask = torch.ones(per, dtype=torch.float64)
        mask[1] = 0
        dr["real_noise"] = randn(g, *shape, scale=0.3) * mask
        dr["fake_noise"] = randn(g, *shape, scale=0.3) * mask
        for k, t in dr.items():
            add(pre + "." + k, t)
        draws[pre] = dr
    batches = {"img": (img_real, img_fake, img_z), "pts": (pts_real, pts_fake, pts_z)}

    # ---- gt_bce_with_logits alone: logits with large magnitudes, tensor and scalar targets ----
    logits = torch.tensor([[-30.0], [-3.5], [-0.2], [0.0], [0.7], [4.0], [25.0], [90.0]], dtype=torch.float64)
    targets = rand(g, 8, 1)
    add("bce.logits", logits)
    add("bce.targets", targets)
    for tag, t in (("t", targets), ("one", 1.0), ("zero", 0.0), ("p9", 0.9)):
        d = logits.clone().requires_grad_(True)
        v = bce(d, t)
        (gd,) = torch.autograd.grad(v, d)
        add("bce.%s.value" % tag, v)
        add("bce.%s.grad" % tag, gd)

    # ---- D losses on points (d_b; d2gan: d_b and d_c), every kind ----
    pr, pf, pz = batches["pts"]
    dp = draws["pts"]
    smooth_r = torch.full((NP, 1), 0.9, dtype=torch.float64)
    smooth_f = torch.full((NP, 1), 0.1, dtype=torch.float64)
    onesided_f = torch.zeros(NP, 1, dtype=torch.float64)
    d_cases = [("bce", {}), ("minimax", {}), ("lsgan", {}), ("hinge", {}), ("wgan", {}),
               ("ragan", {}), ("rpgan", {}),
               ("bce_smooth", dict(rt=smooth_r, ft=smooth_f)), ("bce_onesided", dict(rt=smooth_r, ft=onesided_f)),
               ("bce_uniform", dict(rt=dp["real_target"], ft=dp["fake_target"])),
               ("lsgan_smooth", dict(rt=smooth_r, ft=smooth_f)),
               ("lsgan_uniform", dict(rt=dp["real_target"], ft=dp["fake_target"])),
               ("wgan_drift", dict(drift=0.05)), ("hinge_drift", dict(drift=0.01))]
    for name, kw in d_cases:
        kind = name.split("_")[0]
        case("lossd." + name, loss_d(kind, 0, d_b(pr), d_b(pf), **kw), d_b)
    ab = dict(alpha=0.6, beta=1.4)
    case("lossd.d2gan0", loss_d("d2gan", 0, d_b(pr), d_b(pf), **ab), d_b)
    case("lossd.d2gan1", loss_d("d2gan", 1, d_c(pr), d_c(pf), **ab), d_c)
    # conv critic, first order: bce with uniform targets and wgan
    ir, if_, iz = batches["img"]
    di = draws["img"]
    case("lossd.img_bce", loss_d("bce", 0, d_a(ir), d_a(if_), rt=di["real_target"], ft=di["fake_target"]), d_a)
    case("lossd.img_wgan", loss_d("wgan", 0, d_a(ir), d_a(if_), drift=0.001), d_a)

    # ---- G losses (gt_g_objective): gradients with respect to G's weights ----
    for kind in ("bce", "minimax", "lsgan", "hinge", "wgan", "ragan", "rpgan"):
        fake = g_pts(pz)
        case("lossg." + kind, loss_g(kind, 0, d_b(fake), d_b(pr).detach()), g_pts)
    fake = g_pts(pz)
    case("lossg.d2gan", loss_g("d2gan", 0, d_b(fake), None) + loss_g("d2gan", 1, d_c(fake), None, beta=1.4), g_pts)
    fake = g_img(iz)
    add("img.g_fake", fake)  # G(z) itself, to check the generator's forward
    case("lossg.img_bce", loss_g("bce", 0, d_a(fake), None), g_img)

    # ---- feature matching (G's value and gradients) ----
    for tag, fm, adv, w in (("l1", "l1", False, 1.0), ("l2", "l2", False, 1.0),
                            ("l1_adv", "l1", True, 0.7), ("l2_adv", "l2", True, 2.5)):
        fake = g_pts(pz)
        df, ff = d_b(fake, features=True)
        dr_, fr = d_b(pr, features=True)
        v = w * feature_matching(fm, fr.detach(), ff)
        if adv:
            v = loss_g("bce", 0, df, None) + v
        case("fm." + tag, v, g_pts)
    # two image critics (full and half view), hinge + L2 feature matching, summed over the critics
    fake = g_img(iz)
    v = 0
    for D in (d_a, d_d):
        df, ff = D(fake, features=True)
        _, fr = D(ir, features=True)
        v = v + loss_g("hinge", 0, df, None) + 0.3 * feature_matching("l2", fr.detach(), ff)
    case("fm.img_two_critics", v, g_img)

    # ---- penalties, alone and together, through every critic (double backward) ----
    def pen_cases(D, pre):
        real, fake, _ = batches[pre]
        dr = draws[pre]
        eps, u, a = dr["gp_eps"], dr["dragan_u"], dr["dragan_a"]
        two = penalties(D, real, fake, eps, u, a)
        one = penalties(D, real, fake, eps, None, None, one_sided=True)
        norms = grad_norm_sq(D, eps * real + (1 - eps) * fake).sqrt()
        print("%s gp norms %s" % (D.name, [round(float(x), 3) for x in norms]))
        # a zero input gradient has no derivative of its norm (PyTorch: NaN): keep away from it
        std = real.std(unbiased=False)
        for x in (real, fake, eps * real + (1 - eps) * fake, real + a * (0.5 * std * u)):
            assert float(grad_norm_sq(D, x).min()) > 1e-4, D.name
        nm = "pen." + D.name
        case(nm + ".gp", weighted(two, gp=10), D, [two[0], None, None, None])
        case(nm + ".gp1", weighted(one, gp=10), D, [one[0], None, None, None])
        case(nm + ".dragan", weighted(two, dragan=10), D, [None, two[1], None, None])
        case(nm + ".r1", weighted(two, r1=10), D, [None, None, two[2], None])
        case(nm + ".r2", weighted(two, r2=3), D, [None, None, None, two[3]])
        case(nm + ".all", weighted(two, gp=2.5, dragan=1.5, r1=3, r2=0.7, scale=0.6), D, two)

    pen_cases(d_a, "img")
    pen_cases(d_b, "pts")
    pen_cases(d_c, "pts")
    pen_cases(d_d, "img")

    # ---- instance noise: gt_gan_d_step's D objective on noised inputs, penalties included ----
    def noised(D, pre, kind, pen_kw, scale, **loss_kw):
        real, fake, _ = batches[pre]
        dr = draws[pre]
        xr, xf = real + dr["real_noise"], fake + dr["fake_noise"]
        loss = loss_d(kind, 0, D(xr), D(xf), **loss_kw)
        eps = dr["gp_eps"] if pen_kw.get("gp") else None
        u = dr["dragan_u"] if pen_kw.get("dragan") else None
        parts = penalties(D, xr, xf, eps, u, dr["dragan_a"])
        return loss + weighted(parts, scale=scale, **pen_kw)

    case("noise.pts_wgan_gp", noised(d_b, "pts", "wgan", dict(gp=10, r1=1), 0.8), d_b)
    case("noise.img_bce", noised(d_a, "img", "bce", dict(dragan=5, r2=2), 0.5,
                                 rt=draws["img"]["real_target"], ft=draws["img"]["fake_target"]), d_a)
    case("noise.img_half_hinge", noised(d_d, "img", "hinge", dict(gp=10, r1=0.5, r2=0.5), 1.0), d_d)
    # G's objective on noised batches (relativistic, so the real batch enters too)
    fake = g_pts(pz) + dp["fake_noise"]
    case("noise.g_ragan", loss_g("ragan", 0, d_b(fake), d_b(pr + dp["real_noise"]).detach()), g_pts)

    size = write_gtfx(os.path.join(HERE, "tricks.gtfx"), REC)
    print("tricks.gtfx: %d bytes, %d records" % (size, len(REC)))


if __name__ == "__main__":
    main()
