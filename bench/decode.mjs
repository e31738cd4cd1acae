#!/usr/bin/env node
// W4 (bench/README.md): greedy decode with the KV cache, batch 1, 128 new tokens after a
// 16-token prompt, for stories260K and a random Llama d512 L8 ffn1376 vocab 8192 — and, where
// Python torch + transformers exist, the same workload in transformers on the same machine.
//
//   pnpm build && LORA_ASSETS_DIR=../shared node bench/decode.mjs [--runs 3] [--new-tokens 128]
//     [--json FILE] [--reference-any]
//
// Env: LORA_BACKEND picks the tfjs backend (default automatic); LORA_BENCH_PYTHON the reference
// Python (default bench/.venv/bin/python from `pnpm bench:setup`; `none` skips it; see
// reference.mjs). Uses the BUILT packages (packages/*/dist). Writes bench/results/decode.json
// (or --json FILE).
import { availableParallelism, cpus, loadavg } from 'node:os';
import { parseArgs } from './args.mjs';
import { W2_CONFIG_JSON, hfLlamaConfig, importBuilt, importTf, runPython, writeFileIn, writeResult } from './common.mjs';
import { referenceJson, resolveReferenceOrExit } from './reference.mjs';

const { values: args } = parseArgs({
  options: {
    runs: { type: 'string', default: '3' },
    'new-tokens': { type: 'string', default: '128' },
    'prompt-tokens': { type: 'string', default: '16' },
    only: { type: 'string' },
    json: { type: 'string' },
    'reference-any': { type: 'boolean', default: false },
  },
});
const ref = resolveReferenceOrExit({ any: args['reference-any'] });
console.error(`[decode] ${ref.summary ?? ref.skipped}`);
const runs = Number(args.runs);
const newTokens = Number(args['new-tokens']);
const promptTokens = Number(args['prompt-tokens']);

const core = await importBuilt('core');
const models = await importBuilt('models');
const testing = await importBuilt('models', 'test/index.js');
// The same @tensorflow/tfjs instance the models package uses (for the tensor-leak check).
const tf = await importTf();

const backend = await models.selectBackend({});
// wasm has threads off in Node and the cpu backend is single-threaded: compare with 1 torch thread.
const threads = backend.name === 'wasm' || backend.name === 'cpu' ? 1 : availableParallelism();

/** Deterministic prompt: BOS then ids spread over the vocabulary. */
function promptIds(config) {
  const bos = config.bosTokenId ?? 1;
  return [bos, ...Array.from({ length: promptTokens - 1 }, (_, i) => 3 + ((i * 37) % (config.vocabSize - 3)))];
}

async function timeDecode(model, prompt) {
  const options = { maxNewTokens: newTokens, temperature: 0, stopTokenIds: [] };
  const before = tf.memory().numTensors;
  const warm = await models.generate(model, [prompt], options); // warm-up, excluded
  if (warm.sequences[0].length !== newTokens) throw new Error(`expected ${newTokens} tokens, got ${warm.sequences[0].length}`);
  const seconds = [];
  const cpuSeconds = [];
  for (let r = 0; r < runs; r++) {
    const cpu0 = process.cpuUsage();
    const start = performance.now();
    await models.generate(model, [prompt], options);
    seconds.push((performance.now() - start) / 1000);
    const cpu = process.cpuUsage(cpu0);
    cpuSeconds.push((cpu.user + cpu.system) / 1e6);
  }
  const leaked = tf.memory().numTensors - before;
  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  return {
    tokensPerS: newTokens / median(seconds),
    cpuTokensPerS: newTokens / median(cpuSeconds),
    seconds,
    cpuSeconds,
    leakedTensors: leaked,
  };
}

