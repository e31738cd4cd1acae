// @lora on WebGPU (Dawn, the `webgpu` npm package) for issue 19 "On a real GPU": the bench/
// workloads W2 (LoRA SFT, random Llama d512 L8), W4 (greedy decode, W2 model), W5 (multiple-choice
// scoring, W2 model) and a SmolLM2-135M-shaped random Llama LoRA step, each timed the way the
// bench/ scripts time them (train-sft.mjs, decode.mjs, mc-score.mjs). The PyTorch CUDA side is
// tools/gpu/torch_cuda.py, fed the same batches, prompts and requests through --spec.
//
// This file is bundled into one ESM file by tools/gpu/stage.sh (esbuild), so that the device
// machine needs only a Node binary and Dawn's dawn.node beside the bundle (dist/linux-x64/).
//
//   node bench-webgpu.mjs --spec spec.json                       # write the shared inputs only
//   node bench-webgpu.mjs --only W2 --json w2.json [--steps 4] [--allow-software]
//   workloads: W2, SMOL, W4, W5, PARITY (webgpu logits of a small model against the cpu backend),
//   PEAK (fp32 matMul rate of the backend, products queued back to back)
//
// --allow-software accepts Mesa lavapipe (local checks of the bundle); without it the backend is
// chosen with selectBackend({ backend: 'webgpu' }), which rejects software adapters.
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs';
import * as core from '@lora/core';
import * as models from '@lora/models';
import * as testing from '@lora/models/test';
import * as peftPkg from '@lora/peft';
import * as trainPkg from '@lora/train';
import { causalLmLoss } from '@lora/train/internal';
import { createCausalLM } from '@lora/models/internal';
import { W2_CONFIG_JSON, forwardFlopsPerToken, hfLlamaConfig, loraTrainFlopsPerToken, median, topKernels } from '../../bench/common.mjs';

const { values: args } = parseArgs({
  options: {
    only: { type: 'string', default: 'W2' },
    spec: { type: 'string' },
    json: { type: 'string' },
    steps: { type: 'string', default: '4' },
    warmup: { type: 'string', default: '1' },
    runs: { type: 'string', default: '3' },
    'new-tokens': { type: 'string', default: '128' },
    questions: { type: 'string', default: '200' },
    'smol-layers': { type: 'string', default: '30' },
    'd512-layers': { type: 'string', default: '8' },
    'peak-sizes': { type: 'string', default: '1024,2048,4096' },
    profile: { type: 'boolean', default: false },
    'allow-software': { type: 'boolean', default: false },
    // Local checks of the bundle on a software adapter: training rows of 16 tokens × 2.
    tiny: { type: 'boolean', default: false },
    'train-seq': { type: 'string' },
    'train-batch': { type: 'string' },
  },
});
const only = new Set(args.only.split(',').map((s) => s.trim().toUpperCase()));
const steps = Number(args.steps);
const warmup = Number(args.warmup);
const runs = Number(args.runs);
const newTokens = Number(args['new-tokens']);
const questions = Number(args.questions);

