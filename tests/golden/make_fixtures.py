#!/usr/bin/python3
"""Writes the golden fixtures that tests/test_golden.c compares gantry against (PyTorch references).

Regenerate (from the repository root, on Debian with its PyTorch package):
    apt-get update && apt-get install -y python3-torch python3-scipy
    /usr/bin/python3 tests/golden/make_fixtures.py
The seeds are fixed, so running it again writes byte-identical files. The fixtures are committed:
the C tests never need Python.

Inputs are drawn in float32; every reference is then computed in float64 from those exact float32
values and rounded to float32 once, so the references carry no float32 accumulation noise.

File format (.gtfx), all little endian; tests/fixture.c reads it:
    magic   6 bytes  "GTFX1\\n"
    records until end of file, each:
        u32  name length, then that many bytes of name (ASCII, no terminator)
        u32  ndim (0 for a scalar)
        i64  shape[ndim]
        f32  data[prod(shape)]   row-major
"""
import os
import struct

import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))


def write_gtfx(path, records):
    """records: list of (name, tensor) in the order they are written."""
    out = bytearray(b"GTFX1\n")
    for name, t in records:
        arr = t.detach().to(torch.float32).contiguous()
        nb = name.encode("ascii")
        out += struct.pack("<I", len(nb)) + nb
        out += struct.pack("<I", arr.dim())
        for d in arr.shape:
            out += struct.pack("<q", d)
        out += struct.pack("<%df" % arr.numel(), *arr.reshape(-1).tolist())
    with open(path, "wb") as fh:
        fh.write(bytes(out))
    return len(out)


def randn(g, *shape, scale=1.0):
    """float32 normal draws, returned as float64 holding the exact float32 values."""
    return (torch.randn(*shape, generator=g, dtype=torch.float32) * scale).double()


def rand(g, *shape, lo=0.0, hi=1.0):
    return (torch.rand(*shape, generator=g, dtype=torch.float32) * (hi - lo) + lo).double()


def gen(seed):
    g = torch.Generator()
    g.manual_seed(seed)
    return g


def first_order(prefix, fn, inputs, g):
    """Records the inputs, y = fn(*inputs), a random v shaped like y, and d sum(y * v)/d input."""
    leaves = [(n, t.clone().requires_grad_(True)) for n, t in inputs]
    y = fn(*[t for _, t in leaves])
    v = randn(g, *y.shape)
    grads = torch.autograd.grad((y * v).sum(), [t for _, t in leaves])
    recs = [(prefix + "." + n, t) for n, t in leaves]
    recs += [(prefix + ".y", y), (prefix + ".v", v)]
    recs += [(prefix + ".g" + n, gr) for (n, _), gr in zip(leaves, grads)]
    return recs


# ---- (a) WGAN-GP: penalty of a small conv D and its gradient wrt D's weights, double backward ----
def wgan_gp():
    g = gen(1001)
    x = randn(g, 3, 1, 12, 12)
    x_fake = randn(g, 3, 1, 12, 12)
    e = rand(g, 3, 1, 1, 1)
    w1 = randn(g, 4, 1, 4, 4, scale=0.5)
    b1 = randn(g, 4, scale=0.1)
    w2 = randn(g, 8, 4, 4, 4, scale=0.25)
    b2 = randn(g, 8, scale=0.1)
    w3 = randn(g, 1, 72, scale=0.2)
    b3 = randn(g, 1, scale=0.1)
    params = [w.clone().requires_grad_(True) for w in (w1, b1, w2, b2, w3, b3)]
    pw1, pb1, pw2, pb2, pw3, pb3 = params

    x_hat = (e * x + (1 - e) * x_fake).requires_grad_(True)
    h = F.leaky_relu(F.conv2d(x_hat, pw1, pb1, stride=2, padding=1), 0.2)
    h = F.leaky_relu(F.conv2d(h, pw2, pb2, stride=2, padding=1), 0.2)
    d_out = F.linear(h.reshape(3, 72), pw3, pb3)
    (gx,) = torch.autograd.grad(d_out.sum(), x_hat, create_graph=True)
    norms = gx.reshape(3, -1).norm(2, dim=1)
    penalty = ((norms - 1) ** 2).mean()
    # b3 does not reach dD/dx_hat, so its gradient is zero (gantry returns zeros, PyTorch None)
    pgrads = torch.autograd.grad(penalty, params, allow_unused=True)
    pgrads = [torch.zeros_like(p) if gr is None else gr for p, gr in zip(params, pgrads)]

    recs = [("x", x), ("x_fake", x_fake), ("e", e), ("w1", w1), ("b1", b1), ("w2", w2),
            ("b2", b2), ("w3", w3), ("b3", b3), ("x_hat", x_hat), ("d_out", d_out),
            ("grad_x_hat", gx), ("penalty", penalty)]
    recs += [("g" + n, t) for n, t in zip(("w1", "b1", "w2", "b2", "w3", "b3"), pgrads)]
    return recs