const workloads = [];
if (!args.only || args.only === 'stories260K') {
  try {
    const dir = await core.resolveAsset('stories260K', { kind: 'model', allowDownload: false });
    const loaded = await models.loadModel(dir);
    workloads.push({ name: 'stories260K', model: loaded.model, dispose: () => loaded.model.dispose() });
  } catch (error) {
    console.error(`stories260K skipped: ${error.message.split('\n')[0]}${process.env.LORA_ASSETS_DIR ? '' : ' (set LORA_ASSETS_DIR)'}`);
  }
}
if (!args.only || args.only === 'llama-d512') {
  const model = await testing.randomCausalLM('llama', { overrides: W2_CONFIG_JSON, seed: 0 });
  workloads.push({ name: 'llama-d512-L8-ffn1376-v8192', model, dispose: () => model.dispose() });
}

const rows = [];
for (const w of workloads) {
  const prompt = promptIds(w.model.config);
  const ours = await timeDecode(w.model, prompt);
  rows.push({ name: w.name, prompt, config: hfLlamaConfig(w.model.config), lora: ours });
  w.dispose();
}

// The reference: transformers, same configs and prompts, same thread count, in the same run.
let reference = null;
let referenceNote = ref.skipped ?? '';
if (ref.python) {
  const spec = { threads, new_tokens: newTokens, runs, workloads: rows.map((r) => ({ name: r.name, prompt: r.prompt, config: r.config })) };
  try {
    reference = runPython(ref.python, 'decode_transformers.py', spec);
  } catch (error) {
    referenceNote = error.message;
  }
}

const table = rows.map((r) => {
  const ref = reference?.results.find((x) => x.name === r.name);
  return {
    workload: r.name,
    lora: r.lora.tokensPerS,
    transformers: ref?.tokens_per_s,
    ratio: ref === undefined ? undefined : r.lora.tokensPerS / ref.tokens_per_s,
    loraCpu: r.lora.cpuTokensPerS,
    transformersCpu: ref?.cpu_tokens_per_s,
    ratioCpu: ref?.cpu_tokens_per_s === undefined ? undefined : r.lora.cpuTokensPerS / ref.cpu_tokens_per_s,
  };
});
const fmt = (x, d = 1) => (x === undefined ? 'n/a' : x.toFixed(d));
console.log(
  `decode: greedy, KV cache, batch 1, ${promptTokens}-token prompt, ${newTokens} new tokens, median of ${runs} (warm-up excluded)`,
);
console.log(`@lora backend ${backend.name}; ${reference ? `${ref.summary}; ${reference.threads} thread(s)` : referenceNote}`);
console.log(
  `tokens/s from wall time and (cpu) from process CPU time — the steadier figure on a shared machine; load average ${loadavg()[0].toFixed(1)}`,
);
console.log(
  [
    'workload'.padEnd(30),
    '@lora tok/s'.padStart(12),
    '(cpu)'.padStart(7),
    'transformers tok/s'.padStart(19),
    '(cpu)'.padStart(7),
    'ratio'.padStart(7),
    'cpu ratio'.padStart(10),
  ].join(' '),
);
for (const t of table) {
  console.log(
    [
      t.workload.padEnd(30),
      fmt(t.lora).padStart(12),
      fmt(t.loraCpu).padStart(7),
      fmt(t.transformers).padStart(19),
      fmt(t.transformersCpu).padStart(7),
      fmt(t.ratio, 2).padStart(7),
      fmt(t.ratioCpu, 2).padStart(10),
    ].join(' '),
  );
}

const result = {
  benchmark: 'decode',
  date: new Date().toISOString(),
  machine: { cpu: cpus()[0]?.model, cores: availableParallelism(), node: process.version, loadAverage: loadavg() },
  settings: { promptTokens, newTokens, runs, batch: 1, greedy: true, threads },
  backend: backend.name,
  reference: reference === null ? { skipped: referenceNote } : { ...referenceJson(ref), threads: reference.threads },
  workloads: rows.map((r, i) => ({
    name: r.name,
    config: r.config,
    lora: r.lora,
    transformers: reference?.results.find((x) => x.name === r.name) ?? null,
    ratio: table[i].ratio ?? null,
    cpuRatio: table[i].ratioCpu ?? null,
  })),
};
if (args.json) writeFileIn(args.json, result);
else writeResult('decode.json', result);
