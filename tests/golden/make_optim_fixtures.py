#!/usr/bin/python3
"""Writes tests/golden/optim.gtfx: torch.optim.Adam and torch.optim.SGD references that
tests/test_optim.c compares src/optim/ against.

Regenerate (from the repository root, on Debian with its PyTorch package):
    apt-get update && apt-get install -y python3-torch
    /usr/bin/python3 tests/golden/make_optim_fixtures.py
The seed is fixed, so running it again writes a byte-identical file. The fixture is committed: the
C tests never need Python.

A small parameter set (three tensors) starts from fixed values and takes STEPS updates, each from a
fixed gradient (drawn in advance, independent of the parameters), in float32 exactly as PyTorch
runs it (foreach=False, the per-tensor loop). Records:
    init.NAME          the starting values
    grad.K.NAME        the gradient of update K (K = 1..STEPS)
    CASE.K.NAME        the parameters after update K
    CASE.m.NAME        after the last update: Adam's exp_avg, SGD's momentum_buffer
    CASE.v.NAME        after the last update: Adam's exp_avg_sq
The hyperparameters of every CASE are in CASES below and in the table of tests/test_optim.c.
The file format (GTFX) is described in tests/golden/make_fixtures.py and tests/fixture.h.
"""
import os
import sys

import torch

sys.dont_write_bytecode = True  # no __pycache__ beside the fixtures
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_fixtures import gen, write_gtfx  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
STEPS = 5
SHAPES = (("w", (3, 4)), ("b", (5,)), ("k", (2, 3, 2)))

# name, optimizer class, keyword arguments (keep in step with the table in tests/test_optim.c)
CASES = (
    ("adam_b05", torch.optim.Adam, dict(lr=0.01, betas=(0.5, 0.999), eps=1e-8, weight_decay=0.0)),
    ("adam_b05_wd", torch.optim.Adam,
     dict(lr=0.01, betas=(0.5, 0.999), eps=1e-8, weight_decay=0.1)),
    ("adam_b0", torch.optim.Adam, dict(lr=0.002, betas=(0.0, 0.9), eps=1e-6, weight_decay=0.0)),
    ("adam_b0_wd", torch.optim.Adam, dict(lr=0.002, betas=(0.0, 0.9), eps=1e-6, weight_decay=0.05)),
    ("sgd_mom", torch.optim.SGD, dict(lr=0.05, momentum=0.9, weight_decay=0.0)),
    ("sgd_mom_wd", torch.optim.SGD, dict(lr=0.05, momentum=0.9, weight_decay=0.01)),
)


def inputs():
    """Starting values and STEPS gradients per tensor (float32); gradient scales vary by step."""
    g = gen(4001)
    init = {n: torch.randn(*s, generator=g) for n, s in SHAPES}
    grads = []
    for k in range(STEPS):
        scale = (1.0, 0.3, 2.0, 0.05, 1.0)[k]
        grads.append({n: torch.randn(*s, generator=g) * scale for n, s in SHAPES})
    return init, grads


def run_case(name, cls, kwargs, init, grads):
    params = {n: init[n].clone().requires_grad_(True) for n, _ in SHAPES}
    opt = cls([params[n] for n, _ in SHAPES], foreach=False, **kwargs)
    recs = []
    for k, gk in enumerate(grads, start=1):
        for n, _ in SHAPES:
            params[n].grad = gk[n].clone()
        opt.step()
        recs += [("%s.%d.%s" % (name, k, n), params[n].detach().clone()) for n, _ in SHAPES]
    for n, _ in SHAPES:
        state = opt.state[params[n]]
        if cls is torch.optim.Adam:
            recs += [("%s.m.%s" % (name, n), state["exp_avg"]),
                     ("%s.v.%s" % (name, n), state["exp_avg_sq"])]
        else:
            recs.append(("%s.m.%s" % (name, n), state["momentum_buffer"]))
    return recs


def main():
    torch.set_num_threads(1)  # one code path and order on every run: byte-identical files
    init, grads = inputs()
    recs = [("init." + n, init[n]) for n, _ in SHAPES]
    for k, gk in enumerate(grads, start=1):
        recs += [("grad.%d.%s" % (k, n), gk[n]) for n, _ in SHAPES]
    for name, cls, kwargs in CASES:
        recs += run_case(name, cls, kwargs, init, grads)
    path = os.path.join(HERE, "optim.gtfx")
    n = write_gtfx(path, recs)
    print("wrote %s (%d bytes)" % (os.path.relpath(path), n))


if __name__ == "__main__":
    main()
