#!/usr/bin/env node
// One training-style forward + backward (the model part of W1/W2 in bench/README.md):
// every Linear made trainable (full fine-tuning gradients; embeddings and norms frozen, a tied
// lm_head too), loss = sum(logits × R) with fixed random R, gradients of all trainable weights.
// Workloads: stories260K at seq 256 × batch 8, and W2's random Llama d512 L8 ffn1376 vocab 8192 at
// seq 256 × batch 4 — beside PyTorch on the same machine in the same run, with 1 thread and with
// all cores.
//
//   pnpm build && LORA_ASSETS_DIR=../shared node bench/forward-backward.mjs [--runs 3] [--only NAME]
//
// Env: LORA_BACKEND picks the tfjs backend (default automatic); LORA_BENCH_PYTHON the reference
// Python (default bench/.venv/bin/python from `pnpm bench:setup`; `none` skips it; another one must
// match bench/requirements.txt unless --reference-any, see reference.mjs).
// Tokens/s come from wall time and from process CPU time (on a shared machine the CPU-time figure
// of single-threaded runs is the steadier one). Uses the BUILT packages (packages/*/dist).
// Writes bench/results/forward-backward.json.
import { availableParallelism, cpus, loadavg } from 'node:os';
import { parseArgs } from './args.mjs';
import { W2_CONFIG_JSON, hfLlamaConfig, importBuilt, importTf, runPython, writeResult } from './common.mjs';
import { referenceJson, resolveReferenceOrExit } from './reference.mjs';

const { values: args } = parseArgs({
  options: {
    runs: { type: 'string', default: '3' },
    only: { type: 'string' },
    seq: { type: 'string', default: '256' },
    'reference-any': { type: 'boolean', default: false },
  },
});
const ref = resolveReferenceOrExit({ any: args['reference-any'] });
console.error(`[forward-backward] ${ref.summary ?? ref.skipped}`);
const runs = Number(args.runs);
const seq = Number(args.seq);

const core = await importBuilt('core');
const models = await importBuilt('models');
const testing = await importBuilt('models', 'test/index.js');
const tf = await importTf();

const backend = await models.selectBackend({});
const cores = availableParallelism();

