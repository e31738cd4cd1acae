#!/usr/bin/env node
// W1–W3 (bench/README.md): LoRA SFT steps with @lora/train's `train()` beside PyTorch + PEFT
// (+ bitsandbytes) on the same machine, in one run.
//   W1  stories260K (llama2.c checkpoint from LORA_ASSETS_DIR), seq 256, batch 8
//   W2  random Llama d512 L8 ffn1376 vocab 8192, seq 256, batch 4
//   W3  W2 with the decoder linears quantized to NF4 + double quant (QLoRA), also bytes/param
//   W6  SmolLM2-135M-Instruct (GGUF from LORA_ASSETS_DIR), seq 96, batch 4, and peak memory
//   W8  W6 with the decoder linears in NF4 + double quant (QLoRA)
// LoRA r 16, alpha 32, dropout 0 on q,k,v,o,gate,up,down_proj; AdamW lr 2e-4 (linear schedule),
// weight decay 0, max_grad_norm 1; fixed random-token batches, every label trained.
// Reports tokens/s = tokens per optimizer step / median step time after warm-up, the MFU against
// this machine's fp32 matmul peak measured in the same run, and a kernel profile of one step.
//
//   pnpm build && LORA_ASSETS_DIR=../shared node bench/train-sft.mjs [--only W1,W2,W3] [--steps 3]
//     [--warmup 1] [--quick] [--no-profile] [--torch-threads 1,2] [--json FILE] [--reference-any]
//     [--loss-chunk-size auto|0|N] [--memory-breakdown]
//
// Env: LORA_BACKEND picks the tfjs backend (default automatic); LORA_BENCH_PYTHON the reference
// Python (default bench/.venv/bin/python from `pnpm bench:setup`; `none` skips it; another one
// must match bench/requirements.txt unless --reference-any, see reference.mjs).
// Uses the BUILT packages (packages/*/dist). Writes bench/results/train-sft.json (or --json FILE).
import { availableParallelism } from 'node:os';
import { parseArgs } from './args.mjs';
import {
  W2_CONFIG_JSON,
  fmt,
  hfLlamaConfig,
  importBuilt,
  importTf,
  loraTrainFlopsPerToken,
  machineInfo,
  median,
  runPython,
  tfMatmulPeak,
  topKernels,
  writeFileIn,
  writeResult,
} from './common.mjs';
import { referenceJson, resolveReferenceOrExit } from './reference.mjs';

const { values: args } = parseArgs({
  options: {
    only: { type: 'string', default: 'W1,W2,W3' },
    steps: { type: 'string' },
    warmup: { type: 'string', default: '1' },
    quick: { type: 'boolean', default: false },
    'no-profile': { type: 'boolean', default: false },
    'torch-threads': { type: 'string' },
    json: { type: 'string' },
    'gradient-checkpointing': { type: 'string', default: 'auto' },
    'reference-any': { type: 'boolean', default: false },
    'loss-chunk-size': { type: 'string', default: 'auto' },
    // W3/W8: keep each NF4 layer's dequantized weight from the forward pass for its backward pass
    // (Nf4Linear.cacheWeightForBackward: one dequantization per step instead of two, more memory).
    'nf4-cache-weight': { type: 'boolean', default: false },
    'memory-breakdown': { type: 'boolean', default: false },
  },
});
const lossChunkSize = args['loss-chunk-size'] === 'auto' ? 'auto' : Number(args['loss-chunk-size']);
// Checked before @lora's side runs, so a refused reference costs nothing.
const ref = resolveReferenceOrExit({ any: args['reference-any'] });
console.error(`[train-sft] ${ref.summary ?? ref.skipped}`);
const only = new Set(args.only.split(',').map((s) => s.trim().toUpperCase()));
const steps = Number(args.steps ?? (args.quick ? 2 : 4));
const warmup = Number(args.warmup);
const profileOn = !args['no-profile'];

