// Runs an exported ONNX generator under Node with ONNX Runtime Web (its WebAssembly backend,
// one thread) and writes the output as a float32 .npy: the independent runtime the export tests
// compare gantry's own samples with.
//   node tests/onnx_run.js MODEL.onnx OUT.npy Z.npy [--labels Y.npy] [--psi P] [--noise NAME=FILE.npy ...]
//   node tests/onnx_run.js --jobs FILE     (one such argument list per line, one process: the
//                                           runtime's WebAssembly is compiled once)
// Labels are a float32 .npy of whole numbers, fed as int64; psi is 1 unless given. Exit 3 when onnxruntime-web is not
// installed (tests/npm: npm install --prefix tests/npm), 1 on any other failure.
'use strict';
const fs = require('fs');
const path = require('path');

function loadRuntime() {
  try {
    return require(require.resolve('onnxruntime-web', {paths: [path.join(__dirname, 'npm'), process.cwd()]}));
  } catch (e) {
    console.error('onnxruntime-web is not installed (npm install --prefix tests/npm): ' + e.message);
    process.exit(3);
  }
}

// A little-endian float32 C-order .npy: {shape, data}.
function readNpy(file) {
  const b = fs.readFileSync(file);
  if (b.toString('latin1', 1, 6) !== 'NUMPY') throw new Error(file + ': not a .npy file');
  const major = b[6];
  const hlen = major === 1 ? b.readUInt16LE(8) : b.readUInt32LE(8);
  const start = (major === 1 ? 10 : 12) + hlen;
  const header = b.toString('latin1', major === 1 ? 10 : 12, start);
  if (!/'descr':\s*'<f4'/.test(header) || /'fortran_order':\s*True/.test(header))
    throw new Error(file + ': expected little-endian float32 in C order: ' + header);
  const shape = header.match(/'shape':\s*\(([^)]*)\)/)[1].split(',').map(s => s.trim()).filter(s => s).map(Number);
  const n = shape.reduce((a, x) => a * x, 1);
  const data = new Float32Array(n);
  for (let i = 0; i < n; i++) data[i] = b.readFloatLE(start + 4 * i);
  return {shape, data};
}

function writeNpy(file, shape, data) {
  let header = "{'descr': '<f4', 'fortran_order': False, 'shape': (" + shape.join(', ') + (shape.length === 1 ? ',' : '') + '), }';
  const pad = 64 - ((10 + header.length + 1) % 64);
  header += ' '.repeat(pad % 64) + '\n';
  const head = Buffer.alloc(10);
  head.write('\x93NUMPY', 0, 'latin1');
  head[6] = 1; head[7] = 0;
  head.writeUInt16LE(header.length, 8);
  const body = Buffer.alloc(4 * data.length);
  for (let i = 0; i < data.length; i++) body.writeFloatLE(data[i], 4 * i);
  fs.writeFileSync(file, Buffer.concat([head, Buffer.from(header, 'latin1'), body]));
}

// One run: args are MODEL OUT Z [options].
async function runOne(ort, args) {
  if (args.length < 3) throw new Error('usage: onnx_run.js MODEL OUT Z [--labels Y] [--psi P] [--noise NAME=FILE]');
  const [model, out, zfile] = args;
  const session = await ort.InferenceSession.create(fs.readFileSync(model));
  const z = readNpy(zfile);
  const feeds = {z: new ort.Tensor('float32', z.data, z.shape)};
  for (let i = 3; i < args.length; i += 2) {
    const value = args[i + 1];
    if (args[i] === '--labels') {
      const y = readNpy(value);
      feeds.label = new ort.Tensor('int64', BigInt64Array.from(y.data, v => BigInt(Math.round(v))), y.shape);
    } else if (args[i] === '--psi') {
      feeds.psi = new ort.Tensor('float32', new Float32Array([Number(value)]), [1]);
    } else if (args[i] === '--noise') {
      const eq = value.indexOf('=');
      const n = readNpy(value.slice(eq + 1));
      feeds[value.slice(0, eq)] = new ort.Tensor('float32', n.data, n.shape);
    } else {
      throw new Error('unknown argument ' + args[i]);
    }
  }
  if (session.inputNames.includes('psi') && !feeds.psi)   // no truncation: psi 1
    feeds.psi = new ort.Tensor('float32', new Float32Array([1]), [1]);
  const result = await session.run(feeds);
  const y = result[session.outputNames[0]];
  writeNpy(out, y.dims, y.data);
}

async function main() {
  const args = process.argv.slice(2);
  const ort = loadRuntime();
  ort.env.wasm.numThreads = 1;
  if (args[0] !== '--jobs') return runOne(ort, args);
  const jobs = fs.readFileSync(args[1], 'utf8').split('\n').filter(line => line.trim());
  for (const line of jobs) await runOne(ort, line.trim().split(/\s+/));
}

main().catch(e => { console.error(String(e && e.stack || e)); process.exit(1); });
