# PyTorch side of `gantry bench`: the DCGAN-28 and MLP ring GAN training steps of
# ../shared/docs/protocols.md, timed the same way (warm-up, then the median of timed steps),
# at PyTorch's best: the faster of 1 and 2 intra-op threads, OPENBLAS_NUM_THREADS=1 set
# before torch is imported (otherwise OpenBLAS's threads oversubscribe the cores).
# Usage: python3 bench/torch_step.py dcgan-28|wgangp-28|mlp-ring [--steps N] [--warmup N] [--batch N]
#        [--threads 1,2]. The last line printed is one JSON object, as gantry bench prints.
import os

os.environ["OPENBLAS_NUM_THREADS"] = "1"
import argparse  # noqa: E402
import json  # noqa: E402
import resource  # noqa: E402
import time  # noqa: E402

import torch  # noqa: E402
import torch.nn as nn  # noqa: E402

# Per workload: default timed steps, warm-up steps and batch (gantry bench's defaults).
DEFAULTS = {"dcgan-28": (20, 3, 64), "wgangp-28": (10, 2, 64), "mlp-ring": (200, 20, 512)}


def dcgan28(d_norm=True):
    """G and D of protocols.md's DCGAN-28; returns (G, D, z_dim, one example's shape)."""
    g = nn.Sequential(
        nn.Linear(100, 256 * 7 * 7), nn.BatchNorm1d(256 * 7 * 7), nn.ReLU(),
        nn.Unflatten(1, (256, 7, 7)),
        nn.ConvTranspose2d(256, 128, 4, 2, 1), nn.BatchNorm2d(128), nn.ReLU(),
        nn.ConvTranspose2d(128, 1, 4, 2, 1), nn.Tanh())
    d = nn.Sequential(
        nn.Conv2d(1, 64, 4, 2, 1), nn.LeakyReLU(0.2),
        nn.Conv2d(64, 128, 4, 2, 1), *([nn.BatchNorm2d(128)] if d_norm else []), nn.LeakyReLU(0.2),
        nn.Flatten(), nn.Linear(128 * 7 * 7, 1))
    return g, d, 100, (1, 28, 28)


def mlp(n_in, n_out, width=128, depth=3):
    layers = []
    for i in range(depth):
        layers += [nn.Linear(n_in if i == 0 else width, width), nn.ReLU()]
    return nn.Sequential(*layers, nn.Linear(width, n_out))


def mlp_ring():
    """3 x 128 ReLU MLPs, z 256, 2-D points."""
    return mlp(256, 2), mlp(2, 1), 256, (2,)


def make_wgangp_step(batch):
    """protocols.md's WGAN-GP step: DCGAN-28 without batch norm in D, the Wasserstein loss and a
    gradient penalty of weight 10 at per-sample interpolates (double backward), then G; Adam."""
    g, d, z_dim, shape = dcgan28(d_norm=False)
    opt_g = torch.optim.Adam(g.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(d.parameters(), lr=2e-4, betas=(0.5, 0.999))
    real = torch.rand(batch, *shape) * 2 - 1

    def step():
        fake = g(torch.randn(batch, z_dim))
        opt_d.zero_grad()
        fake_d = fake.detach()
        eps = torch.rand(batch, 1, 1, 1)
        x_hat = (eps * real + (1 - eps) * fake_d).requires_grad_(True)
        grad, = torch.autograd.grad(d(x_hat).sum(), x_hat, create_graph=True)
        gp = ((grad.reshape(batch, -1).norm(2, dim=1) - 1) ** 2).mean()
        loss_d = d(fake_d).mean() - d(real).mean() + 10 * gp
        loss_d.backward()
        opt_d.step()
        opt_g.zero_grad()
        loss_g = -d(fake).mean()
        loss_g.backward()
        opt_g.step()

    return step


def make_step(workload, batch):
    """One training step as a closure: D on a real and a fake batch (BCE), then G; Adam."""
    if workload == "wgangp-28":
        return make_wgangp_step(batch)
    g, d, z_dim, shape = (dcgan28 if workload == "dcgan-28" else mlp_ring)()
    opt_g = torch.optim.Adam(g.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(d.parameters(), lr=2e-4, betas=(0.5, 0.999))
    bce = nn.BCEWithLogitsLoss()
    # The data does not change a step's cost: one fixed uniform [-1, 1] batch, as gantry uses.
    real = torch.rand(batch, *shape) * 2 - 1
    ones, zeros = torch.ones(batch, 1), torch.zeros(batch, 1)

    def step():
        fake = g(torch.randn(batch, z_dim))
        opt_d.zero_grad()
        loss_d = bce(d(real), ones) + bce(d(fake.detach()), zeros)
        loss_d.backward()
        opt_d.step()
        opt_g.zero_grad()
        loss_g = bce(d(fake), ones)
        loss_g.backward()
        opt_g.step()

    return step


def blas_library():
    """The BLAS this process loaded (Debian's alternatives pick reference BLAS or OpenBLAS)."""
    with open("/proc/self/maps") as maps:
        paths = {line.split()[-1] for line in maps if "blas" in line.rsplit("/", 1)[-1]}
    return ",".join(sorted(os.path.realpath(p) for p in paths)) or "unknown"


def median_ms(step, steps, warmup):
    for _ in range(warmup):
        step()
    times = []
    for _ in range(steps):
        t0 = time.perf_counter()
        step()
        times.append((time.perf_counter() - t0) * 1e3)
    times.sort()
    return times[len(times) // 2]


def main():
    ap = argparse.ArgumentParser(description="Time a PyTorch GAN training step.")
    ap.add_argument("workload", choices=sorted(DEFAULTS))
    ap.add_argument("--steps", type=int, help="timed steps (default per workload)")
    ap.add_argument("--warmup", type=int, help="untimed steps first (default per workload)")
    ap.add_argument("--batch", type=int, help="batch size (default per workload)")
    ap.add_argument("--threads", default="1,2", help="thread counts to try (default 1,2)")
    a = ap.parse_args()
    steps, warmup, batch = (v if v is not None else d
                            for v, d in zip((a.steps, a.warmup, a.batch), DEFAULTS[a.workload]))
    if steps < 1 or warmup < 0 or batch < 1:
        ap.error("--steps and --batch must be >= 1, --warmup >= 0")
    torch.manual_seed(0)
    results = {}
    for threads in (int(t) for t in a.threads.split(",")):
        torch.set_num_threads(threads)
        results[threads] = median_ms(make_step(a.workload, batch), steps, warmup)
        print(f"torch {torch.__version__} {a.workload}: {threads} thread(s), batch {batch}, "
              f"{warmup} warm-up + {steps} timed steps: median {results[threads]:.3f} ms/step",
              flush=True)
    best = min(results, key=results.get)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: kilobytes
    blas = blas_library()
    print(f"  best: {best} thread(s), {results[best]:.3f} ms/step, peak RSS {rss:.1f} MB, "
          f"BLAS {blas}")
    print(json.dumps({"workload": a.workload, "impl": f"torch {torch.__version__}",
                      "ms_per_step": round(results[best], 4), "steps": steps, "warmup": warmup,
                      "batch": batch, "threads": best, "peak_rss_mb": round(rss, 1), "blas": blas,
                      "ms_by_threads": {str(t): round(m, 4) for t, m in results.items()}}))


if __name__ == "__main__":
    main()
