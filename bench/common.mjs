// Shared helpers of the bench/ scripts (train-sft.mjs, mc-score.mjs, run.mjs): importing the BUILT
// packages, running the Python reference (chosen by reference.mjs), the machine description, the fp32 matmul peak and the
// FLOP count used for MFU. Not part of any package.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism, cpus, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** Repository root. */
export const root = join(dirname(fileURLToPath(import.meta.url)), '..');

/**
 * Imports `packages/<pkg>/dist/<entry>`; exits with a message naming the fix when it is missing. For the
 * package entry (`index.js`) the names of `@lora/<pkg>/internal` come with it: the benchmarks time library
 * internals (the loss, the lean gradient walk, the kernels) beside the public API.
 */
export async function importBuilt(pkg, entry = 'index.js') {
  const load = async (name) => {
    const file = join(root, 'packages', pkg, 'dist', name);
    if (!existsSync(file)) {
      console.error(`bench: ${file} is missing — build first: pnpm build (or pnpm --filter @lora/${pkg}... build)`);
      process.exit(1);
    }
    return import(pathToFileURL(file).href);
  };
  const main = await load(entry);
  if (entry !== 'index.js' || !existsSync(join(root, 'packages', pkg, 'dist', 'internal.js'))) return main;
  return { ...(await load('internal.js')), ...main };
}

/** The `@tensorflow/tfjs` instance that `@lora/models` uses (one engine, one backend registry). */
export async function importTf() {
  const resolved = createRequire(join(root, 'packages/models/package.json')).resolve('@tensorflow/tfjs');
  return import(pathToFileURL(resolved).href);
}

/** The W2 model of bench/README.md: random Llama d512 L8 ffn1376 vocab 8192 (HF config.json fields). */
export const W2_CONFIG_JSON = {
  model_type: 'llama',
  vocab_size: 8192,
  hidden_size: 512,
  intermediate_size: 1376,
  num_hidden_layers: 8,
  num_attention_heads: 8,
  num_key_value_heads: 8,
  max_position_embeddings: 1024,
  rms_norm_eps: 1e-5,
  tie_word_embeddings: false,
  bos_token_id: 1,
  eos_token_id: 2,
};

/** transformers `LlamaConfig` kwargs with the same shapes as one of our parsed model configs. */
export function hfLlamaConfig(c) {
  return {
    vocab_size: c.vocabSize,
    hidden_size: c.hiddenSize,
    intermediate_size: c.intermediateSize,
    num_hidden_layers: c.numHiddenLayers,
    num_attention_heads: c.numAttentionHeads,
    num_key_value_heads: c.numKeyValueHeads,
    head_dim: c.headDim,
    max_position_embeddings: c.maxPositionEmbeddings,
    rms_norm_eps: c.rmsNormEps,
    tie_word_embeddings: c.tieWordEmbeddings,
    rope_theta: c.rope?.full_attention?.theta ?? 10000,
  };
}

/** CPU, cores, load average (1/5/15 min) and Node version of this machine, now. */
export function machineInfo() {
  return {
    cpu: cpus()[0]?.model ?? 'unknown',
    cores: availableParallelism(),
    loadavg: loadavg().map((x) => Number(x.toFixed(2))),
    node: process.version,
  };
}

/** Median of a non-empty list. */
export function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Runs `bench/<script>` with `spec` as JSON on stdin; returns its stdout JSON or throws with its last stderr line. */
export function runPython(python, script, spec) {
  const child = spawnSync(python, [join(root, 'bench', script)], { input: JSON.stringify(spec), encoding: 'utf8', maxBuffer: 1 << 26 });
  if (child.status !== 0) {
    const lines = (child.stderr ?? '').trim().split('\n');
    throw new Error(`${python} bench/${script} failed (${child.status}): ${lines.slice(-3).join(' | ')}`);
  }
  return JSON.parse(child.stdout);
}

/**
 * Best plain 2-D fp32 `tf.matMul` GFLOP/s of the current tfjs backend over square sizes (no
 * transpose flags: the fast path of wasm).
 */
export async function tfMatmulPeak(tf, sizes = [256, 512, 1024, 2048]) {
  let best = { gflops: 0, size: 0 };
  const all = {};
  for (const n of sizes) {
    const a = tf.randomNormal([n, n]);
    const b = tf.randomNormal([n, n]);
    const run = async () => {
      const c = tf.matMul(a, b);
      await c.data();
      c.dispose();
    };
    await run(); // warm-up
    const reps = Math.max(2, Math.floor(2e9 / (2 * n ** 3)));
    const start = performance.now();
    for (let i = 0; i < reps; i++) await run();
    const gflops = (2 * n ** 3 * reps) / ((performance.now() - start) / 1000) / 1e9;
    all[n] = gflops;
    if (gflops > best.gflops) best = { gflops, size: n };
    tf.dispose([a, b]);
  }
  return { ...best, bySize: all };
}

