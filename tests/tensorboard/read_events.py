#!/usr/bin/python3
"""An independent reader of gantry's TensorBoard events files (tests/test_tensorboard.c).

usage: read_events.py RUNDIR [FILES]

Parses every record of RUNDIR/tb/events.out.tfevents.* with classes that protoc generates (into a
temporary folder) from event.proto and summary.proto beside this script, checks the record
framing and both masked CRC-32Cs (computed here, not by gantry), and checks that the scalars are
exactly the numbers of RUNDIR/metrics.jsonl under the groups docs/tensorboard.md documents, and
the images exactly the sample grids RUNDIR/samples/step-NNNNNN.png, each a well-formed PNG of the
size its summary gives. With FILES, the folder must hold that many events files.

Exit status: 0 when all holds, 1 with the differences printed, 77 when protoc or the Python
protobuf module is missing (printed as "skip: why").
"""
import glob
import importlib
import json
import os
import re
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))


def skip(why):
    print("skip: " + why)
    sys.exit(77)


# ---- CRC-32C (Castagnoli), bit by bit ------------------------------------------------------

def crc32c(data):
    crc = 0xFFFFFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


def masked(crc):
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


assert crc32c(b"123456789") == 0xE3069283


# ---- the protos ----------------------------------------------------------------------------

def load_event_class(workdir):
    if not shutil.which("protoc"):
        skip("protoc not found (Debian: apt-get install protobuf-compiler)")
    try:
        importlib.import_module("google.protobuf")
    except ImportError:
        skip("the Python protobuf module is missing (Debian: apt-get install python3-protobuf)")
    subprocess.run(["protoc", "-I" + HERE, "--python_out=" + workdir,
                    os.path.join(HERE, "event.proto"), os.path.join(HERE, "summary.proto")],
                   check=True)
    sys.path.insert(0, workdir)
    return importlib.import_module("event_pb2").Event


# ---- records -------------------------------------------------------------------------------

def read_records(path, problems):
    """The data of each record of the file; framing and CRC errors go to problems."""
    with open(path, "rb") as f:
        blob = f.read()
    records, at = [], 0
    while at < len(blob):
        if len(blob) - at < 12:
            problems.append("%s: %d stray bytes at offset %d" % (path, len(blob) - at, at))
            break
        header = blob[at:at + 8]
        (length,) = struct.unpack("<Q", header)
        (length_crc,) = struct.unpack("<I", blob[at + 8:at + 12])
        if length_crc != masked(crc32c(header)):
            problems.append("%s: record at %d: bad length CRC" % (path, at))
            break
        data = blob[at + 12:at + 12 + length]
        footer = blob[at + 12 + length:at + 16 + length]
        if len(data) != length or len(footer) != 4:
            problems.append("%s: record at %d is cut short" % (path, at))
            break
        if struct.unpack("<I", footer)[0] != masked(crc32c(data)):
            problems.append("%s: record at %d: bad data CRC" % (path, at))
            break
        records.append(data)
        at += 16 + length
    return records


# ---- what metrics.jsonl says ---------------------------------------------------------------

D_READINGS = {"d_real", "d_fake", "d_acc_real", "d_acc_fake"}
RUN_NUMBERS = {"lr_g", "lr_d", "steps_per_s", "images_per_s", "elapsed_s"}


def group(name, evaluation):
    """The documented grouping (docs/tensorboard.md)."""
    if evaluation:
        return "eval"
    if name.endswith("_grad_norm"):
        return "grad"
    if name.endswith("_loss") or name.endswith("penalty"):
        return "loss"
    if name in D_READINGS:
        return "d"
    if name in RUN_NUMBERS:
        return "run"
    return "trick"


def as_float32(v):
    return struct.unpack("<f", struct.pack("<f", v))[0]


def expected_scalars(run):
    want = {}
    with open(os.path.join(run, "metrics.jsonl")) as f:
        for line in f:
            obj = json.loads(line)
            step, evaluation = obj["step"], "eval_n" in obj
            for name, v in obj.items():
                if name == "step" or isinstance(v, bool) or not isinstance(v, (int, float)):
                    continue
                want[("%s/%s" % (group(name, evaluation), name), step)] = as_float32(v)
    return want


# ---- PNG -----------------------------------------------------------------------------------

