"""protocols.md's DCGAN-28 in PyTorch, with module names that match gantry's parameter tables
(src/nn/dcgan.c), so state_dict names map one to one: G fc, fc_norm, deconv1, norm1, deconv2;
D conv1, conv2, norm2, fc. Shared by the wall-clock training script and the golden fixtures."""
import torch
import torch.nn as nn


class G(nn.Module):
    def __init__(self, w=64, z=100):
        super().__init__()
        self.w = w
        self.fc = nn.Linear(z, 4 * w * 49)
        self.fc_norm = nn.BatchNorm1d(4 * w * 49)
        self.deconv1 = nn.ConvTranspose2d(4 * w, 2 * w, 4, 2, 1)
        self.norm1 = nn.BatchNorm2d(2 * w)
        self.deconv2 = nn.ConvTranspose2d(2 * w, 1, 4, 2, 1)

    def forward(self, z):
        h = torch.relu(self.fc_norm(self.fc(z))).view(-1, 4 * self.w, 7, 7)
        h = torch.relu(self.norm1(self.deconv1(h)))
        return torch.tanh(self.deconv2(h))


class D(nn.Module):
    def __init__(self, w=64):
        super().__init__()
        self.conv1 = nn.Conv2d(1, w, 4, 2, 1)
        self.conv2 = nn.Conv2d(w, 2 * w, 4, 2, 1)
        self.norm2 = nn.BatchNorm2d(2 * w)
        self.fc = nn.Linear(2 * w * 49, 1)

    def forward(self, x):
        h = nn.functional.leaky_relu(self.conv1(x), 0.2)
        h = nn.functional.leaky_relu(self.norm2(self.conv2(h)), 0.2)
        return self.fc(h.flatten(1))


def init(net, generator=None, std=0.02):
    """gantry's init: N(0, std) weights, zero biases, norm weights 1."""
    for name, p in net.named_parameters():
        with torch.no_grad():
            if "norm" in name and name.endswith("weight"):
                p.fill_(1.0)
            elif name.endswith("weight"):
                p.copy_(torch.randn(p.shape, generator=generator) * std)
            else:
                p.zero_()
