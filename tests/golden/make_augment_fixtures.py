#!/usr/bin/python3
"""Writes tests/golden/augment.gtfx: DiffAugment's and ADA's augmentations of images, their values
and gradients through them to second order, checked by tests/test_augment.c against
src/gan/augment.c.

Regenerate from the repository root:  /usr/bin/python3 tests/golden/make_augment_fixtures.py
The seeds are fixed. Inputs are drawn in float32; references are computed in float64 from those
exact values and rounded to float32 once (format: see make_fixtures.py).

Each case draws images x [N, C, H, W] (N = 4, 8 x 8, std 0.5), the augmentation's parameters
u [N, 16] (U[0, 1)) and g [N, 8] (N(0, 1)) as gantry lays them out (src/gan/augment.c's header),
and a weight w like x. Records "<case>.x", ".u", ".g", ".w", ".y" = augment(x), ".dx" =
d sum(w tanh(y)) / dx and ".ddx" = d sum(dx^2) / dx (a double backward).

Written here independently of gantry's C:
  DiffAugment as the authors' DiffAugment_pytorch.py (integer draws from the uniforms as
  floor(u k), which is how gantry maps its uniforms to the reference's randint);
  ADA's geometry as a bilinear lookup at coordinates reflected about the border pixels'
  centres (checked here against torch.nn.functional.grid_sample with bilinear, reflection
  padding and align_corners=True, which has no double backward in torch 1.13), the inverse map
  built from 3x3 homogeneous matrices as ADA's augment.py does;
  ADA's colors from 4x4 matrices (translate, scale, Rodrigues' rotation about the luma axis,
  the saturation matrix), composed by left multiplication.
"""
import math
import os

import torch
import torch.nn.functional as F

from make_fixtures import HERE, gen, rand, randn, write_gtfx

N, H, W = 4, 8, 8
REC = []


def add(name, t):
    REC.append((name, t.detach().clone()))


def round_half_away(v):
    """C's round(): halves away from zero (Python's round() takes halves to even)."""
    return math.copysign(math.floor(abs(v) + 0.5), v)


def floor_int(u, k):
    return min(int(math.floor(float(u) * k)), k - 1)


# ---- DiffAugment --------------------------------------------------------------------------------

def diff_color(x, u):
    n = x.shape[0]
    x = x + (u[:, 0] - 0.5).view(n, 1, 1, 1)
    m = x.mean(dim=1, keepdim=True)
    x = (x - m) * (u[:, 1] * 2).view(n, 1, 1, 1) + m
    m = x.mean(dim=[1, 2, 3], keepdim=True)
    return (x - m) * (u[:, 2] + 0.5).view(n, 1, 1, 1) + m


def diff_translation(x, u):
    n, c, h, w = x.shape
    sh, sw = int(h * 0.125 + 0.5), int(w * 0.125 + 0.5)
    pad = F.pad(x, [1, 1, 1, 1])
    out = []
    for s in range(n):
        tr = floor_int(u[s, 3], 2 * sh + 1) - sh
        tc = floor_int(u[s, 4], 2 * sw + 1) - sw
        rows = torch.clamp(torch.arange(h) + tr + 1, 0, h + 1)
        cols = torch.clamp(torch.arange(w) + tc + 1, 0, w + 1)
        out.append(pad[s][:, rows][:, :, cols])
    return torch.stack(out)


