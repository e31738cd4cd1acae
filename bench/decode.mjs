#!/usr/bin/env node
// W4 (bench/README.md): greedy decode with the KV cache, batch 1, 128 new tokens after a
// 16-token prompt, for stories260K and a random Llama d512 L8 ffn1376 vocab 8192 — and, where
// Python torch + transformers exist, the same workload in transformers on the same machine.
//
//   pnpm build && LORA_ASSETS_DIR=../shared node bench/decode.mjs [--runs 3] [--new-tokens 128]
//     [--json FILE] [--reference-any]
//
// W7 (`--only smollm2`): SmolLM2-135M-Instruct from its GGUF file in LORA_ASSETS_DIR, chat prompts
// of 39 tokens (bench/w7.mjs), greedy, 64 new tokens, no stop token, batch 1 and batch 8; the
// reference is transformers loading the same GGUF (bench/decode_gguf_transformers.py), and the
// anchor llama.cpp on the same file (bench/decode_llamacpp.py; opt-in: `pnpm bench:setup --llama-cpp`).
//
//   LORA_ASSETS_DIR=../shared node bench/decode.mjs --only smollm2 [--runs 3] [--batches 1,8]
//     [--threads 2] [--json FILE]      (writes bench/results/decode-smollm2.json)
//
// Env: LORA_BACKEND picks the tfjs backend (default automatic); LORA_BENCH_PYTHON the reference
// Python (default bench/.venv/bin/python from `pnpm bench:setup`; `none` skips it; see
// reference.mjs); LORA_BENCH_LLAMA_CPP_PYTHON W7's anchor Python (default
// bench/.venv-llama-cpp/bin/python; `none` skips it). Uses the BUILT packages (packages/*/dist).
// Writes bench/results/decode.json (or --json FILE).
import { availableParallelism, cpus, loadavg } from 'node:os';
import { basename, dirname } from 'node:path';
import { parseArgs } from './args.mjs';
import { W2_CONFIG_JSON, hfLlamaConfig, importBuilt, importTf, runPython, writeFileIn, writeResult } from './common.mjs';
import { referenceJson, resolveLlamaCpp, resolveReferenceOrExit } from './reference.mjs';
import { aggregateRuns, ratioLine } from './repeat.mjs';
import { W7_QUESTIONS, rowsAgreement, samePromptLength, w7Messages, w7Rows } from './w7.mjs';

const { values: args } = parseArgs({
  options: {
    runs: { type: 'string', default: '3' },
    'new-tokens': { type: 'string' },
    batches: { type: 'string', default: '1,8' },
    threads: { type: 'string' },
    'prompt-tokens': { type: 'string', default: '16' },
    only: { type: 'string' },
    json: { type: 'string' },
    'reference-any': { type: 'boolean', default: false },
  },
});
const ref = resolveReferenceOrExit({ any: args['reference-any'] });
console.error(`[decode] ${ref.summary ?? ref.skipped}`);
const w7 = ['smollm2', 'w7'].includes(args.only?.toLowerCase() ?? '');
const runs = Number(args.runs);
const newTokens = Number(args['new-tokens'] ?? (w7 ? 64 : 128));
const promptTokens = Number(args['prompt-tokens']);

const core = await importBuilt('core');
const models = await importBuilt('models');
const testing = await importBuilt('models', 'test/index.js');
// The same @tensorflow/tfjs instance the models package uses (for the tensor-leak check).
const tf = await importTf();

const backend = await models.selectBackend({});
// wasm has threads off in Node and the cpu backend is single-threaded: compare with 1 torch thread.
const threads = backend.name === 'wasm' || backend.name === 'cpu' ? 1 : availableParallelism();

if (w7) {
  await runW7();
  process.exit(0);
}