const LORA = { r: 16, alpha: 32, targets: ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'] };
const LR = 2e-4;

const core = await importBuilt('core');
const models = await importBuilt('models');
const testing = await importBuilt('models', 'test/index.js');
const peftPkg = await importBuilt('peft');
const quant = await importBuilt('quant');
const trainPkg = await importBuilt('train');
const tf = await importTf();

const backend = await models.selectBackend({});
// wasm has threads off in Node and the cpu backend is single-threaded.
const ourThreads = backend.name === 'wasm' || backend.name === 'cpu' ? 1 : availableParallelism();
const torchThreads = args['torch-threads']
  ? args['torch-threads'].split(',').map(Number)
  : [...new Set([ourThreads, availableParallelism()])];
const machineBefore = machineInfo();

/** `count` fixed batches of random token ids (BOS first), every label trained. */
function makeBatches(count, rows, seq, vocab, seed) {
  const rng = new core.Rng(seed);
  return Array.from({ length: count }, () => {
    const inputIds = new Int32Array(rows * seq).map((_, i) => (i % seq === 0 ? 1 : 3 + rng.nextInt(vocab - 3)));
    return { inputIds, labels: inputIds.slice(), shape: [rows, seq] };
  });
}

async function w2Model() {
  const config = models.parseModelConfig(W2_CONFIG_JSON, { file: 'W2' });
  // std 0.02 as transformers' initializer_range (throughput does not depend on the values).
  return models.createCausalLM(config, testing.randomWeights(config, 0, 0.02));
}

const specs = [
  {
    id: 'W1',
    name: 'stories260K LoRA SFT',
    seq: 256,
    batch: 8,
    build: async () => {
      const dir = await core.resolveAsset('stories260K', { kind: 'model', allowDownload: false });
      return (await models.loadModel(dir)).model;
    },
  },
  { id: 'W2', name: 'llama-d512 LoRA SFT', seq: 256, batch: 4, build: w2Model },
  {
    id: 'W3',
    name: 'llama-d512 QLoRA (NF4+DQ) SFT',
    seq: 256,
    batch: 4,
    quant: 'nf4',
    build: w2Model,
  },
  { id: 'W6', name: 'SmolLM2-135M LoRA SFT', seq: 96, batch: 4, build: smolLm2 },
  { id: 'W8', name: 'SmolLM2-135M QLoRA (NF4+DQ) SFT', seq: 96, batch: 4, quant: 'nf4', build: smolLm2 },
].filter((s) => only.has(s.id));

/**
 * SmolLM2-135M-Instruct from its GGUF file in LORA_ASSETS_DIR (the real weights; torch uses random
 * ones of the same shapes), dequantized to float32 as recipes load it for training.
 */
async function smolLm2() {
  const dir = await core.resolveAsset('SmolLM2-135M-Instruct', { kind: 'model', allowDownload: false });
  return (await models.loadModel(dir, { keepQuantized: false })).model;
}

/**
 * One `train()` run of `maxSteps` on `batches`; returns the step reports, each with `cpuSeconds`:
 * the process CPU time since the previous step ended (robust to other jobs on a shared machine
 * when the backend is single-threaded; undefined for the first step).
 */
async function trainSteps(peft, batches, maxSteps, gradientCheckpointing, chunkSize = lossChunkSize) {
  const reports = [];
  let cpu;
  await trainPkg.train({
    model: peft,
    data: batches,
    args: {
      maxSteps,
      learningRate: LR,
      lrScheduler: 'linear',
      weightDecay: 0,
      maxGradNorm: 1,
      shuffle: false,
      optimizer: 'adamw',
      gradientCheckpointing,
      lossChunkSize: chunkSize,
    },
    callbacks: {
      onStepEnd: (r) => {
        const now = process.cpuUsage();
        reports.push({ ...r, cpuSeconds: cpu === undefined ? undefined : (now.user - cpu.user + now.system - cpu.system) / 1e6 });
        cpu = now;
      },
    },
  });
  return reports;
}

/** Process and tf engine memory at one point (RSS now and its peak so far, V8 heap, engine bytes). */
function memorySnapshot(label) {
  const m = process.memoryUsage();
  const e = tf.memory();
  return {
    label,
    rssBytes: m.rss,
    maxRssBytes: process.resourceUsage().maxRSS * 1024,
    heapUsedBytes: m.heapUsed,
    externalBytes: m.external,
    engineBytes: e.numBytes,
    engineTensors: e.numTensors,
  };
}

/**
 * Where a step's memory goes: engine bytes of the base weights and LoRA parameters (measured),
 * AdamW's two moments (2 × LoRA, as allocated at the first step), and the engine peak of one
 * profiled step with the full logits (`lossChunkSize: 0`), chunked (`auto`), and chunked with
 * gradient checkpointing: the differences attribute the logits path and the activations.
 */
async function memoryBreakdown({ spec, config, peft, batches, gc, snapshots }) {
  const [start, loaded, injected] = snapshots;
  const loraBytes = peft.trainableVariables().reduce((n, v) => n + 4 * v.size, 0);
  const variants = [
    { name: 'full logits (lossChunkSize 0)', chunk: 0, gc },
    { name: 'chunked logits (lossChunkSize auto)', chunk: 'auto', gc },
    { name: 'chunked + gradient checkpointing', chunk: 'auto', gc: true },
  ];
  const steps = [];
  for (const v of variants) {
    const info = await tf.profile(async () => {
      await trainSteps(peft, batches.slice(0, 1), 1, v.gc, v.chunk);
    });
    steps.push({ ...v, peakEngineBytes: info.peakBytes });
  }
  const [b, t, vocab] = [spec.batch, spec.seq, config.vocabSize];
  return {
    snapshots: [...snapshots, memorySnapshot('after the profiled steps')],
    baseWeightBytes: loaded.engineBytes - start.engineBytes,
    baseParams: (loaded.engineBytes - start.engineBytes) / 4,
    loraBytes,
    adamBytes: 2 * loraBytes,
    logitsBytes: 4 * b * t * vocab,
    loadTransientBytes: loaded.maxRssBytes - start.rssBytes - (loaded.engineBytes - start.engineBytes),
    hostAfterLoadBytes: loaded.rssBytes - start.rssBytes - (loaded.engineBytes - start.engineBytes),
    injectedBytes: injected.engineBytes - loaded.engineBytes,
    steps,
  };
}

function printBreakdown(id, m) {
  const mib = (x) => `${fmt(x / 2 ** 20, 1)} MiB`;
  console.log(`  memory breakdown (${id}, tf engine bytes unless said):`);
  for (const s of m.snapshots) {
    console.log(
      `    ${s.label.padEnd(40)} RSS ${mib(s.rssBytes)} (peak so far ${mib(s.maxRssBytes)}), engine ${mib(s.engineBytes)} in ${s.engineTensors} tensors, V8 heap ${mib(s.heapUsedBytes)}`,
    );
  }
  console.log(`    base weights resident (one copy)         ${mib(m.baseWeightBytes)}`);
  console.log(
    `    load transient (RSS peak − engine)       ${mib(m.loadTransientBytes)}; host memory kept after load ${mib(m.hostAfterLoadBytes)}`,
  );
  console.log(`    LoRA parameters                          ${mib(m.loraBytes)} (+ AdamW moments ${mib(m.adamBytes)})`);
  console.log(`    full logits [B·T, vocab] f32, one copy   ${mib(m.logitsBytes)}`);
  const resident = m.baseWeightBytes + m.loraBytes + m.adamBytes;
  for (const s of m.steps) {
    console.log(
      `    step peak, ${s.name.padEnd(36)} ${mib(s.peakEngineBytes)} = resident ${mib(resident)} + step ${mib(s.peakEngineBytes - resident)}`,
    );
  }
}

const ourPeak = await tfMatmulPeak(tf);
console.error(`[train-sft] @lora ${backend.name} fp32 matMul peak ${ourPeak.gflops.toFixed(1)} GFLOP/s (n=${ourPeak.size})`);

const rows = [];
for (const spec of specs) {
  let model;
  const memLoadStart = memorySnapshot('start (tf loaded, before the model)');
  try {
    model = await spec.build();
  } catch (error) {
    console.error(
      `[train-sft] ${spec.id} skipped: ${String(error.message).split('\n')[0]}${process.env.LORA_ASSETS_DIR ? '' : ' (set LORA_ASSETS_DIR=../shared)'}`,
    );
    continue;
  }
  const config = model.config;
  let bytesPerParam = null;
  if (spec.quant === 'nf4') {
    await quant.quantizeModel(model, { type: 'nf4', blocksize: 64, doubleQuant: true });
    let bytes = 0;
    let params = 0;
    for (const slot of model.linearModules()) {
      const layer = slot.get();
      if (layer instanceof quant.Nf4Linear) {
        layer.cacheWeightForBackward = args['nf4-cache-weight'];
        bytes += layer.residentBytes();
        params += layer.inFeatures * layer.outFeatures;
      }
    }
    bytesPerParam = bytes / params;
  }
  const memLoaded = memorySnapshot(`model loaded${spec.quant ? ' and quantized' : ''}`);
  const peft = peftPkg.getPeftModel(
    model,
    peftPkg.loraConfig({ r: LORA.r, loraAlpha: LORA.alpha, loraDropout: 0, targetModules: LORA.targets }),
  );
  const memPeft = memorySnapshot('LoRA injected');
  const batches = makeBatches(2, spec.batch, spec.seq, config.vocabSize, 7);
  const tokensPerStep = spec.batch * spec.seq;
  // wasm's heap (tfjs-backend-wasm: one 32-bit address space) runs out during W2's backward at
  // batch 4 × seq 256 without recomputation ("Aborted()" in registerTensor): `auto` turns on
  // gradient checkpointing for W2/W3 on wasm — and for torch too, so both do the same work.
  const gcArg = args['gradient-checkpointing'];
  const gc = gcArg === 'on' || (gcArg === 'auto' && backend.name === 'wasm' && spec.id !== 'W1');

  const t0 = performance.now();
  const reports = await trainSteps(peft, batches, warmup + steps, gc);
  const wallS = (performance.now() - t0) / 1000;
  const measured = reports.slice(warmup);
  const stepSeconds = measured.map((r) => r.tokens / r.tokensPerSecond);
  const tokensPerS = tokensPerStep / median(stepSeconds);
  const cpuTokensPerS = tokensPerStep / median(measured.map((r) => r.cpuSeconds));
  const losses = reports.map((r) => r.loss);

  // Forward (+ loss) alone, to split forward from backward + optimizer.
  const forwardMs = [];
  for (let i = 0; i < 2; i++) {
    const b = batches[i % batches.length];
    const start = performance.now();
    const loss = tf.tidy(() => trainPkg.causalLmLoss(peft.forward(tf.tensor2d(b.inputIds, b.shape, 'int32')), b.labels));
    await loss.data();
    loss.dispose();
    forwardMs.push(performance.now() - start);
  }

  // The optimizer update alone (AdamW over the LoRA variables; zero gradients leave them unchanged).
  const variables = peft.trainableVariables();
  const optimizer = new trainPkg.AdamW(variables, { weightDecay: 0 });
  const zeroGrads = Object.fromEntries(variables.map((v) => [v.name, tf.zerosLike(v)]));
  const optimizerMs = [];
  for (let i = 0; i < 3; i++) {
    const start = performance.now();
    optimizer.applyGradients(zeroGrads, LR);
    await variables[0].data();
    if (i > 0) optimizerMs.push(performance.now() - start);
  }
  optimizer.dispose();
  tf.dispose(Object.values(zeroGrads));

  let profile = null;
  let peakEngineBytes = null;
  if (profileOn) {
    const info = await tf.profile(async () => {
      await trainSteps(peft, batches.slice(0, 1), 1, gc);
    });
    profile = topKernels(info, 10);
    peakEngineBytes = info.peakBytes;
  }
  // Before the breakdown's extra steps (one of them with the full logits).
  const maxRssBytes = process.resourceUsage().maxRSS * 1024;
  const breakdown = args['memory-breakdown']
    ? await memoryBreakdown({ spec, config, peft, batches, gc, snapshots: [memLoadStart, memLoaded, memPeft] })
    : null;

  const flops = loraTrainFlopsPerToken(config, spec.seq, LORA.r, LORA.targets);
  const row = {
    id: spec.id,
    name: spec.name,
    seq: spec.seq,
    batch: spec.batch,
    quant: spec.quant ?? null,
    gradientCheckpointing: gc,
    config: hfLlamaConfig(config),
    tokensPerStep,
    lora: {
      tokensPerS,
      stepSeconds,
      cpuTokensPerS,
      forwardSeconds: median(forwardMs) / 1000,
      optimizerSeconds: median(optimizerMs) / 1000,
      backwardSeconds: median(stepSeconds) - median(forwardMs) / 1000 - median(optimizerMs) / 1000,
      trainableParams: peft.trainableVariables().reduce((n, v) => n + v.size, 0),
      losses,
      wallSeconds: wallS,
      bytesPerParam,
      // tfjs engine bytes at the peak of one profiled step (weights, optimizer state, activations).
      peakEngineBytes,
      // Process-wide peak RSS so far: the workload's own when it is the only one run (`--only W6`).
      maxRssBytes,
      lossChunkSize,
      memoryBreakdown: breakdown,
      achievedGflops: (tokensPerS * flops.total) / 1e9,
      profile,
    },
    flopsPerToken: flops,
    batches,
  };
  rows.push(row);
  console.error(
    `[train-sft] ${spec.id} @lora ${backend.name}: ${fmt(tokensPerS)} tok/s (median of ${steps} steps, ${stepSeconds.map((s) => s.toFixed(2)).join(' ')} s) losses ${losses.map((l) => l.toFixed(3)).join(' ')}`,
  );
  peft.dispose();
}

// ---- reference: PyTorch + PEFT (+ bitsandbytes), same shapes, batches, LoRA config, steps
let reference = null;
let referenceNote = ref.skipped ?? '';
if (ref.python && rows.length > 0) {
  try {
    reference = runPython(ref.python, 'train_sft_torch.py', {
      threads: torchThreads,
      matmul_sizes: [256, 512, 1024, 2048],
      workloads: rows.map((r) => ({
        name: r.id,
        config: r.config,
        quant: r.quant,
        gradient_checkpointing: r.gradientCheckpointing,
        lora: LORA,
        lr: LR,
        warmup,
        steps,
        batches: r.batches.map((b) =>
          Array.from({ length: b.shape[0] }, (_, i) => Array.from(b.inputIds.subarray(i * b.shape[1], (i + 1) * b.shape[1]))),
        ),
      })),
    });
  } catch (error) {
    referenceNote = error.message;
  }
}

const machine = { ...machineBefore, loadavgAfter: machineInfo().loadavg };
const machinePeak = Math.max(ourPeak.gflops, ...Object.values(reference?.matmul_peak ?? {}).map((p) => p.gflops));
const out = [];
for (const r of rows) {
  const refs = (reference?.results ?? []).filter((x) => x.name === r.id);
  const same = refs.find((x) => x.threads === ourThreads);
  const all = refs.find((x) => x.threads === availableParallelism() && x.threads !== ourThreads);
  const torchPeakSame = reference?.matmul_peak?.[String(ourThreads)]?.gflops;
  const achieved = r.lora.achievedGflops;
  out.push({
    id: r.id,
    name: r.name,
    seq: r.seq,
    batch: r.batch,
    quant: r.quant,
    gradientCheckpointing: r.gradientCheckpointing,
    config: r.config,
    flopsPerToken: r.flopsPerToken,
    lora: r.lora,
    torch: refs,
    ratio: same?.tokens_per_s ? r.lora.tokensPerS / same.tokens_per_s : null,
    ratioAllCores: all?.tokens_per_s ? r.lora.tokensPerS / all.tokens_per_s : null,
    cpuTimeRatio: ourThreads === 1 && same?.cpu_tokens_per_s ? r.lora.cpuTokensPerS / same.cpu_tokens_per_s : null,
    mfu: {
      machinePeakGflops: machinePeak,
      ours: achieved / machinePeak,
      oursVsOwnBackendPeak: achieved / ourPeak.gflops,
      oursVsTorchPeakSameThreads: torchPeakSame ? achieved / torchPeakSame : null,
      torchSameThreads: same?.tokens_per_s && torchPeakSame ? (same.tokens_per_s * r.flopsPerToken.total) / 1e9 / torchPeakSame : null,
    },
  });
}

// ---- print
console.log(
  `LoRA SFT (W1–W3): r ${LORA.r}, alpha ${LORA.alpha}, targets ${LORA.targets.join(',')}; AdamW lr ${LR}; tokens/s = batch·seq / median step time (${steps} steps after ${warmup} warm-up)`,
);
console.log(
  `machine: ${machine.cpu}, ${machine.cores} cores, load average ${machine.loadavg.join(' ')} → ${machine.loadavgAfter.join(' ')} (shared machine: other jobs run too)`,
);
console.log(`@lora backend ${backend.name} (${ourThreads} thread${ourThreads > 1 ? 's' : ''}); ${reference ? ref.summary : referenceNote}`);
console.log(
  `fp32 matmul peak: @lora ${backend.name} ${fmt(ourPeak.gflops)} GFLOP/s` +
    (reference
      ? Object.entries(reference.matmul_peak)
          .map(([t, p]) => `; torch ${t} thread(s) ${fmt(p.gflops)} GFLOP/s`)
          .join('')
      : '') +
    ` → machine peak ${fmt(machinePeak)} GFLOP/s`,
);
const head = [
  'workload',
  '@lora tok/s',
  `torch ${ourThreads}t tok/s`,
  'ratio',
  ...(torchThreads.includes(availableParallelism()) && availableParallelism() !== ourThreads
    ? [`torch ${availableParallelism()}t`, 'ratio']
    : []),
  'MFU',
  'MFU torch',
];
console.log(head.map((h, i) => (i === 0 ? h.padEnd(32) : h.padStart(13))).join(''));
for (const o of out) {
  const same = o.torch.find((x) => x.threads === ourThreads);
  const all = o.torch.find((x) => x.threads === availableParallelism() && x.threads !== ourThreads);
  const cells = [
    `${o.id} ${o.name}${o.gradientCheckpointing ? ' +GC' : ''}`.padEnd(32),
    fmt(o.lora.tokensPerS),
    same?.error ? 'error' : fmt(same?.tokens_per_s),
    fmt(o.ratio, 2),
    ...(head.length > 6 ? [all?.error ? 'error' : fmt(all?.tokens_per_s), fmt(o.ratioAllCores, 2)] : []),
    `${fmt(100 * o.mfu.ours)}%`,
    o.mfu.torchSameThreads === null ? 'n/a' : `${fmt(100 * o.mfu.torchSameThreads)}%`,
  ];
  console.log(cells.map((c, i) => (i === 0 ? c : c.padStart(13))).join(''));
  for (const t of o.torch.filter((x) => x.error)) console.log(`  torch ${t.threads}t: ${t.error}`);
}
for (const o of out) {
  const same = o.torch.find((x) => x.threads === ourThreads && !x.error);
  console.log(
    `${o.id}: per CPU-second (contention-robust) @lora ${fmt(o.lora.cpuTokensPerS)} tok/s` +
      (same ? ` vs torch ${ourThreads}t ${fmt(same.cpu_tokens_per_s)} → ratio ${fmt(o.cpuTimeRatio, 2)}` : '') +
      `; ${fmt(o.flopsPerToken.total / 1e6)} MFLOP/token → @lora ${fmt(o.lora.achievedGflops, 2)} GFLOP/s ` +
      `(${fmt(100 * o.mfu.oursVsOwnBackendPeak)}% of its own matMul peak); @lora forward ${fmt(o.lora.forwardSeconds, 2)} s / backward (rest of the step) ${fmt(o.lora.backwardSeconds, 2)} s / optimizer ${fmt(o.lora.optimizerSeconds, 3)} s` +
      (same
        ? `; torch ${ourThreads}t forward ${fmt(same.forward_s, 2)} s / backward ${fmt(same.backward_s, 2)} s / optimizer ${fmt(same.optimizer_s, 3)} s`
        : '') +
      (o.lora.bytesPerParam !== null
        ? `; NF4+DQ resident ${fmt(o.lora.bytesPerParam, 4)} B/param (bnb ${fmt(same?.bytes_per_param, 4)})`
        : ''),
  );
  if (o.lora.maxRssBytes !== undefined) {
    const gib = (b) => (b === null || b === undefined ? 'n/a' : `${fmt(b / 2 ** 30, 2)} GiB`);
    const rssRatio = same?.max_rss_bytes ? o.lora.maxRssBytes / same.max_rss_bytes : null;
    console.log(
      `  memory: @lora peak RSS ${gib(o.lora.maxRssBytes)} (tf engine peak ${gib(o.lora.peakEngineBytes)}) vs torch ${ourThreads}t peak RSS ${gib(same?.max_rss_bytes)}` +
        ` → rss ratio ${fmt(rssRatio, 2)} (process-wide peaks: exact for a run of one workload, e.g. --only ${o.id} --torch-threads ${ourThreads})`,
    );
  }
  if (o.lora.memoryBreakdown) printBreakdown(o.id, o.lora.memoryBreakdown);
  if (o.lora.profile) {
    console.log(
      `  top kernels (one step, tf.profile, ${fmt(o.lora.profile.totalMs / 1000, 2)} s of kernels): ` +
        o.lora.profile.top.map((k) => `${k.name} ${fmt(100 * k.share)}% (${k.calls}×)`).join(', '),
    );
  }
}

const result = {
  benchmark: 'train-sft',
  date: new Date().toISOString(),
  machine,
  backend: backend.name,
  ourThreads,
  torchThreads,
  settings: { lora: LORA, lr: LR, steps, warmup, optimizer: 'adamw', maxGradNorm: 1 },
  matmulPeak: { ours: ourPeak, torch: reference?.matmul_peak ?? null, machine: machinePeak },
  reference: reference ? referenceJson(ref) : { skipped: referenceNote },
  workloads: out,
};
if (args.json) writeFileIn(args.json, result);
else writeResult('train-sft.json', result);
