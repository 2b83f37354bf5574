# PyTorch reference timings for bench_conv.c: forward and forward+backward (input and
# weight gradients) of conv2d / conv_transpose2d; the best of 1 and 2 threads per timing.
# Arguments: repetitions, then per case "kind,n,c_in,h,w,c_out,k,s,p" (kind conv|convt).
# Prints one line per case: "spec fwd_ms fwdbwd_ms threads" (threads of the best fwd+bwd).
import os
import sys

os.environ["OPENBLAS_NUM_THREADS"] = "1"
import time  # noqa: E402

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402


def median_ms(fn, reps, budget_s=1.5):
    """Median of reps timed calls after a warm-up; fewer (at least 1) for slow calls."""
    t0 = time.perf_counter()
    fn()
    first = time.perf_counter() - t0
    reps = max(1, min(reps, int(budget_s / max(first, 1e-9))))
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1e3)
    times.sort()
    return times[len(times) // 2]


def case(spec, reps):
    kind, n, c_in, h, w, c_out, k, s, p = spec.split(",")
    n, c_in, h, w, c_out, k, s, p = map(int, (n, c_in, h, w, c_out, k, s, p))
    op = F.conv2d if kind == "conv" else F.conv_transpose2d
    # conv: weight [c_out, c_in, k, k]; convt: weight [c_in, c_out, k, k] (torch layout).
    wshape = (c_out, c_in, k, k) if kind == "conv" else (c_in, c_out, k, k)
    x = torch.randn(n, c_in, h, w, requires_grad=True)
    wt = torch.randn(*wshape, requires_grad=True)
    gout = torch.randn_like(op(x, wt, stride=s, padding=p))

    def fwd():
        with torch.no_grad():
            op(x, wt, stride=s, padding=p)

    def fwdbwd():
        x.grad = None
        wt.grad = None
        op(x, wt, stride=s, padding=p).backward(gout)

    runs = []
    for threads in (1, 2):
        torch.set_num_threads(threads)
        runs.append((median_ms(fwd, reps), median_ms(fwdbwd, reps), threads))
    return min(r[0] for r in runs), min(r[1] for r in runs), min(runs, key=lambda r: r[1])[2]


def main():
    reps = int(sys.argv[1])
    for spec in sys.argv[2:]:
        f, fb, t = case(spec, reps)
        print(f"{spec} {f:.4f} {fb:.4f} {t}", flush=True)


if __name__ == "__main__":
    main()
