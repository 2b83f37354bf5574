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

import torch
import torch.nn as nn

from make_fixtures import HERE, gen, write_gtfx

W, Z, N, STEPS = 8, 16, 8, 2


class G(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(Z, 4 * W * 49)
        self.fc_norm = nn.BatchNorm1d(4 * W * 49)
        self.deconv1 = nn.ConvTranspose2d(4 * W, 2 * W, 4, 2, 1)
        self.norm1 = nn.BatchNorm2d(2 * W)
        self.deconv2 = nn.ConvTranspose2d(2 * W, 1, 4, 2, 1)

    def forward(self, z):
        h = torch.relu(self.fc_norm(self.fc(z))).view(-1, 4 * W, 7, 7)
        h = torch.relu(self.norm1(self.deconv1(h)))
        return torch.tanh(self.deconv2(h))


class D(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, W, 4, 2, 1)
        self.conv2 = nn.Conv2d(W, 2 * W, 4, 2, 1)
        self.norm2 = nn.BatchNorm2d(2 * W)
        self.fc = nn.Linear(2 * W * 49, 1)

    def forward(self, x):
        h = nn.functional.leaky_relu(self.conv1(x), 0.2)
        h = nn.functional.leaky_relu(self.norm2(self.conv2(h)), 0.2)
        return self.fc(h.flatten(1))


def init(net, g):
    for name, p in net.named_parameters():
        with torch.no_grad():
            if "norm" in name and name.endswith("weight"):
                p.fill_(1.0)
            elif name.endswith("weight"):
                p.copy_(torch.randn(p.shape, generator=g) * 0.02)
            else:
                p.zero_()


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
    netG, netD = G(), D()
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