def png_problems(png, width, height, colorspace):
    """Why the bytes are not a PNG of that size and colour space (empty when they are)."""
    if png[:8] != b"\x89PNG\r\n\x1a\n":
        return ["no PNG signature"]
    at, chunks = 8, []
    while at + 12 <= len(png):
        (n,) = struct.unpack(">I", png[at:at + 4])
        kind, body = png[at + 4:at + 8], png[at + 8:at + 8 + n]
        (crc,) = struct.unpack(">I", png[at + 8 + n:at + 12 + n])
        if zlib.crc32(kind + body) & 0xFFFFFFFF != crc:
            return ["chunk %r: bad CRC" % kind]
        chunks.append((kind, body))
        at += 12 + n
    if not chunks or chunks[0][0] != b"IHDR" or chunks[-1][0] != b"IEND":
        return ["no IHDR first or no IEND last"]
    w, h, depth, ctype = struct.unpack(">IIBB", chunks[0][1][:10])
    channels = {0: 1, 4: 2, 2: 3, 6: 4}.get(ctype)
    problems = []
    if (w, h) != (width, height):
        problems.append("PNG is %dx%d, the summary says %dx%d" % (w, h, width, height))
    if channels != colorspace or depth != 8:
        problems.append("PNG colour type %d depth %d, summary colorspace %d" % (ctype, depth, colorspace))
        return problems
    pixels = zlib.decompress(b"".join(body for kind, body in chunks if kind == b"IDAT"))
    stride = 1 + w * channels
    if len(pixels) != h * stride:
        problems.append("PNG data holds %d bytes, %d rows of %d expected" % (len(pixels), h, stride))
    elif any(pixels[r * stride] > 4 for r in range(h)):
        problems.append("PNG row with an unknown filter")
    return problems


def expected_images(run):
    grids = {}
    for path in glob.glob(os.path.join(run, "samples", "step-*.png")):
        step = int(re.search(r"step-(\d+)\.png$", path).group(1))
        with open(path, "rb") as f:
            grids[step] = f.read()
    return grids


# ---- the check -----------------------------------------------------------------------------

def main():
    if len(sys.argv) not in (2, 3):
        print(__doc__)
        return 2
    run = sys.argv[1]
    with tempfile.TemporaryDirectory() as workdir:
        Event = load_event_class(workdir)
        problems = []
        host = socket.gethostname() or "localhost"
        name_re = re.compile(r"^events\.out\.tfevents\.(\d+)\.%s(\.\d+)?$" % re.escape(host))
        files = sorted(glob.glob(os.path.join(run, "tb", "events.out.tfevents.*")))
        if len(sys.argv) == 3 and len(files) != int(sys.argv[2]):
            problems.append("%d events files, %s expected" % (len(files), sys.argv[2]))
        scalars, images, events = {}, {}, 0
        for path in files:
            m = name_re.match(os.path.basename(path))
            if not m:
                problems.append("%s: not named events.out.tfevents.<time>.%s[.k]" % (path, host))
                continue
            created = int(m.group(1))
            for i, data in enumerate(read_records(path, problems)):
                ev = Event.FromString(data)
                events += 1
                if not created - 1 <= ev.wall_time <= time.time() + 1:
                    problems.append("%s: event %d has wall time %f" % (path, i, ev.wall_time))
                if i == 0:
                    if ev.WhichOneof("what") != "file_version" or ev.file_version != "brain.Event:2":
                        problems.append("%s: the first event is not file_version brain.Event:2" % path)
                    continue
                if ev.WhichOneof("what") != "summary":
                    problems.append("%s: event %d holds no summary" % (path, i))
                    continue
                for v in ev.summary.value:
                    kind = v.WhichOneof("value")
                    key = (v.tag, ev.step)
                    seen = images if kind == "image" else scalars
                    if key in seen:
                        problems.append("%s: %s at step %d logged twice" % (path, v.tag, ev.step))
                    seen[key] = v.simple_value if kind == "simple_value" else v.image
        want = expected_scalars(run)
        for key in sorted(set(want) | set(scalars)):
            if key not in scalars:
                problems.append("missing scalar %s at step %d (metrics.jsonl: %r)" % (key + (want[key],)))
            elif key not in want:
                problems.append("scalar %s at step %d is not in metrics.jsonl" % key)
            elif scalars[key] != want[key]:
                problems.append("scalar %s at step %d: %r, metrics.jsonl %r" % (key + (scalars[key], want[key])))
        grids = expected_images(run)
        if sorted(grids) != sorted(step for _, step in images):
            problems.append("images at steps %s, sample grids of steps %s"
                            % (sorted(step for _, step in images), sorted(grids)))
        for (tag, step), img in sorted(images.items()):
            if tag != "samples":
                problems.append("image tag %r at step %d" % (tag, step))
            if step in grids and img.encoded_image_string != grids[step]:
                problems.append("the image of step %d differs from samples/step-%06d.png" % (step, step))
            for p in png_problems(img.encoded_image_string, img.width, img.height, img.colorspace):
                problems.append("image of step %d: %s" % (step, p))
        if not scalars or not images:
            problems.append("%d scalars and %d images: nothing to compare" % (len(scalars), len(images)))
        for p in problems[:20]:
            print("problem: " + p)
        if len(problems) > 20:
            print("problem: ... and %d more" % (len(problems) - 20))
        if problems:
            return 1
        groups = sorted({tag.split("/")[0] for tag, _ in scalars})
        print("ok: %d files, %d events, %d scalars (groups %s) at %d steps, %d images"
              % (len(files), events, len(scalars), " ".join(groups),
                 len({step for _, step in scalars}), len(images)))
        return 0


if __name__ == "__main__":
    sys.exit(main())
