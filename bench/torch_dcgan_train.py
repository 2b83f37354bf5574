#!/usr/bin/python3
"""PyTorch side of the wall-clock quality comparison (issue 3): trains protocols.md's DCGAN-28 on
Fashion-MNIST with gantry's default recipe (configs/dcgan-fmnist.ini: N(0, 0.02) init, BCE,
Adam(2e-4, 0.5, 0.999), batch 64, G EMA with decay 0.999 from step 500, sampling in eval mode)
for a fixed number of minutes, then writes N samples as float32 .npy (N, 1, 28, 28) in [-1, 1].

    OPENBLAS_NUM_THREADS=1 /usr/bin/python3 bench/torch_dcgan_train.py --minutes 10 --out torch.npy

Prints the steps completed. Score the samples with `gantry eval --samples torch.npy`.
"""
import argparse
import copy
import gzip
import os
import struct
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402

from torch_dcgan import D, G, init  # noqa: E402

Z = 100


def load_idx_images(path):
    with gzip.open(path, "rb") as f:
        magic, n, h, w = struct.unpack(">IIII", f.read(16))
        assert magic == 0x803, path
        x = np.frombuffer(f.read(n * h * w), dtype=np.uint8).reshape(n, 1, h, w)
    return torch.from_numpy(x.astype(np.float32) / 127.5 - 1.0)


def ema_update(ema, net, step, decay=0.999, start=500):
    with torch.no_grad():
        for (_, e), (_, p) in zip(ema.named_parameters(), net.named_parameters()):
            if step < start:
                e.copy_(p)
            else:
                e.mul_(decay).add_(p, alpha=1 - decay)
        for (_, e), (_, b) in zip(ema.named_buffers(), net.named_buffers()):
            e.copy_(b)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=float, default=10)
    ap.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    ap.add_argument("--samples", type=int, default=10000)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    x = load_idx_images(os.path.join(a.data, "train-images-idx3-ubyte.gz"))
    netG, netD = G(), D()
    init(netG)
    init(netD)
    ema = copy.deepcopy(netG)
    optG = torch.optim.Adam(netG.parameters(), lr=2e-4, betas=(0.5, 0.999))
    optD = torch.optim.Adam(netD.parameters(), lr=2e-4, betas=(0.5, 0.999))
    bce = nn.BCEWithLogitsLoss()
    ones, zeros = torch.ones(64, 1), torch.zeros(64, 1)
    step, start = 0, time.time()
    perm, pos = torch.randperm(x.shape[0]), 0
    while time.time() - start < a.minutes * 60:
        if pos + 64 > x.shape[0]:
            perm, pos = torch.randperm(x.shape[0]), 0
        real = x[perm[pos:pos + 64]]
        pos += 64
        optD.zero_grad()
        fake = netG(torch.randn(64, Z))
        err_d = bce(netD(real), ones) + bce(netD(fake.detach()), zeros)
        err_d.backward()
        optD.step()
        optG.zero_grad()
        err_g = bce(netD(fake), ones)
        err_g.backward()
        optG.step()
        ema_update(ema, netG, step)
        step += 1
    elapsed = time.time() - start
    ema.eval()
    with torch.no_grad():
        s = torch.cat([ema(torch.randn(500, Z)) for _ in range(a.samples // 500)])
    np.save(a.out, s.numpy().astype(np.float32))
    print("pytorch: %d steps in %.1f s (%.1f ms/step); wrote %s" % (step, elapsed, 1000 * elapsed / step, a.out))


if __name__ == "__main__":
    main()