/** `[in, out]` of each Llama linear by module name. */
function linearShapes(c) {
  const d = c.hiddenSize;
  const q = c.numAttentionHeads * c.headDim;
  const kv = c.numKeyValueHeads * c.headDim;
  const ff = c.intermediateSize;
  return { q_proj: [d, q], k_proj: [d, kv], v_proj: [d, kv], o_proj: [q, d], gate_proj: [d, ff], up_proj: [d, ff], down_proj: [ff, d] };
}

/**
 * Model FLOPs per trained token of one LoRA SFT step (frozen base), counting matmuls only:
 *   N_base = Σ_layers Σ_linears in·out, N_head = vocab·hidden (lm_head, or the tied embedding),
 *   N_lora = Σ_layers Σ_targets r·(in+out), A = layers·seq·(heads·head_dim) (attention per token).
 *   forward  = 2·(N_base + N_head) + 2·N_lora + 4·A        (QKᵀ and PV: 2·seq·d_q each)
 *   backward = 2·(N_base + N_head) + 4·N_lora + 8·A        (input grads only for the frozen base;
 *                                                          input + weight grads for LoRA A, B;
 *                                                          dS, dV, dQ, dK for attention)
 *   total    = 4·(N_base + N_head) + 6·N_lora + 12·A       (vs 6·N for full fine-tuning)
 * The embedding gather, norms, RoPE, softmax and elementwise work are not counted (as usual for
 * MFU); attention counts the full seq×seq products that both implementations compute.
 */
export function loraTrainFlopsPerToken(c, seq, r, targets) {
  const shapes = linearShapes(c);
  const L = c.numHiddenLayers;
  const nBase = L * Object.values(shapes).reduce((n, [i, o]) => n + i * o, 0);
  const nHead = c.vocabSize * c.hiddenSize;
  const nLora = L * targets.reduce((n, t) => n + r * (shapes[t][0] + shapes[t][1]), 0);
  const a = L * seq * c.numAttentionHeads * c.headDim;
  const forward = 2 * (nBase + nHead) + 2 * nLora + 4 * a;
  const backward = 2 * (nBase + nHead) + 4 * nLora + 8 * a;
  return { nBase, nHead, nLora, attention: a, forward, backward, total: forward + backward };
}

/** Forward-only FLOPs per token (scoring): 2·(N_base + N_head) + 4·A. */
export function forwardFlopsPerToken(c, seq) {
  const f = loraTrainFlopsPerToken(c, seq, 0, []);
  return f.forward;
}

/** Writes `data` (a string, or JSON) to `file`, creating its folder (a fresh clone has no bench/results/). */
export function writeFileIn(file, data) {
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, typeof data === 'string' ? data : `${JSON.stringify(data, null, 2)}\n`);
  return file;
}

/** Writes `bench/results/<name>` (creating the folder) and returns its path. */
export function writeResult(name, data) {
  return writeFileIn(join(root, 'bench', 'results', name), data);
}

/** Fixed width number formatting; `n/a` for missing values. */
export function fmt(x, digits = 1) {
  return x === undefined || x === null || !Number.isFinite(x) ? 'n/a' : x.toFixed(digits);
}

/**
 * Aggregates a `tf.profile` result per kernel name: `[{ name, ms, calls, share }]`, largest first.
 * Entries without a kernel name (`unnamed scope`: the forward of a `tf.customGrad`, whose inner
 * kernels are profiled too) are left out of the total, as they would count time twice.
 */
export function topKernels(profile, limit = 10) {
  const by = new Map();
  let scopesMs = 0;
  for (const k of profile.kernels) {
    if (k.name === undefined || k.name === '' || / scope$/.test(k.name)) {
      scopesMs += typeof k.kernelTimeMs === 'number' ? k.kernelTimeMs : 0;
      continue;
    }
    const ms = typeof k.kernelTimeMs === 'number' ? k.kernelTimeMs : 0;
    const e = by.get(k.name) ?? { name: k.name, ms: 0, calls: 0 };
    e.ms += ms;
    e.calls += 1;
    by.set(k.name, e);
  }
  const total = [...by.values()].reduce((n, e) => n + e.ms, 0);
  return {
    totalMs: total,
    customGradScopesMs: scopesMs,
    top: [...by.values()]
      .sort((a, b) => b.ms - a.ms)
      .slice(0, limit)
      .map((e) => ({ ...e, share: total > 0 ? e.ms / total : 0 })),
  };
}
