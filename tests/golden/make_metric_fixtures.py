#!/usr/bin/python3
"""Writes tests/golden/metrics.gtfx: two small feature sets and their FID, KID and precision/recall
computed independently of gantry (numpy, scipy.linalg.sqrtm), for tests/test_metrics.c.

Regenerate from the repository root: /usr/bin/python3 tests/golden/make_metric_fixtures.py
The seed is fixed, so the file is byte-identical on every run. Features are drawn in float32 and
every reference is computed in float64 from those exact values.

Records: a [500, 16], b [400, 16]; mean_a [16], cov_a [16, 16] (unbiased); fid [] (classic formula
|mu_a - mu_b|^2 + tr(Sa + Sb - 2 sqrtm(Sa Sb))); mmd2 [] (unbiased MMD^2 of the full sets with the
cubic kernel (x.y/d + 1)^3, which is gt_kid with one subset of at least 500); pr [2] (precision,
recall with k = 3 by brute-force distances).
"""
import os
import sys

import numpy as np
import scipy.linalg
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from make_fixtures import write_gtfx  # noqa: E402

N_A, N_B, D, K = 500, 400, 16, 3


def draw(rng, n, mean, mix):
    """n float32 samples of N(mean, mix mix^T), returned as float64 holding the float32 values."""
    z = rng.standard_normal((n, D))
    return (z @ mix.T + mean).astype(np.float32).astype(np.float64)


def fid(a, b):
    mu_a, mu_b = a.mean(0), b.mean(0)
    sa, sb = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    covmean = scipy.linalg.sqrtm(sa @ sb).real
    return ((mu_a - mu_b) ** 2).sum() + np.trace(sa) + np.trace(sb) - 2.0 * np.trace(covmean)


def mmd2_unbiased(x, y):
    k = lambda p, q: (p @ q.T / x.shape[1] + 1.0) ** 3  # noqa: E731
    kxx, kyy, kxy = k(x, x), k(y, y), k(x, y)
    m, n = len(x), len(y)
    within_x = (kxx.sum() - np.trace(kxx)) / (m * (m - 1))  # unbiased: pairs i != j only
    within_y = (kyy.sum() - np.trace(kyy)) / (n * (n - 1))
    return within_x + within_y - 2.0 * kxy.mean()


def pairwise(p, q):
    return np.sqrt(((p[:, None, :] - q[None, :, :]) ** 2).sum(-1))


def knn_radius(x):
    dist = pairwise(x, x)
    np.fill_diagonal(dist, np.inf)  # the sample itself is not its own neighbour
    return np.sort(dist, axis=1)[:, K - 1]


def coverage(p, q, radius_q):
    """Share of p within radius_q[j] of some q_j."""
    return float((pairwise(p, q) <= radius_q[None, :]).any(axis=1).mean())


def main():
    rng = np.random.default_rng(20240611)
    a = draw(rng, N_A, np.zeros(D), rng.standard_normal((D, D)) * 0.4 + np.eye(D))
    b = draw(rng, N_B, np.full(D, 0.3), rng.standard_normal((D, D)) * 0.5 + 0.7 * np.eye(D))
    precision = coverage(b, a, knn_radius(a))
    recall = coverage(a, b, knn_radius(b))
    t = lambda v: torch.tensor(np.asarray(v, dtype=np.float64))  # noqa: E731
    records = [("a", t(a)), ("b", t(b)), ("mean_a", t(a.mean(0))),
               ("cov_a", t(np.cov(a, rowvar=False))), ("fid", t(fid(a, b))),
               ("mmd2", t(mmd2_unbiased(a, b))), ("pr", t([precision, recall]))]
    size = write_gtfx(os.path.join(HERE, "metrics.gtfx"), records)
    print("metrics.gtfx: %d bytes, fid %.6f, mmd2 %.6g, precision %.4f, recall %.4f"
          % (size, fid(a, b), mmd2_unbiased(a, b), precision, recall))


if __name__ == "__main__":
    main()
