#!/usr/bin/env node
// Runs an ONNX model with ONNX Runtime (npm package onnxruntime-node) on raw
// float32 inputs: cleave's peer for correctness (tests/test_ort_peer.c) and
// for speed (bench/engine/run.sh).
//
//   node scripts/ort_run.js MODEL.onnx [--input FILE]... [--output FILE]
//        [--threads N] [--repeat K] [--warmup W] [--seed N] [--json]
//   node scripts/ort_run.js --version     prints ONNX Runtime's version
//
//   --input FILE   one per model input, in the model's input order: raw
//                  little-endian float32 of exactly the input's element count
//                  (its shape comes from the model; symbolic dims count as 1).
//                  Inputs without a file get seeded uniform values in [0, 1).
//   --output FILE  every output as raw little-endian float32, one after the
//                  other in the model's output order (cleave run --output's
//                  layout).
//   --threads N    intraOpNumThreads (default 1); interOpNumThreads is 1 and
//                  execution sequential, graph optimisation level "all".
//   --repeat K     timed runs after W warm-up runs (default K 10, W 1); the
//                  median, min and max wall-clock time of session.run().
//   --json         the summary as one JSON object:
//                  {"format": "ort-run", "version": 1, "ort": "1.30.0",
//                   "model", "threads", "runs", "median_ms", "min_ms",
//                   "max_ms", "times_ms": [...], "outputs": [{"name",
//                   "shape"}]}
//
// onnxruntime-node is looked up in $CLEAVE_ORT_MODULES, then in
// tools/node_modules of this repository (scripts/install-peers.sh puts it
// there), then by node's normal resolution. Exit status: 0 ok, 2 usage, 3 ONNX
// Runtime missing, 1 any other failure (the message says which).
'use strict';

const fs = require('fs');
const path = require('path');
const { createRequire } = require('module');

function usage(msg) {
  if (msg) process.stderr.write(`ort_run: ${msg}\n`);
  process.stderr.write(
    'usage: node scripts/ort_run.js MODEL.onnx [--input FILE]... [--output FILE]\n' +
      '       [--threads N] [--repeat K] [--warmup W] [--seed N] [--json]\n');
  process.exit(2);
}

function loadOrt() {
  const tried = [];
  const dirs = [];
  if (process.env.CLEAVE_ORT_MODULES) dirs.push(process.env.CLEAVE_ORT_MODULES);
  dirs.push(path.join(__dirname, '..', 'tools', 'node_modules'));
  for (const d of dirs) {
    const p = path.join(d, 'onnxruntime-node');
    tried.push(p);
    if (fs.existsSync(p)) return createRequire(path.join(d, 'x.js'))('onnxruntime-node');
  }
  try {
    return require('onnxruntime-node');
  } catch (e) {
    process.stderr.write(
      `ort_run: onnxruntime-node not found (tried ${tried.join(', ')} and ` +
        "node's module path); run scripts/install-peers.sh\n");
    process.exit(3);
  }
}

function intArg(name, v, lo, hi) {
  if (v === undefined || !/^[0-9]+$/.test(v)) usage(`${name} needs an integer`);
  const n = Number(v);
  if (n < lo || n > hi) usage(`${name} must be ${lo} to ${hi}`);
  return n;
}

function parseArgs(argv) {
  const a = { model: null, inputs: [], output: null, threads: 1, repeat: 10,
              warmup: 1, seed: 1, json: false };
  for (let i = 0; i < argv.length; i++) {
    const s = argv[i];
    if (s === '--input') a.inputs.push(argv[++i] ?? usage('--input needs a file'));
    else if (s === '--output') a.output = argv[++i] ?? usage('--output needs a file');
    else if (s === '--threads') a.threads = intArg(s, argv[++i], 1, 256);
    else if (s === '--repeat') a.repeat = intArg(s, argv[++i], 1, 100000);
    else if (s === '--warmup') a.warmup = intArg(s, argv[++i], 0, 100000);
    else if (s === '--seed') a.seed = intArg(s, argv[++i], 0, Number.MAX_SAFE_INTEGER);
    else if (s === '--json') a.json = true;
    else if (s === '--version') a.version = true;
    else if (s === '-h' || s === '--help') usage();
    else if (s.startsWith('-')) usage(`unknown option '${s}'`);
    else if (!a.model) a.model = s;
    else usage('one MODEL only');
  }
  if (!a.model && !a.version) usage('no model given');
  return a;
}