# ---- (b) first-order cases for single ops ----
def ops():
    recs = []
    g = gen(2001)
    recs += first_order(
        "conv2d",
        lambda x, w, b: F.conv2d(x, w, b, stride=2, padding=1, dilation=2, groups=2),
        [("x", randn(g, 2, 4, 9, 9)), ("w", randn(g, 6, 2, 3, 3, scale=0.5)),
         ("b", randn(g, 6, scale=0.1))], g)
    recs += first_order(
        "conv_transpose2d",
        lambda x, w, b: F.conv_transpose2d(x, w, b, stride=2, padding=1, output_padding=1,
                                           groups=2),
        [("x", randn(g, 2, 4, 5, 5)), ("w", randn(g, 4, 3, 3, 3, scale=0.5)),
         ("b", randn(g, 6, scale=0.1))], g)
    recs += first_order(
        "avg_pool2d", lambda x: F.avg_pool2d(x, 3, 2, 1, count_include_pad=True),
        [("x", randn(g, 2, 3, 7, 7))], g)
    recs += first_order("max_pool2d_k2", lambda x: F.max_pool2d(x, 2, 2, 0),
                        [("x", randn(g, 2, 3, 6, 6))], g)
    recs += first_order("max_pool2d_k3p1", lambda x: F.max_pool2d(x, 3, 2, 1),
                        [("x", randn(g, 2, 3, 7, 7))], g)
    # C = op(A) op(B), op = transpose of the last two axes
    recs += first_order("matmul_tt", lambda a, b: a.transpose(-1, -2) @ b.transpose(-1, -2),
                        [("a", randn(g, 2, 4, 3)), ("b", randn(g, 2, 5, 4))], g)
    recs += first_order("matmul_b2d_tb", lambda a, b: a @ b.t(),
                        [("a", randn(g, 2, 3, 4)), ("b", randn(g, 5, 4))], g)
    recs += first_order("matmul_ta", lambda a, b: a.t() @ b,
                        [("a", randn(g, 7, 3)), ("b", randn(g, 7, 5))], g)
    recs += first_order("log_softmax", lambda x: F.log_softmax(x, dim=1),
                        [("x", randn(g, 3, 5, 4, scale=3.0))], g)
    sp = randn(g, 4, 6, scale=8.0)
    sp[0, 0], sp[0, 1], sp[1, 2], sp[1, 3] = 40.0, -40.0, 90.0, -90.0
    recs += first_order("softplus", F.softplus, [("x", sp)], g)
    recs += first_order("var02", lambda x: x.var(dim=(0, 2), unbiased=True),
                        [("x", randn(g, 3, 4, 5))], g)
    recs += first_order("var_all", lambda x: x.var(unbiased=True).reshape(1),
                        [("x", randn(g, 2, 3, 4, scale=2.0))], g)
    # BCE with logits; the C side writes it as mean(y softplus(-z) + (1 - y) softplus(z)).
    z = randn(g, 8, scale=4.0)
    t = rand(g, 8)
    zl = z.clone().requires_grad_(True)
    bce = F.binary_cross_entropy_with_logits(zl, t)
    (gz,) = torch.autograd.grad(bce, zl)
    recs += [("bce.z", z), ("bce.t", t), ("bce.loss", bce), ("bce.gz", gz)]
    return recs


# ---- (c) second order: d ||d f/d x||^2 / d weights ----
def second_order():
    recs = []
    g = gen(3001)
    # f = sum(v * tanh(conv_transpose2d(x, w, b)))
    x = randn(g, 2, 3, 4, 4)
    w = randn(g, 3, 2, 3, 3, scale=0.5)
    b = randn(g, 2, scale=0.1)
    v = randn(g, 2, 2, 8, 8)
    xl, wl, bl = (t.clone().requires_grad_(True) for t in (x, w, b))
    y = F.conv_transpose2d(xl, wl, bl, stride=2, padding=1, output_padding=1)
    f = (v * torch.tanh(y)).sum()
    (gx,) = torch.autograd.grad(f, xl, create_graph=True)
    p = (gx ** 2).sum()
    pw, pb, px = torch.autograd.grad(p, [wl, bl, xl])
    recs += [("convt.x", x), ("convt.w", w), ("convt.b", b), ("convt.v", v),
             ("convt.gx", gx), ("convt.p", p), ("convt.pw", pw), ("convt.pb", pb),
             ("convt.px", px)]

    # f = sum(v * sigmoid(tanh(x W1^T + b1) W2^T + b2))
    x = randn(g, 5, 3)
    w1 = randn(g, 8, 3, scale=0.7)
    b1 = randn(g, 8, scale=0.2)
    w2 = randn(g, 2, 8, scale=0.7)
    b2 = randn(g, 2, scale=0.2)
    v = randn(g, 5, 2)
    leaves = [t.clone().requires_grad_(True) for t in (x, w1, b1, w2, b2)]
    xl, w1l, b1l, w2l, b2l = leaves
    o = torch.sigmoid(F.linear(torch.tanh(F.linear(xl, w1l, b1l)), w2l, b2l))
    f = (v * o).sum()
    (gx,) = torch.autograd.grad(f, xl, create_graph=True)
    p = (gx ** 2).sum()
    pgr = torch.autograd.grad(p, [w1l, b1l, w2l, b2l], allow_unused=True)
    pgr = [torch.zeros_like(t) if gr is None else gr for t, gr in zip((w1, b1, w2, b2), pgr)]
    recs += [("mlp.x", x), ("mlp.w1", w1), ("mlp.b1", b1), ("mlp.w2", w2), ("mlp.b2", b2),
             ("mlp.v", v), ("mlp.gx", gx), ("mlp.p", p)]
    recs += [("mlp.p" + n, t) for n, t in zip(("w1", "b1", "w2", "b2"), pgr)]
    return recs


def main():
    torch.set_num_threads(1)  # fixed reduction order: byte-identical files on every run
    total = 0
    for name, make in (("wgan_gp", wgan_gp), ("ops", ops), ("second_order", second_order)):
        path = os.path.join(HERE, name + ".gtfx")
        n = write_gtfx(path, make())
        total += n
        print("wrote %s (%d bytes)" % (os.path.relpath(path), n))
    print("total %d bytes" % total)


if __name__ == "__main__":
    main()
