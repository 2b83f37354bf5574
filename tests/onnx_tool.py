#!/usr/bin/python3
"""Helpers of the export tests, on Debian's python3-onnx (/usr/bin/python3):
  onnx_tool.py check MODEL.onnx...
      onnx.checker.check_model with full_check (shape inference included) on each file; prints
      each one's opset, inputs and outputs. Exit 3 when the onnx module is missing, 1 when a
      check fails (the file named).
  onnx_tool.py noise MODEL.onnx OUTDIR N
      writes each StyleGAN2 constant noise map of MODEL (initializers named *.noise_const),
      repeated for a batch of N, to OUTDIR/noise_<layer>.npy [N, 1, H, W] and prints one NAME=FILE line per map, the input names a model
      exported with --noise input takes."""
import os
import re
import sys

try:
    import numpy as np
    import onnx
    from onnx import numpy_helper
except ImportError as e:
    print("python3-onnx is not installed: %s" % e, file=sys.stderr)
    sys.exit(3)


def dims(value_info):
    shape = value_info.type.tensor_type.shape
    return [d.dim_param or d.dim_value for d in shape.dim]


def check(path):
    model = onnx.load(path)
    try:
        onnx.checker.check_model(model, full_check=True)
    except Exception as e:
        print("%s: %s" % (path, e), file=sys.stderr)
        sys.exit(1)
    opsets = ",".join("%s:%d" % (o.domain or "ai.onnx", o.version) for o in model.opset_import)
    print("%s: ok opset %s ir %d" % (path, opsets, model.ir_version))
    for v in model.graph.input:
        print("input %s %s" % (v.name, dims(v)))
    for v in model.graph.output:
        print("output %s %s" % (v.name, dims(v)))


def noise(path, outdir, n):
    model = onnx.load(path)
    for t in model.graph.initializer:
        if not t.name.endswith(".noise_const"):
            continue
        layer = t.name[: -len(".noise_const")]
        name = "noise_" + re.sub(r"[^A-Za-z0-9]", "_", layer)
        file = os.path.join(outdir, name + ".npy")
        maps = np.repeat(numpy_helper.to_array(t).astype(np.float32), n, axis=0)
        np.save(file, maps)
        print("%s=%s" % (name, file))


def main():
    if len(sys.argv) >= 3 and sys.argv[1] == "check":
        for path in sys.argv[2:]:
            check(path)
    elif len(sys.argv) == 5 and sys.argv[1] == "noise":
        noise(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    else:
        print(__doc__, file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
