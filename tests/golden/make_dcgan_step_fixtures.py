#!/usr/bin/python3
"""Golden fixture for two full DCGAN-28 training steps (D step on a real and a fake batch with
BCE, then a G step reusing the fake batch, Adam(2e-4, 0.5, 0.999)), as in PyTorch's DCGAN
example and protocols.md, at width 8 to keep the file small.

Regenerate from the repository root:  /usr/bin/python3 tests/golden/make_dcgan_step_fixtures.py
Writes tests/golden/dcgan_step.gtfx (format: see make_fixtures.py). Parameter names follow
gantry's tables (src/nn/dcgan.c): G fc, fc_norm, deconv1, norm1, deconv2; D conv1, conv2,
norm2, fc. Initial weights are N(0, 0.02) for every weight, 0 for biases, 1 for norm weights.
"""
import os
import sys

import torch
import torch.nn as nn

from make_fixtures import HERE, gen, write_gtfx

sys.path.insert(0, os.path.join(HERE, "..", "..", "bench"))
from torch_dcgan import D, G, init  # noqa: E402

W, Z, N, STEPS = 8, 16, 8, 2


def state(prefix, net):
    out = []
    for name, t in net.state_dict().items():
        if name.endswith("num_batches_tracked"):
            continue
        out.append((prefix + name, t.clone()))
    return out


def main():
    torch.manual_seed(0)
    torch.set_num_threads(1)
    g = gen(7)
    netG, netD = G(W, Z), D(W)
    init(netG, g)
    init(netD, g)
    records = state("init.g.", netG) + state("init.d.", netD)
    optG = torch.optim.Adam(netG.parameters(), lr=2e-4, betas=(0.5, 0.999))
    optD = torch.optim.Adam(netD.parameters(), lr=2e-4, betas=(0.5, 0.999))
    bce = nn.BCEWithLogitsLoss()
    for step in range(STEPS):
        real = torch.rand(N, 1, 28, 28, generator=g) * 2 - 1
        z = torch.randn(N, Z, generator=g)
        records += [("step%d.real" % step, real), ("step%d.z" % step, z)]
        optD.zero_grad()
        fake = netG(z)
        err_d = bce(netD(real), torch.ones(N, 1)) + bce(netD(fake.detach()), torch.zeros(N, 1))
        err_d.backward()
        optD.step()
        optG.zero_grad()
        err_g = bce(netD(fake), torch.ones(N, 1))
        err_g.backward()
        optG.step()
        records += [("step%d.d_loss" % step, err_d.detach()), ("step%d.g_loss" % step, err_g.detach())]
    records += state("final.g.", netG) + state("final.d.", netD)
    size = write_gtfx(os.path.join(HERE, "dcgan_step.gtfx"), records)
    print("dcgan_step.gtfx: %d bytes" % size)


if __name__ == "__main__":
    main()
