#!/usr/bin/env node
// Nf4Linear dequantization per layer: the native LoraNf4Dequantize kernel (lora_ops.node,
// tools/tfjs-node/ops/nf4.cc) against the tfjs ops path (byte planes, GatherNd, multiplies), on the
// seven linear shapes of a SmolLM2-135M decoder layer (NF4 + double quant, blocksize 64, as W8).
// Checks that both give the same bits, prints the median ms per layer shape and the total for the
// 210 linears, which W8 dequantizes twice per step (forward and gradient).
//
//   pnpm build && pnpm setup:tensorflow && node bench/nf4-dequant.mjs [--reps 20] [--json out.json]
//
// Runs on the tensorflow backend (the kernel exists only there). Uses the BUILT packages.
import { writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { parseArgs } from './args.mjs';
import { importBuilt, importTf } from './common.mjs';

const { values: args } = parseArgs({ options: { reps: { type: 'string', default: '20' }, json: { type: 'string' } } });
const reps = Number(args.reps);
const models = await importBuilt('models');
const quant = await importBuilt('quant');
const { Rng } = await importBuilt('core');
const tf = await importTf();
await models.selectBackend({ backend: 'tensorflow' });
if (tf.getKernel(models.NF4_DEQUANTIZE, 'tensorflow') === undefined) {
  console.error(
    `nf4-dequant: ${models.NF4_DEQUANTIZE} is not registered (lora_ops.node not built, or LORA_NATIVE_OPS=0; pnpm setup:tensorflow builds it)`,
  );
  process.exit(1);
}

// [name, out, in, count per decoder layer]; SmolLM2-135M has 30 layers.
const SHAPES = [
  ['q_proj / o_proj', 576, 576, 2],
  ['k_proj / v_proj', 192, 576, 2],
  ['gate_proj / up_proj', 1536, 576, 2],
  ['down_proj', 576, 1536, 1],
];
const LAYERS = 30;

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

function time(fn) {
  for (let i = 0; i < 3; i++) fn().dispose();
  const ms = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    fn().dispose();
    ms.push(performance.now() - t0);
  }
  return median(ms);
}

const rng = new Rng(1);
const rows = [];
let opsStep = 0;
let nativeStep = 0;
for (const [name, out, inF, count] of SHAPES) {
  const weight = Float32Array.from({ length: out * inF }, () => 0.02 * rng.normal());
  const layer = quant.Nf4Linear.quantize(weight, out, inF, { quantType: 'nf4', blocksize: 64, doubleQuant: true });
  const a = layer.dequantizeTorchLayout();
  const b = layer.dequantizeWithOps();
  const same = Buffer.compare(Buffer.from(a.dataSync().buffer), Buffer.from(b.dataSync().buffer)) === 0;
  tf.dispose([a, b]);
  if (!same) throw new Error(`${name}: the native kernel and the tfjs ops differ`);
  const ops = time(() => layer.dequantizeWithOps());
  const native = time(() => layer.dequantizeTorchLayout());
  layer.dispose();
  opsStep += 2 * LAYERS * count * ops;
  nativeStep += 2 * LAYERS * count * native;
  rows.push({ name, shape: [out, inF], opsMs: ops, nativeMs: native, speedup: ops / native });
}

console.log(
  `tensorflow backend, NF4 + DQ blocksize 64, median of ${reps}; load average ${loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')}`,
);
console.log('| layer | [out, in] | tfjs ops ms | native ms | × |');
console.log('|---|---|---|---|---|');
for (const r of rows)
  console.log(`| ${r.name} | [${r.shape.join(', ')}] | ${r.opsMs.toFixed(3)} | ${r.nativeMs.toFixed(3)} | ${r.speedup.toFixed(1)} |`);
console.log(
  `| 210 linears × 2 (one W8 step) | | ${opsStep.toFixed(0)} | ${nativeStep.toFixed(0)} | ${(opsStep / nativeStep).toFixed(1)} |`,
);
if (args.json !== undefined)
  writeFileSync(args.json, `${JSON.stringify({ reps, loadavg: loadavg(), rows, opsStep, nativeStep }, null, 2)}\n`);