const LORA = { r: 16, alpha: 32, targets: ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'] };
const LR = 2e-4;
const W2_JSON = { ...W2_CONFIG_JSON, num_hidden_layers: Number(args['d512-layers']) };
/** SmolLM2-135M's shapes (SmolLM2-135M-Instruct), random weights. */
const SMOL_JSON = {
  model_type: 'llama',
  vocab_size: 49152,
  hidden_size: 576,
  intermediate_size: 1536,
  num_hidden_layers: Number(args['smol-layers']),
  num_attention_heads: 9,
  num_key_value_heads: 3,
  max_position_embeddings: 8192,
  rms_norm_eps: 1e-5,
  rope_theta: 100000,
  tie_word_embeddings: true,
  bos_token_id: 1,
  eos_token_id: 2,
};

/** `count` fixed batches of random token ids (BOS first), every label trained (train-sft.mjs). */
function makeBatches(count, rows, seq, vocab, seed) {
  const rng = new core.Rng(seed);
  return Array.from({ length: count }, () => {
    const inputIds = new Int32Array(rows * seq).map((_, i) => (i % seq === 0 ? 1 : 3 + rng.nextInt(vocab - 3)));
    return { inputIds, labels: inputIds.slice(), shape: [rows, seq] };
  });
}
const toRows = (b) => Array.from({ length: b.shape[0] }, (_, i) => Array.from(b.inputIds.subarray(i * b.shape[1], (i + 1) * b.shape[1])));

/** The 200 × 4 W5 requests of mc-score.mjs (seed 11). */
function mcRequests(config) {
  const rng = new core.Rng(11);
  const token = () => 3 + rng.nextInt(config.vocabSize - 3);
  const requests = [];
  for (let q = 0; q < questions; q++) {
    const prompt = [1, ...Array.from({ length: 55 + rng.nextInt(17) }, token)];
    for (let o = 0; o < 4; o++) requests.push({ prompt, continuation: Array.from({ length: 6 + rng.nextInt(5) }, token) });
  }
  return requests;
}
/** decode.mjs's prompt: BOS then ids spread over the vocabulary. */
const promptIds = (config, n = 16) => [
  config.bosTokenId ?? 1,
  ...Array.from({ length: n - 1 }, (_, i) => 3 + ((i * 37) % (config.vocabSize - 3))),
];

const trainSpecs = {
  W2: { id: 'W2', name: 'llama-d512 LoRA SFT', json: W2_JSON, seq: 256, batch: 4 },
  SMOL: { id: 'SMOL', name: 'SmolLM2-135M-shaped LoRA SFT', json: SMOL_JSON, seq: 96, batch: 4 },
};
if (args.tiny) for (const s of Object.values(trainSpecs)) Object.assign(s, { seq: 16, batch: 2 });
if (args['train-seq']) for (const s of Object.values(trainSpecs)) s.seq = Number(args['train-seq']);
if (args['train-batch']) for (const s of Object.values(trainSpecs)) s.batch = Number(args['train-batch']);

// ---- --spec: the inputs both sides use (no GPU needed)
if (args.spec) {
  const w2 = models.parseModelConfig(W2_JSON, { file: 'W2' });
  const spec = {
    lora: LORA,
    lr: LR,
    warmup,
    steps,
    runs,
    new_tokens: newTokens,
    train: Object.values(trainSpecs).map((s) => {
      const config = models.parseModelConfig(s.json, { file: s.id });
      return {
        name: s.id,
        config: hfLlamaConfig(config),
        seq: s.seq,
        batch: s.batch,
        batches: makeBatches(2, s.batch, s.seq, config.vocabSize, 7).map(toRows),
      };
    }),
    decode: { name: 'W4', config: hfLlamaConfig(w2), prompt: promptIds(w2) },
    mc: { name: 'W5', config: hfLlamaConfig(w2), batch_size: 8, requests: mcRequests(w2).map((r) => [r.prompt, r.continuation]) },
  };
  writeFileSync(args.spec, JSON.stringify(spec));
  console.error(`[bench-webgpu] wrote ${args.spec}`);
  process.exit(0);
}

// ---- backend
let backendLine = '';
if (args['allow-software']) {
  process.env.LORA_TEST_BACKEND = 'webgpu';
  await testing.setupTestBackend();
  backendLine = 'webgpu (software adapter allowed: local check)';
} else {
  await models.selectBackend({
    backend: 'webgpu',
    log: (line) => {
      backendLine = line;
      console.error(line);
    },
  });
}
const gpuMemory = () => {
  const m = tf.memory();
  return { numBytesInGPU: m.numBytesInGPU ?? null, numBytesAllocatedInGPU: m.numBytesAllocatedInGPU ?? null, numTensors: m.numTensors };
};
const result = {
  benchmark: 'webgpu',
  date: new Date().toISOString(),
  node: process.version,
  backend: tf.getBackend(),
  backendLine,
  workloads: {},
};
const flush = () => args.json && writeFileSync(args.json, `${JSON.stringify(result, null, 2)}\n`);
const log = (s) => console.error(`[bench-webgpu] ${s}`);

async function trainSteps(peft, batches, maxSteps) {
  const reports = [];
  await trainPkg.train({
    model: peft,
    data: batches,
    args: { maxSteps, learningRate: LR, lrScheduler: 'linear', weightDecay: 0, maxGradNorm: 1, shuffle: false, optimizer: 'adamw' },
    callbacks: { onStepEnd: (r) => void reports.push(r) },
  });
  return reports;
}

async function runTrain(spec) {
  const config = models.parseModelConfig(spec.json, { file: spec.id });
  let t = performance.now();
  const model = await createCausalLM(config, testing.randomWeights(config, 0, 0.02));
  const buildSeconds = (performance.now() - t) / 1000;
  const peft = peftPkg.getPeftModel(
    model,
    peftPkg.loraConfig({ r: LORA.r, loraAlpha: LORA.alpha, loraDropout: 0, targetModules: LORA.targets }),
  );
  const batches = makeBatches(2, spec.batch, spec.seq, config.vocabSize, 7);
  const tokensPerStep = spec.batch * spec.seq;
  t = performance.now();
  const reports = await trainSteps(peft, batches, warmup + steps);
  const wallSeconds = (performance.now() - t) / 1000;
  const stepSeconds = reports.slice(warmup).map((r) => r.tokens / r.tokensPerSecond);
  const firstStepSeconds = reports[0].tokens / reports[0].tokensPerSecond;
  const tokensPerS = tokensPerStep / median(stepSeconds);
  const memoryAfterSteps = gpuMemory();
  // Forward (+ loss) alone, as train-sft.mjs splits the step.
  const forwardMs = [];
  for (let i = 0; i < 3; i++) {
    const b = batches[i % 2];
    const start = performance.now();
    const loss = tf.tidy(() => causalLmLoss(peft.forward(tf.tensor2d(b.inputIds, b.shape, 'int32')), b.labels));
    await loss.data();
    loss.dispose();
    if (i > 0) forwardMs.push(performance.now() - start);
  }
  const flops = loraTrainFlopsPerToken(config, spec.seq, LORA.r, LORA.targets);
  const row = {
    id: spec.id,
    name: spec.name,
    config: hfLlamaConfig(config),
    seq: spec.seq,
    batch: spec.batch,
    tokensPerStep,
    tokensPerS,
    stepSeconds,
    firstStepSeconds,
    forwardSeconds: median(forwardMs) / 1000,
    losses: reports.map((r) => r.loss),
    gradNorms: reports.map((r) => r.gradNorm),
    trainableParams: peft.trainableVariables().reduce((n, v) => n + v.size, 0),
    buildSeconds,
    wallSeconds,
    flopsPerToken: flops.total,
    achievedGflops: (tokensPerS * flops.total) / 1e9,
    memoryAfterSteps,
    profile: null,
  };
  log(
    `${spec.id}: ${tokensPerS.toFixed(1)} tok/s (steps ${stepSeconds.map((s) => s.toFixed(3)).join(' ')} s, first ${firstStepSeconds.toFixed(2)} s) losses ${row.losses.map((l) => l.toFixed(3)).join(' ')} allocated ${(memoryAfterSteps.numBytesAllocatedInGPU / 2 ** 20).toFixed(0)} MiB`,
  );
  // Written before the profile, so a profile that runs past the phase's time limit loses nothing.
  result.workloads[spec.id] = row;
  flush();
  if (args.profile) {
    try {
      const t0 = performance.now();
      row.profile = {
        ...topKernels(await tf.profile(async () => void (await trainSteps(peft, batches.slice(0, 1), 1))), 12),
        wallSeconds: (performance.now() - t0) / 1000,
      };
    } catch (error) {
      row.profile = { error: String(error.message ?? error).split('\n')[0] };
    }
  }
  peft.dispose();
  return row;
}

async function runDecode() {
  const config = models.parseModelConfig(W2_JSON, { file: 'W4' });
  const model = await createCausalLM(config, testing.randomWeights(config, 0, 0.02));
  const prompt = promptIds(config);
  const options = { maxNewTokens: newTokens, temperature: 0, stopTokenIds: [] };
  const before = tf.memory().numTensors;
  let t = performance.now();
  const warm = await models.generate(model, [prompt], options);
  const warmSeconds = (performance.now() - t) / 1000;
  if (warm.sequences[0].length !== newTokens) throw new Error(`expected ${newTokens} tokens, got ${warm.sequences[0].length}`);
  const seconds = [];
  // A slow warm-up (over 8 s) means one timed run, so the phase ends inside its time limit.
  const timedRuns = warmSeconds > 8 ? 1 : runs;
  for (let r = 0; r < timedRuns; r++) {
    t = performance.now();
    await models.generate(model, [prompt], options);
    seconds.push((performance.now() - t) / 1000);
  }
  const row = {
    id: 'W4',
    name: 'decode llama-d512',
    config: hfLlamaConfig(config),
    newTokens,
    tokensPerS: newTokens / median(seconds),
    seconds,
    warmSeconds,
    leakedTensors: tf.memory().numTensors - before,
    memory: gpuMemory(),
    firstTokens: warm.sequences[0].slice(0, 8),
  };
  model.dispose();
  log(`W4: ${row.tokensPerS.toFixed(1)} tok/s (runs ${seconds.map((s) => s.toFixed(2)).join(' ')} s, warm-up ${warmSeconds.toFixed(2)} s)`);
  return row;
}

async function runMc() {
  const config = models.parseModelConfig(W2_JSON, { file: 'W5' });
  const model = await createCausalLM(config, testing.randomWeights(config, 0, 0.02));
  const requests = mcRequests(config);
  const tokens = requests.reduce((n, r) => n + r.prompt.length + r.continuation.length - 1, 0);
  const batchSize = 8;
  let t = performance.now();
  await models.scoreContinuations(model, requests.slice(0, batchSize), { batchSize });
  const warmSeconds = (performance.now() - t) / 1000;
  t = performance.now();
  const scores = await models.scoreContinuations(model, requests, { batchSize });
  const seconds = (performance.now() - t) / 1000;
  const flopsPerToken = forwardFlopsPerToken(config, Math.round(tokens / requests.length));
  const row = {
    id: 'W5',
    name: 'MC scoring 200 q x 4',
    questions,
    requests: requests.length,
    tokens,
    seconds,
    warmSeconds,
    questionsPerS: questions / seconds,
    tokensPerS: tokens / seconds,
    gflops: (tokens * flopsPerToken) / seconds / 1e9,
    memory: gpuMemory(),
    firstSums: scores.slice(0, 4).map((s) => s.sum),
  };
  model.dispose();
  log(`W5: ${row.questionsPerS.toFixed(2)} questions/s (${seconds.toFixed(2)} s, warm-up ${warmSeconds.toFixed(2)} s)`);
  return row;
}

/** Max |Δlogits| of the webgpu forward against the cpu backend, same random weights (d512, 2 layers). */
async function runParity() {
  const json = { ...W2_CONFIG_JSON, num_hidden_layers: 2 };
  const config = models.parseModelConfig(json, { file: 'parity' });
  const ids = Int32Array.from({ length: 2 * 24 }, (_, i) => (i % 24 === 0 ? 1 : 3 + ((i * 131) % 8000)));
  const logitsOn = async () => {
    const model = await createCausalLM(config, testing.randomWeights(config, 5, 0.02));
    const out = model.forward(tf.tensor2d(ids, [2, 24], 'int32'));
    const data = await out.data();
    out.dispose();
    model.dispose();
    return data;
  };
  const gpu = await logitsOn();
  await tf.setBackend('cpu');
  const cpu = await logitsOn();
  await tf.setBackend('webgpu');
  let maxAbs = 0;
  let maxRef = 0;
  for (let i = 0; i < cpu.length; i++) {
    maxAbs = Math.max(maxAbs, Math.abs(gpu[i] - cpu[i]));
    maxRef = Math.max(maxRef, Math.abs(cpu[i]));
  }
  const row = {
    id: 'PARITY',
    shape: [2, 24],
    config: 'llama d512 L2 vocab 8192',
    maxAbsLogitDiff: maxAbs,
    maxAbsLogit: maxRef,
    finite: gpu.every(Number.isFinite),
  };
  log(`parity: max |Δlogits| webgpu vs cpu ${maxAbs.toExponential(2)} (max |logit| ${maxRef.toFixed(3)})`);
  return row;
}

/**
 * fp32 matMul rate of the backend: `reps` products queued back to back, one 1-element read at the
 * end (the queue runs in order, so the read waits for all of them): no readback of the product
 * in the timing, unlike bench/common.mjs' tfMatmulPeak (whose readback dominates on a GPU).
 */
async function runPeak() {
  const sizes = args['peak-sizes'].split(',').map(Number);
  const bySize = {};
  let best = { gflops: 0, size: 0 };
  for (const n of sizes) {
    const a = tf.randomNormal([n, n]);
    const b = tf.randomNormal([n, n]);
    const run = async (reps) => {
      let last;
      for (let i = 0; i < reps; i++) {
        last?.dispose();
        last = tf.matMul(a, b);
      }
      const corner = tf.slice(last, [0, 0], [1, 1]);
      await corner.data();
      tf.dispose([corner, last]);
    };
    await run(2); // warm-up: shader compilation
    const reps = Math.max(4, Math.min(50, Math.round(1e12 / (2 * n ** 3))));
    const start = performance.now();
    await run(reps);
    const gflops = (2 * n ** 3 * reps) / ((performance.now() - start) / 1000) / 1e9;
    bySize[n] = gflops;
    if (gflops > best.gflops) best = { gflops, size: n };
    tf.dispose([a, b]);
  }
  log(`fp32 matMul ${best.gflops.toFixed(0)} GFLOP/s (n=${best.size}) ${JSON.stringify(bySize)}`);
  return { ...best, bySize };
}

const jobs = {
  W2: () => runTrain(trainSpecs.W2),
  SMOL: () => runTrain(trainSpecs.SMOL),
  W4: runDecode,
  W5: runMc,
  PARITY: runParity,
  PEAK: runPeak,
};
let failed = false;
for (const id of Object.keys(jobs)) {
  if (!only.has(id)) continue;
  const t = performance.now();
  try {
    result.workloads[id] = await jobs[id]();
  } catch (error) {
    failed = true;
    result.workloads[id] = {
      id,
      error: String(error?.stack ?? error)
        .split('\n')
        .slice(0, 4)
        .join(' | '),
    };
    log(`${id} failed: ${result.workloads[id].error}`);
  }
  result.workloads[id].processSeconds = (performance.now() - t) / 1000;
  flush();
}
flush();
process.exit(failed ? 1 : 0);
