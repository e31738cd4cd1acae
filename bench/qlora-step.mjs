#!/usr/bin/env node
// W2 vs W3 step time (bench/README.md): LoRA (r 16, α 32, q/k/v/o/gate/up/down) training
// step — forward, causal-LM cross-entropy (one-hot × logSoftmax), backward to the LoRA variables —
// on the random Llama d512 L8 ffn1376 vocab 8192 with a dense fp32 base, then with the base
// quantized to NF4 + double quant (@lora/quant), with Nf4Linear dequantizing the weight twice per
// step (forward and gradient, the default) and once (cacheWeightForBackward). Prints ms/step, the
// QLoRA/LoRA ratio, resident bytes/param of the base (tf.memory()) and the peak tf.memory() bytes
// seen inside a step.
//
//   pnpm build && node bench/qlora-step.mjs [--steps 2] [--seq 256] [--batch 4] [--json out.json]
//
// On wasm, batch 4 × seq 256 aborts (wasm heap exhausted in the dense step): use --batch 1. Times are
// reported as process CPU time (wasm is single-threaded, so this holds on a loaded machine) and wall.
//
// Env: LORA_BACKEND picks the tfjs backend (default wasm). Uses the BUILT packages (packages/*/dist).
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from './args.mjs';
import { importBuilt } from './common.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { values: args } = parseArgs({
  options: {
    steps: { type: 'string', default: '2' },
    seq: { type: 'string', default: '256' },
    batch: { type: 'string', default: '4' },
    json: { type: 'string' },
  },
});
const models = await importBuilt('models');
const quant = await importBuilt('quant');
const peftLib = await importBuilt('peft');
const { Rng } = await importBuilt('core');
const tf = await import(pathToFileURL(join(root, 'packages', 'quant', 'node_modules', '@tensorflow', 'tfjs', 'dist', 'tf.node.js')).href);
const backend = process.env.LORA_BACKEND ?? 'wasm';
if (backend === 'wasm')
  await import(
    pathToFileURL(join(root, 'packages', 'quant', 'node_modules', '@tensorflow', 'tfjs-backend-wasm', 'dist', 'tf-backend-wasm.node.js'))
      .href
  );
await tf.setBackend(backend);
await tf.ready();

const V = 8192;
const D = 512;
const F = 1376;
const L = 8;
const config = models.parseModelConfig(
  {
    model_type: 'llama',
    vocab_size: V,
    hidden_size: D,
    intermediate_size: F,
    num_hidden_layers: L,
    num_attention_heads: 8,
    num_key_value_heads: 8,
    max_position_embeddings: 1024,
    rms_norm_eps: 1e-5,
    tie_word_embeddings: false,
  },
  { file: 'W2' },
);
function randomSource(seed) {
  const rng = new Rng(seed);
  const tensors = new Map();
  const add = (name, shape, norm = false) =>
    tensors.set(name, {
      dtype: 'float32',
      shape,
      data: Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => (norm ? 1 : 0.02 * rng.normal())),
    });
  add('model.embed_tokens.weight', [V, D]);
  add('model.norm.weight', [D], true);
  add('lm_head.weight', [V, D]);
  for (let i = 0; i < L; i++) {
    const p = `model.layers.${i}`;
    for (const n of ['q_proj', 'k_proj', 'v_proj', 'o_proj']) add(`${p}.self_attn.${n}.weight`, [D, D]);
    add(`${p}.mlp.gate_proj.weight`, [F, D]);
    add(`${p}.mlp.up_proj.weight`, [F, D]);
    add(`${p}.mlp.down_proj.weight`, [D, F]);
    add(`${p}.input_layernorm.weight`, [D], true);
    add(`${p}.post_attention_layernorm.weight`, [D], true);
  }
  return new models.MemoryWeightSource(tensors, 'W2');
}

const seq = Number(args.seq);
const batch = Number(args.batch);
const steps = Number(args.steps);
const rng = new Rng(1);
const ids = tf.tensor2d(
  Int32Array.from({ length: batch * (seq + 1) }, () => rng.nextInt(V)),
  [batch, seq + 1],
  'int32',
);
const inputs = ids.slice([0, 0], [batch, seq]);
const targets = tf.oneHot(ids.slice([0, 1], [batch, seq]).reshape([-1]), V);
const loraOptions = {
  r: 16,
  loraAlpha: 32,
  targetModules: ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'],
  initLoraWeights: false,
};

function loss(model) {
  const logits = model.forward(inputs);
  return tf.neg(tf.mean(tf.sum(tf.mul(targets, tf.logSoftmax(logits.reshape([-1, V]))), 1)));
}