def diff_cutout(x, u):
    n, c, h, w = x.shape
    size = (int(h * 0.5 + 0.5), int(w * 0.5 + 0.5))
    mask = torch.ones(n, h, w, dtype=x.dtype)
    for s in range(n):
        ox = floor_int(u[s, 5], h + (1 - size[0] % 2))
        oy = floor_int(u[s, 6], w + (1 - size[1] % 2))
        gx = torch.clamp(torch.arange(size[0]) + ox - size[0] // 2, 0, h - 1)
        gy = torch.clamp(torch.arange(size[1]) + oy - size[1] // 2, 0, w - 1)
        mask[s][gx.view(-1, 1), gy.view(1, -1)] = 0
    return x * mask.unsqueeze(1)


# ---- ADA ----------------------------------------------------------------------------------------

def mat3(rows):
    return torch.tensor(rows, dtype=torch.float64)


def ada_geometry(x, u, g, p):
    """One grid_sample of x with each sample's inverse map (row, column coordinates)."""
    n, c, h, w = x.shape
    grids = []
    for s in range(n):
        inv = torch.eye(3, dtype=torch.float64)  # output -> source
        if u[s, 0] < p and u[s, 1] < 0.5:  # xflip: column -> -column
            inv = inv @ mat3([[1, 0, 0], [0, -1, 0], [0, 0, 1]])
        if u[s, 2] < p and h == w:  # k quarter turns; undo one: (r, c) -> (c, -r)
            for _ in range(floor_int(u[s, 3], 4)):
                inv = inv @ mat3([[0, 1, 0], [-1, 0, 0], [0, 0, 1]])
        if u[s, 4] < p:  # integer translation
            tc = round_half_away((2 * float(u[s, 5]) - 1) * 0.125 * w)
            tr = round_half_away((2 * float(u[s, 6]) - 1) * 0.125 * h)
            inv = inv @ mat3([[1, 0, -tr], [0, 1, -tc], [0, 0, 1]])
        if u[s, 7] < p:  # isotropic scaling by 2^(0.2 g0)
            k = 1 / 2 ** (0.2 * float(g[s, 0]))
            inv = inv @ mat3([[k, 0, 0], [0, k, 0], [0, 0, 1]])
        r, q = torch.meshgrid(torch.arange(h, dtype=torch.float64) - (h - 1) / 2,
                              torch.arange(w, dtype=torch.float64) - (w - 1) / 2, indexing="ij")
        src = inv @ torch.stack([r.flatten(), q.flatten(), torch.ones(h * w, dtype=torch.float64)])
        sr, sc = src[0] + (h - 1) / 2, src[1] + (w - 1) / 2
        grids.append((sr.view(h, w), sc.view(h, w)))
    y = torch.stack([bilinear_reflected(x[s], *grids[s]) for s in range(n)])
    # the same resampling by torch's own grid_sample (no double backward in torch 1.13, so it
    # checks the values only)
    norm = torch.stack([torch.stack([2 * sc / (w - 1) - 1, 2 * sr / (h - 1) - 1], dim=-1)
                        for sr, sc in grids])
    ref = F.grid_sample(x.detach(), norm, mode="bilinear", padding_mode="reflection",
                        align_corners=True)
    assert (ref - y.detach()).abs().max() < 1e-12
    return y


def reflect_coordinate(t, n):
    """t reflected about the centres of pixels 0 and n - 1 into [0, n - 1]."""
    period = 2 * (n - 1)
    t = torch.remainder(t, period)
    return torch.where(t > n - 1, period - t, t)


def bilinear_reflected(img, sr, sc):
    """img [C, H, W] at source positions sr, sc [H, W] (pixel units), bilinear, reflected."""
    h, w = img.shape[1:]
    r, c = reflect_coordinate(sr, h), reflect_coordinate(sc, w)
    r0, c0 = r.floor().long().clamp(0, h - 1), c.floor().long().clamp(0, w - 1)
    r1, c1 = (r0 + 1).clamp(max=h - 1), (c0 + 1).clamp(max=w - 1)
    fr, fc = r - r0, c - c0
    return (img[:, r0, c0] * (1 - fr) * (1 - fc) + img[:, r0, c1] * (1 - fr) * fc +
            img[:, r1, c0] * fr * (1 - fc) + img[:, r1, c1] * fr * fc)


def luma_rotation(theta):
    v = torch.full((3,), 1 / math.sqrt(3), dtype=torch.float64)
    k = torch.tensor([[0, -v[2], v[1]], [v[2], 0, -v[0]], [-v[1], v[0], 0]], dtype=torch.float64)
    r = math.cos(theta) * torch.eye(3, dtype=torch.float64) + math.sin(theta) * k + \
        (1 - math.cos(theta)) * torch.outer(v, v)
    m = torch.eye(4, dtype=torch.float64)
    m[:3, :3] = r
    return m


def saturation_matrix(s):
    v = torch.full((3,), 1 / math.sqrt(3), dtype=torch.float64)
    vv = torch.outer(v, v)
    m = torch.eye(4, dtype=torch.float64)
    m[:3, :3] = vv + (torch.eye(3, dtype=torch.float64) - vv) * s
    return m


def ada_color(x, u, g, p, ops):
    n, c = x.shape[:2]
    rgb = c == 3
    mats = []
    for s in range(n):
        m = torch.eye(4, dtype=torch.float64)
        if "brightness" in ops and u[s, 8] < p:
            t = torch.eye(4, dtype=torch.float64)
            t[:3, 3] = 0.2 * float(g[s, 1])
            m = t @ m
        if "contrast" in ops and u[s, 9] < p:
            t = torch.eye(4, dtype=torch.float64)
            t[0, 0] = t[1, 1] = t[2, 2] = 2 ** (0.5 * float(g[s, 2]))
            m = t @ m
        if rgb and "hue" in ops and u[s, 10] < p:
            m = luma_rotation((2 * float(u[s, 11]) - 1) * math.pi) @ m
        if rgb and "saturation" in ops and u[s, 12] < p:
            m = saturation_matrix(2 ** float(g[s, 3])) @ m
        mats.append(m)
    m = torch.stack(mats)
    if rgb:
        return torch.einsum("nck,nkhw->nchw", m[:, :3, :3], x) + m[:, :3, 3].view(n, 3, 1, 1)
    return x * m[:, 0, 0].view(n, 1, 1, 1) + m[:, 0, 3].view(n, 1, 1, 1)


def ada_cutout(x, u, p):
    n, c, h, w = x.shape
    cr = (torch.arange(h, dtype=torch.float64) + 0.5) / h
    cc = (torch.arange(w, dtype=torch.float64) + 0.5) / w
    masks = []
    for s in range(n):
        inside = ((cr - u[s, 14]).abs() < 0.25).view(h, 1) & ((cc - u[s, 15]).abs() < 0.25).view(1, w)
        masks.append(torch.where(inside & (u[s, 13] < p), 0.0, 1.0).double())
    return x * torch.stack(masks).unsqueeze(1)


# ---- cases --------------------------------------------------------------------------------------

CASES = [  # name, channels, function of (x, u, g)
    ("diff_color", 3, lambda x, u, g: diff_color(x, u)),
    ("diff_translation", 2, lambda x, u, g: diff_translation(x, u)),
    ("diff_cutout", 1, lambda x, u, g: diff_cutout(x, u)),
    ("diff_all", 3, lambda x, u, g: diff_cutout(diff_translation(diff_color(x, u), u), u)),
    ("ada_geometry", 2, lambda x, u, g: ada_geometry(x, u, g, 0.7)),
    ("ada_color_grey", 1, lambda x, u, g: ada_color(x, u, g, 0.7, ["brightness", "contrast"])),
    ("ada_color_rgb", 3, lambda x, u, g: ada_color(x, u, g, 0.7,
                                                   ["brightness", "contrast", "hue", "saturation"])),
    ("ada_cutout", 1, lambda x, u, g: ada_cutout(x, u, 0.7)),
    ("ada_all", 3, lambda x, u, g: ada_cutout(ada_color(ada_geometry(x, u, g, 0.7), u, g, 0.7,
                                                        ["brightness", "contrast", "hue",
                                                         "saturation"]), u, 0.7)),
]


def case(seed, name, channels, fn):
    gn = gen(seed)
    x = randn(gn, N, channels, H, W, scale=0.5).requires_grad_(True)
    u, g = rand(gn, N, 16), randn(gn, N, 8)
    w = randn(gn, N, channels, H, W)
    y = fn(x, u, g)
    dx, = torch.autograd.grad((w * torch.tanh(y)).sum(), x, create_graph=True)
    ddx, = torch.autograd.grad((dx * dx).sum(), x)
    for key, t in (("x", x), ("u", u), ("g", g), ("w", w), ("y", y), ("dx", dx), ("ddx", ddx)):
        add(f"{name}.{key}", t)


def main():
    for seed, (name, channels, fn) in enumerate(CASES):
        case(100 + seed, name, channels, fn)
    path = os.path.join(HERE, "augment.gtfx")
    write_gtfx(path, REC)
    print(f"wrote {path}: {len(REC)} tensors")


if __name__ == "__main__":
    main()