/** Deterministic prompt: BOS then ids spread over the vocabulary. */
function promptIds(config) {
  const bos = config.bosTokenId ?? 1;
  return [bos, ...Array.from({ length: promptTokens - 1 }, (_, i) => 3 + ((i * 37) % (config.vocabSize - 3)))];
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
  const { tokens: _tokens, ...ours } = await timeGenerate(w.model, [prompt]);
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

// ---- W7: SmolLM2-135M-Instruct, batch 1 and batch 8 (`--only smollm2`). Function declarations only
// below: the W7 branch above runs before the W4 code's constants exist.

/** `generate` of `prompts` (one batch) timed `runs` times after a warm-up; the first timed run's tokens (W4: one prompt; W7: batches 1 and 8). */
async function timeGenerate(model, prompts) {
  const options = { maxNewTokens: newTokens, temperature: 0, stopTokenIds: [] };
  const before = tf.memory().numTensors;
  const warm = await models.generate(model, prompts, options); // warm-up, excluded
  if (warm.sequences.some((s) => s.length !== newTokens)) throw new Error(`expected ${newTokens} tokens per row`);
  const seconds = [];
  const cpuSeconds = [];
  let tokens;
  for (let r = 0; r < runs; r++) {
    const cpu0 = process.cpuUsage();
    const start = performance.now();
    const out = await models.generate(model, prompts, options);
    seconds.push((performance.now() - start) / 1000);
    const cpu = process.cpuUsage(cpu0);
    cpuSeconds.push((cpu.user + cpu.system) / 1e6);
    tokens ??= out.sequences;
  }
  const mid = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const total = prompts.length * newTokens;
  return {
    tokensPerS: total / mid(seconds),
    cpuTokensPerS: total / mid(cpuSeconds),
    seconds,
    cpuSeconds,
    leakedTensors: tf.memory().numTensors - before,
    tokens,
  };
}

async function runW7() {
  const data = await importBuilt('data');
  const llama = resolveLlamaCpp();
  console.error(`[decode] ${llama.summary ?? llama.skipped}`);
  const refThreads = args.threads === undefined ? threads : Number(args.threads);
  const batches = args.batches.split(',').map((b) => Number(b.trim()));
  if (batches.some((b) => !Number.isInteger(b) || b < 1 || b > W7_QUESTIONS.length)) {
    console.error(`decode: --batches takes sizes 1–${W7_QUESTIONS.length}, got \`${args.batches}\``);
    process.exit(2);
  }
  const load0 = performance.now();
  const dir = await core.resolveAsset('SmolLM2-135M-Instruct', { kind: 'model', allowDownload: false });
  const loaded = await models.loadModel(dir);
  const loadSeconds = (performance.now() - load0) / 1000;
  if (!loaded.path.toLowerCase().endsWith('.gguf')) throw new Error(`W7 expects the GGUF file, loaded ${loaded.path}`);
  const tokenizer = await data.loadTokenizer(loaded.path);
  const count = Math.max(...batches);
  const prompts = Array.from({ length: count }, (_, i) =>
    Array.from(data.encodeChat(tokenizer, w7Messages(i), { addGenerationPrompt: true, mask: 'all' }).inputIds),
  );
  const promptTokens = samePromptLength(prompts);
  const load = loadavg();

  // @lora: every batch, then the reference, then the anchor (one A/B per run; run.mjs --repeat alternates).
  const lora = [];
  for (const batch of batches) {
    try {
      lora.push({ batch, ...(await timeGenerate(loaded.model, prompts.slice(0, batch))) });
    } catch (error) {
      console.error(`W7 @lora batch ${batch} failed: ${error.message.split('\n')[0]}`);
      lora.push({ batch, error: error.message.split('\n')[0] });
    }
  }
  loaded.model.dispose();
  const spec = {
    threads: refThreads,
    new_tokens: newTokens,
    runs,
    batches: batches.map((b) => ({ name: `b${b}`, prompts: prompts.slice(0, b) })),
  };
  let reference = null;
  let referenceNote = ref.skipped ?? '';
  if (ref.python) {
    try {
      reference = runPython(ref.python, 'decode_gguf_transformers.py', {
        ...spec,
        model_dir: dirname(loaded.path),
        gguf_file: basename(loaded.path),
        messages: prompts.map((_, i) => w7Messages(i)),
      });
    } catch (error) {
      referenceNote = error.message;
    }
  }
  let anchor = null;
  let anchorNote = llama.skipped ?? '';
  if (llama.python) {
    try {
      anchor = runPython(llama.python, 'decode_llamacpp.py', { ...spec, gguf: loaded.path });
    } catch (error) {
      anchorNote = error.message;
    }
  }

  const result = {
    benchmark: 'decode-smollm2',
    workload: 'W7',
    date: new Date().toISOString(),
    machine: { cpu: cpus()[0]?.model, cores: availableParallelism(), node: process.version, loadAverage: load, loadAverageEnd: loadavg() },
    settings: { model: loaded.path, promptTokens, newTokens, runs, batches, greedy: true, stopTokens: 'none', threads: refThreads },
    backend: backend.name,
    quantizedLayers: loaded.quantizedLayers,
    loadSeconds,
    reference:
      reference === null
        ? { skipped: referenceNote }
        : { ...referenceJson(ref), threads: reference.threads, loadSeconds: reference.load_seconds },
    promptIdsMatchTransformers: reference?.prompt_ids_match ?? null,
    llamaCpp:
      anchor === null
        ? { skipped: anchorNote }
        : { version: anchor.llama_cpp_python, systemInfo: anchor.system_info, threads: anchor.threads, mismatches: llama.mismatches },
    batches: lora.map((l) => {
      const tfr = reference?.results.find((x) => x.batch === l.batch) ?? null;
      const cpp = anchor?.results.find((x) => x.batch === l.batch) ?? null;
      return {
        batch: l.batch,
        lora: l,
        transformers: tfr,
        llamaCpp: cpp,
        agreeTransformers: rowsAgreement(l.tokens, tfr?.tokens),
        agreeLlamaCpp: rowsAgreement(l.tokens, cpp?.tokens),
      };
    }),
  };

  const f = (x, d = 1) => (typeof x === 'number' && Number.isFinite(x) ? x.toFixed(d) : 'n/a');
  console.log(
    `W7 decode: SmolLM2-135M-Instruct (${basename(loaded.path)}), greedy, ${promptTokens}-token chat prompts, ${newTokens} new tokens, no stop token; median of ${runs} (warm-up excluded)`,
  );
  const weightsNote =
    loaded.quantizedLayers > 0
      ? `${loaded.quantizedLayers} linear layers kept in their GGUF blocks (native kernels)`
      : 'weights dequantized to float32 at load';
  console.log(`@lora backend ${backend.name} (${weightsNote}, ${f(loadSeconds)} s)`);
  console.log(
    reference
      ? `transformers: ${ref.summary}; ${reference.threads} thread(s), float32 from the same GGUF`
      : `transformers: ${referenceNote}`,
  );
  console.log(
    anchor
      ? `llama.cpp: ${llama.summary}; ${anchor.threads} thread(s), Q4_1/Q8_0 kernels on the file as stored; ${anchor.system_info}`
      : `llama.cpp: ${anchorNote}`,
  );
  console.log(
    `tok/s = batch × ${newTokens} new tokens ÷ time (prefill included); (cpu) per process CPU-second; load average ${load.map((x) => x.toFixed(1)).join(' ')}`,
  );
  const cols = ['batch', '@lora tok/s', '(cpu)', 'transformers', '(cpu)', 'ratio', 'cpu ratio', 'llama.cpp', '(cpu)', '÷ llama.cpp'];
  const widths = [5, 12, 8, 13, 8, 6, 10, 10, 8, 12];
  const line = (cells) => cells.map((c, i) => String(c).padStart(widths[i])).join(' ');
  console.log(line(cols));
  for (const b of result.batches) {
    const r = (a, c) => (typeof a === 'number' && typeof c === 'number' ? f(a / c, 2) : 'n/a');
    console.log(
      line([
        b.batch,
        b.lora.error ? 'failed' : f(b.lora.tokensPerS),
        f(b.lora.cpuTokensPerS),
        f(b.transformers?.tokens_per_s),
        f(b.transformers?.cpu_tokens_per_s),
        r(b.lora.tokensPerS, b.transformers?.tokens_per_s),
        r(b.lora.cpuTokensPerS, b.transformers?.cpu_tokens_per_s),
        f(b.llamaCpp?.tokens_per_s),
        f(b.llamaCpp?.cpu_tokens_per_s),
        r(b.lora.tokensPerS, b.llamaCpp?.tokens_per_s),
      ]),
    );
    if (b.lora.error) console.log(`  @lora batch ${b.batch}: ${b.lora.error}`);
  }
  const agree = (rows) =>
    rows === null ? 'n/a' : `${Math.min(...rows)}/${newTokens}${rows.length > 1 ? ` (rows: ${rows.join(' ')})` : ''}`;
  for (const b of result.batches) {
    console.log(
      `greedy tokens b${b.batch}, equal leading tokens of @lora's: transformers ${agree(b.agreeTransformers)}; llama.cpp ${agree(b.agreeLlamaCpp)}`,
    );
  }
  if (result.promptIdsMatchTransformers !== null) {
    const ok = result.promptIdsMatchTransformers.filter(Boolean).length;
    console.log(`prompt ids: transformers' apply_chat_template gives @lora's ids for ${ok}/${prompts.length} prompts`);
  }
  console.log('goals (issue 13): batch 1 ≥ 3× transformers, batch 8 ≥ 1.5×; llama.cpp is the anchor, not a goal');
  for (const row of aggregateRuns([w7Rows(result)])) console.log(ratioLine(row));
  if (args.json) writeFileIn(args.json, result);
  else writeResult('decode-smollm2.json', result);
}