/** CPU ms of this process (wasm runs single-threaded: robust to other load on the machine). */
function cpuMs() {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

/** One step: forward + backward to the LoRA variables; returns wall ms, CPU ms and the peak tf.memory() bytes. */
function step(peft, vars) {
  let peak = 0;
  const t0 = performance.now();
  const c0 = cpuMs();
  const { value, grads } = tf.variableGrads(() => {
    const l = loss(peft);
    peak = Math.max(peak, tf.memory().numBytes);
    return l;
  }, vars);
  peak = Math.max(peak, tf.memory().numBytes);
  for (const g of Object.values(grads)) g.dataSync();
  const ms = performance.now() - t0;
  const cpu = cpuMs() - c0;
  tf.dispose([value, ...Object.values(grads)]);
  return { ms, cpu, peak };
}
function timeSteps(label, peft) {
  const vars = peft.trainableVariables();
  step(peft, vars); // warm-up
  const runs = Array.from({ length: steps }, () => step(peft, vars));
  const ms = runs.reduce((a, r) => a + r.ms, 0) / runs.length;
  const cpu = runs.reduce((a, r) => a + r.cpu, 0) / runs.length;
  const peak = Math.max(...runs.map((r) => r.peak));
  console.log(
    `${label}: ${cpu.toFixed(0)} CPU ms/step, ${ms.toFixed(0)} wall ms/step (batch ${batch}, seq ${seq}, ${steps} steps after 1 warm-up), ` +
      `peak tf.memory ${(peak / 2 ** 20).toFixed(0)} MiB`,
  );
  if (ms > 60_000) console.log('  (over 60 s per step: rerun with a smaller --batch / --seq)');
  return { ms, cpu, peak };
}

const model = await models.createCausalLM(config, randomSource(0));
const basePaths = model.linearModules().filter((s) => s.path !== 'lm_head');
const params = basePaths.reduce((n, s) => n + s.get().inFeatures * s.get().outFeatures, 0);
const fp32Bytes = tf.memory().numBytes;

let peft = peftLib.getPeftModel(model, peftLib.loraConfig(loraOptions), { seed: 0 });
const loraParams = peft.trainableVariables().reduce((n, v) => n + v.size, 0);
console.log(`W2: ${params} quantizable linear params, LoRA r 16 on q,k,v,o,gate,up,down: ${loraParams} trainable (${backend})`);
const dense = timeSteps('LoRA, dense fp32 base', peft);
peft.unload();

const before = tf.memory().numBytes;
await quant.quantizeModel(model, { type: 'nf4', blocksize: 64, doubleQuant: true });
const after = tf.memory().numBytes;
const resident = model.linearModules().reduce((n, s) => n + (s.get() instanceof quant.Nf4Linear ? s.get().residentBytes() : 0), 0);
const bitsPerParam = (8 * (4 * params - (before - after))) / params;
console.log(
  `base linears resident: fp32 32.00 bits/param -> NF4+DQ ${bitsPerParam.toFixed(2)} bits/param by tf.memory() ` +
    `(${((8 * resident) / params).toFixed(2)} by Nf4Linear tensors); whole model ${(fp32Bytes / 2 ** 20).toFixed(1)} -> ${(after / 2 ** 20).toFixed(1)} MiB`,
);

peft = peftLib.getPeftModel(model, peftLib.loraConfig(loraOptions), { seed: 0 });
const setCache = (on) => {
  for (const layer of peft.loraLayers().values()) layer.base.cacheWeightForBackward = on;
};
setCache(false);
const twice = timeSteps('QLoRA, NF4+DQ base, dequantize in forward and again in backward (default)', peft);
setCache(true);
const once = timeSteps('QLoRA, NF4+DQ base, dequantized weight kept for backward (cacheWeightForBackward)', peft);
setCache(false);

// Cost of dequantizing the whole base once (what one dequantization per layer per pass costs).
const layers = [...peft.loraLayers().values()].map((l) => l.base);
const t0 = performance.now();
const c0 = cpuMs();
for (const layer of layers) {
  const w = layer.dequantizeTorchLayout();
  w.dataSync();
  w.dispose();
}
const dequantMs = performance.now() - t0;
const dequantCpu = cpuMs() - c0;
console.log(`dequantizing every base layer once: ${dequantCpu.toFixed(0)} CPU ms, ${dequantMs.toFixed(0)} wall ms`);
console.log(
  `QLoRA/LoRA step-time ratio (CPU time): ${(twice.cpu / dense.cpu).toFixed(2)} (default), ${(once.cpu / dense.cpu).toFixed(2)} (cacheWeightForBackward); ` +
    `wall: ${(twice.ms / dense.ms).toFixed(2)}, ${(once.ms / dense.ms).toFixed(2)}`,
);

if (args.json !== undefined) {
  mkdirSync(dirname(args.json), { recursive: true });
  writeFileSync(
    args.json,
    `${JSON.stringify({ backend, batch, seq, steps, params, loraParams, denseMs: dense.ms, qloraMs: twice.ms, qloraCachedMs: once.ms, denseCpuMs: dense.cpu, qloraCpuMs: twice.cpu, qloraCachedCpuMs: once.cpu, dequantCpuMs: dequantCpu, densePeak: dense.peak, qloraPeak: twice.peak, qloraCachedPeak: once.peak, bitsPerParam, dequantMs }, null, 1)}\n`,
  );
}
peft.dispose();
tf.dispose([ids, inputs, targets]);