/** Replaces every linear module by a trainable copy (full fine-tuning). */
function makeLinearsTrainable(model) {
  for (const s of model.linearModules()) {
    const old = s.get();
    s.set(new models.Linear(old.denseWeight(), { trainable: true, name: s.path }));
    old.dispose();
  }
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

function timeStep(model, batch) {
  const { vocabSize } = model.config;
  const ids = tf.tensor2d(
    Int32Array.from({ length: batch * seq }, (_, i) => (i * 7919 + 13) % vocabSize),
    [batch, seq],
    'int32',
  );
  const weights = tf.randomNormal([batch, seq, vocabSize], 0, 1, 'float32', 1);
  const variables = model.trainableVariables();
  const step = () => {
    const { value, grads } = tf.variableGrads(() => tf.sum(tf.mul(model.forward(ids), weights)), variables);
    const loss = value.dataSync()[0];
    for (const g of Object.values(grads)) g.dataSync();
    tf.dispose([value, ...Object.values(grads)]);
    return loss;
  };
  const before = tf.memory().numTensors;
  const loss = step(); // warm-up, excluded
  const seconds = [];
  const cpuSeconds = [];
  for (let r = 0; r < runs; r++) {
    const cpu0 = process.cpuUsage();
    const wall0 = performance.now();
    step();
    seconds.push((performance.now() - wall0) / 1000);
    const cpu = process.cpuUsage(cpu0);
    cpuSeconds.push((cpu.user + cpu.system) / 1e6);
  }
  const leakedTensors = tf.memory().numTensors - before;
  tf.dispose([ids, weights]);
  return {
    loss,
    tokensPerS: (batch * seq) / median(seconds),
    cpuTokensPerS: (batch * seq) / median(cpuSeconds),
    seconds,
    cpuSeconds,
    trainableVariables: variables.length,
    leakedTensors,
  };
}

const workloads = [];
if (!args.only || args.only === 'stories260K') {
  try {
    const dir = await core.resolveAsset('stories260K', { kind: 'model', allowDownload: false });
    workloads.push({ name: 'stories260K', batch: 8, make: async () => (await models.loadModel(dir)).model });
  } catch (error) {
    console.error(`stories260K skipped: ${error.message.split('\n')[0]}${process.env.LORA_ASSETS_DIR ? '' : ' (set LORA_ASSETS_DIR)'}`);
  }
}
if (!args.only || args.only === 'llama-d512') {
  workloads.push({
    name: 'llama-d512-L8-ffn1376-v8192',
    batch: 4,
    make: () => testing.randomCausalLM('llama', { overrides: W2_CONFIG_JSON, seed: 0 }),
  });
}

const rows = [];
for (const w of workloads) {
  const model = await w.make();
  makeLinearsTrainable(model);
  const ours = timeStep(model, w.batch);
  rows.push({ name: w.name, batch: w.batch, seq, config: hfLlamaConfig(model.config), lora: ours });
  model.dispose();
}

// The reference: PyTorch (transformers' Llama), same shapes, 1 thread and all cores, in the same run.
let reference = null;
let referenceNote = ref.skipped ?? '';
if (ref.python) {
  const threads = cores > 1 ? [1, cores] : [1];
  const spec = { threads, runs, workloads: rows.map((r) => ({ name: r.name, batch: r.batch, seq: r.seq, config: r.config })) };
  try {
    reference = runPython(ref.python, 'forward_backward_torch.py', spec);
  } catch (error) {
    referenceNote = error.message;
  }
}

const fmt = (x, d = 0) => (x === undefined ? 'n/a' : x.toFixed(d));
const torchRow = (name, threads) => reference?.results.find((x) => x.name === name && x.threads === threads);
console.log(`forward+backward: all Linear weights trainable, loss = sum(logits × R), seq ${seq}, median of ${runs} (warm-up excluded)`);
console.log(
  `@lora backend ${backend.name}; ${reference ? ref.summary : `PyTorch ${referenceNote}`}; ` +
    `${cores} cores, load average ${loadavg()[0].toFixed(1)} at the end`,
);
console.log(
  [
    'workload'.padEnd(30),
    'batch'.padStart(5),
    '@lora tok/s'.padStart(12),
    '(cpu)'.padStart(7),
    'torch 1t'.padStart(9),
    '(cpu)'.padStart(7),
    `torch ${cores}t`.padStart(9),
    'ratio 1t'.padStart(9),
    'cpu ratio'.padStart(10),
  ].join(' '),
);
const table = rows.map((r) => {
  const one = torchRow(r.name, 1);
  const all = cores > 1 ? torchRow(r.name, cores) : one;
  const t = {
    workload: r.name,
    batch: r.batch,
    lora: r.lora.tokensPerS,
    loraCpu: r.lora.cpuTokensPerS,
    torch1: one?.tokens_per_s,
    torch1Cpu: one?.cpu_tokens_per_s,
    torchAll: all?.tokens_per_s,
    ratio1: one === undefined ? undefined : r.lora.tokensPerS / one.tokens_per_s,
    ratioCpu: one === undefined ? undefined : r.lora.cpuTokensPerS / one.cpu_tokens_per_s,
    ratioAll: all === undefined ? undefined : r.lora.tokensPerS / all.tokens_per_s,
  };
  console.log(
    [
      t.workload.padEnd(30),
      String(t.batch).padStart(5),
      fmt(t.lora).padStart(12),
      fmt(t.loraCpu).padStart(7),
      fmt(t.torch1).padStart(9),
      fmt(t.torch1Cpu).padStart(7),
      fmt(t.torchAll).padStart(9),
      fmt(t.ratio1, 2).padStart(9),
      fmt(t.ratioCpu, 2).padStart(10),
    ].join(' '),
  );
  return t;
});

const result = {
  benchmark: 'forward-backward',
  date: new Date().toISOString(),
  machine: { cpu: cpus()[0]?.model, cores, node: process.version, loadAverage: loadavg() },
  settings: { seq, runs, trainable: 'every Linear (lm_head if untied)', loss: 'sum(logits * R)' },
  backend: backend.name,
  reference: reference === null ? { skipped: referenceNote } : referenceJson(ref),
  workloads: rows.map((r, i) => ({
    name: r.name,
    batch: r.batch,
    seq: r.seq,
    config: r.config,
    lora: r.lora,
    torch: reference?.results.filter((x) => x.name === r.name) ?? null,
    ratio: { threads1: table[i].ratio1 ?? null, threads1Cpu: table[i].ratioCpu ?? null, allCores: table[i].ratioAll ?? null },
  })),
};
writeResult('forward-backward.json', result);
