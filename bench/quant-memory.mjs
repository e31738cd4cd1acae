#!/usr/bin/env node
// W3 memory + step time (bench/README.md): the random Llama d512 L8 ffn1376 vocab 8192 (W2
// model) with its linears quantized to NF4 + double quant by @lora/quant. Prints resident bytes per
// parameter of the quantized linears measured with tf.memory() beside float32, and the time of one
// forward + backward step (seq 256, batch 4) of the dense and the NF4 model. The backward reaches
// every layer through a trainable probe added after layer 0's q_proj (LoRA itself is @lora/peft's).
//
//   pnpm build && node bench/quant-memory.mjs [--steps 2] [--seq 256] [--batch 4]
//
// Env: LORA_BACKEND picks the tfjs backend (default wasm). Uses the BUILT packages (packages/*/dist).
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from './args.mjs';
import { importBuilt } from './common.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { values: args } = parseArgs({
  options: { steps: { type: 'string', default: '2' }, seq: { type: 'string', default: '256' }, batch: { type: 'string', default: '4' } },
});
const models = await importBuilt('models');
const quant = await importBuilt('quant');
const { Rng } = await importBuilt('core');
const tf = await import(
  pathToFileURL(join(root, 'packages', 'quant', 'node_modules', '@tensorflow', 'tfjs', 'dist', 'tf.node.js')).href
).catch(() => import('@tensorflow/tfjs'));
const backend = process.env.LORA_BACKEND ?? 'wasm';
if (backend === 'wasm')
  await import(
    pathToFileURL(join(root, 'packages', 'quant', 'node_modules', '@tensorflow', 'tfjs-backend-wasm', 'dist', 'tf-backend-wasm.node.js'))
      .href
  );
await tf.setBackend(backend);
await tf.ready();

const configJson = {
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
};
const config = models.parseModelConfig(configJson, { file: 'W2' });
function randomSource(seed) {
  const rng = new Rng(seed);
  const tensors = new Map();
  const add = (name, shape, norm = false) =>
    tensors.set(name, {
      dtype: 'float32',
      shape,
      data: Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => (norm ? 1 : 0.02 * rng.normal())),
    });
  add('model.embed_tokens.weight', [8192, 512]);
  add('model.norm.weight', [512], true);
  add('lm_head.weight', [8192, 512]);
  for (let i = 0; i < 8; i++) {
    const p = `model.layers.${i}`;
    for (const n of ['q_proj', 'k_proj', 'v_proj', 'o_proj']) add(`${p}.self_attn.${n}.weight`, [512, 512]);
    add(`${p}.mlp.gate_proj.weight`, [1376, 512]);
    add(`${p}.mlp.up_proj.weight`, [1376, 512]);
    add(`${p}.mlp.down_proj.weight`, [512, 1376]);
    add(`${p}.input_layernorm.weight`, [512], true);
    add(`${p}.post_attention_layernorm.weight`, [512], true);
  }
  return new models.MemoryWeightSource(tensors, 'W2');
}

const model = await models.createCausalLM(config, randomSource(0));
const slots = model.linearModules().filter((s) => s.path !== 'lm_head');
const params = slots.reduce((n, s) => n + s.get().inFeatures * s.get().outFeatures, 0);

const seq = Number(args.seq);
const batch = Number(args.batch);
const steps = Number(args.steps);
const rng = new Rng(1);
const ids = tf.tensor2d(
  Int32Array.from({ length: batch * seq }, () => rng.nextInt(8192)),
  [batch, seq],
  'int32',
);
// Probe: y = q_proj(x) + v after layer 0's q_proj, so gradients flow back through every later linear.
const probe = tf.variable(tf.zeros([512]), true, 'probe');
const slot0 = model.linearModules().find((s) => s.path === 'model.layers.0.self_attn.q_proj');
const wrap = (base) => ({
  inFeatures: base.inFeatures,
  outFeatures: base.outFeatures,
  bias: base.bias,
  apply: (x) => tf.add(base.apply(x), probe),
  trainableVariables: () => [probe],
  denseWeight: () => base.denseWeight(),
  dispose: () => base.dispose(),
});

function step() {
  const t0 = performance.now();
  const { value, grads } = tf.variableGrads(() => tf.mean(tf.square(model.forward(ids))), [probe]);
  grads.probe.dataSync();
  tf.dispose([value, grads.probe]);
  return performance.now() - t0;
}
function timeSteps(label) {
  step(); // warm-up
  const times = Array.from({ length: steps }, step);
  const mean = times.reduce((a, b) => a + b, 0) / times.length;
  console.log(`${label}: forward+backward ${mean.toFixed(0)} ms/step (batch ${batch}, seq ${seq}, ${steps} steps after 1 warm-up)`);
  return mean;
}

const denseBytes = slots.reduce((n, s) => n + 4 * s.get().inFeatures * s.get().outFeatures, 0);
const original = slot0.get();
slot0.set(wrap(original));
const denseMs = timeSteps(`dense fp32 (${backend})`);
slot0.set(original);
const before = tf.memory().numBytes;
const t0 = performance.now();
await quant.quantizeModel(model, { type: 'nf4', blocksize: 64, doubleQuant: true });
const quantizeMs = performance.now() - t0;
const after = tf.memory().numBytes;
const resident = model.linearModules().reduce((n, s) => n + (s.get() instanceof quant.Nf4Linear ? s.get().residentBytes() : 0), 0);
console.log(`quantized ${params} linear params in ${(quantizeMs / 1000).toFixed(1)} s`);
console.log(`fp32 linears: ${(denseBytes / 2 ** 20).toFixed(2)} MiB = 32.00 bits/param`);
console.log(
  `NF4+DQ linears (Nf4Linear tensors): ${(resident / 2 ** 20).toFixed(2)} MiB = ${((8 * resident) / params).toFixed(2)} bits/param`,
);
console.log(
  `tf.memory().numBytes: ${(before / 2 ** 20).toFixed(1)} MiB (fp32) -> ${(after / 2 ** 20).toFixed(1)} MiB (NF4; embeddings, lm_head, norms stay fp32): ` +
    `${((8 * (denseBytes - (before - after))) / params).toFixed(2)} bits per quantized param resident`,
);
const q0 = model.linearModules().find((s) => s.path === 'model.layers.0.self_attn.q_proj');
q0.set(wrap(q0.get()));
const quantMs = timeSteps(`NF4+DQ (${backend})`);
console.log(`NF4/dense step-time ratio: ${(quantMs / denseMs).toFixed(2)}`);