// splitmix64 over BigInt: uniform floats in [0, 1) from the top 24 bits.
function seededFloats(n, seed) {
  const out = new Float32Array(n);
  let x = BigInt(seed) & 0xffffffffffffffffn;
  const M = 0xffffffffffffffffn;
  for (let i = 0; i < n; i++) {
    x = (x + 0x9e3779b97f4a7c15n) & M;
    let z = x;
    z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & M;
    z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & M;
    z ^= z >> 31n;
    out[i] = Number(z >> 40n) / 16777216;
  }
  return out;
}

function median(sorted) {
  const n = sorted.length;
  return n % 2 ? sorted[(n - 1) / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
}

async function main() {
  const a = parseArgs(process.argv.slice(2));
  const ort = loadOrt();
  if (a.version) {
    process.stdout.write(`onnxruntime-node ${(ort.env && ort.env.versions && ort.env.versions.node) || 'unknown'}\n`);
    return;
  }
  const session = await ort.InferenceSession.create(a.model, {
    intraOpNumThreads: a.threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
  });
  const meta = session.inputMetadata || [];
  if (a.inputs.length > session.inputNames.length)
    usage(`${a.inputs.length} input files for ${session.inputNames.length} inputs`);
  const feeds = {};
  session.inputNames.forEach((name, k) => {
    const m = meta[k] || meta.find((x) => x.name === name);
    if (!m || !Array.isArray(m.shape)) throw new Error(`no shape for input '${name}'`);
    if (m.type !== 'float32') throw new Error(`input '${name}' is ${m.type}, not float32`);
    const shape = m.shape.map((d) => (typeof d === 'number' && d > 0 ? d : 1));
    const n = shape.reduce((x, y) => x * y, 1);
    let data;
    if (k < a.inputs.length) {
      const buf = fs.readFileSync(a.inputs[k]);
      if (buf.length !== 4 * n)
        throw new Error(`${a.inputs[k]}: ${buf.length} bytes, input '${name}' ` +
                        `[${shape.join('x')}] needs ${4 * n}`);
      data = new Float32Array(n);
      for (let i = 0; i < n; i++) data[i] = buf.readFloatLE(4 * i);
    } else {
      data = seededFloats(n, a.seed + k);
    }
    feeds[name] = new ort.Tensor('float32', data, shape);
  });

  let results = null;
  for (let r = 0; r < a.warmup; r++) results = await session.run(feeds);
  const times = [];
  for (let r = 0; r < a.repeat; r++) {
    const t0 = process.hrtime.bigint();
    results = await session.run(feeds);
    times.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  const sorted = [...times].sort((x, y) => x - y);

  const outputs = session.outputNames.map((name) => ({
    name, shape: Array.from(results[name].dims), tensor: results[name] }));
  if (a.output) {
    const parts = outputs.map((o) => {
      const d = o.tensor.data;
      const b = Buffer.alloc(4 * d.length);
      for (let i = 0; i < d.length; i++) b.writeFloatLE(Number(d[i]), 4 * i);
      return b;
    });
    fs.writeFileSync(a.output, Buffer.concat(parts));
  }
  const summary = {
    format: 'ort-run', version: 1,
    ort: (ort.env && ort.env.versions && ort.env.versions.node) || 'unknown',
    model: a.model, threads: a.threads, runs: a.repeat,
    median_ms: median(sorted), min_ms: sorted[0], max_ms: sorted[sorted.length - 1],
    times_ms: times,
    outputs: outputs.map((o) => ({ name: o.name, shape: o.shape })),
  };
  if (a.json) {
    process.stdout.write(JSON.stringify(summary) + '\n');
  } else {
    process.stdout.write(`onnxruntime ${summary.ort}, ${a.threads} thread(s)\n`);
    for (const o of outputs) process.stdout.write(`output ${o.name} [${o.shape.join('x')}]\n`);
    process.stdout.write(`median ${summary.median_ms.toFixed(3)} ms over ${a.repeat} runs ` +
                         `(min ${summary.min_ms.toFixed(3)}, max ${summary.max_ms.toFixed(3)})\n`);
  }
}

main().catch((e) => {
  process.stderr.write(`ort_run: ${e && e.message ? e.message : e}\n`);
  process.exit(1);
});
