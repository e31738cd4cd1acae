#!/usr/bin/env node
// `pnpm bench`: runs the fixed workloads of DESIGN.md "Benchmarks" side by side with the PyTorch
// (+ PEFT, + bitsandbytes, transformers) reference on this machine and prints ONE table —
// workload, @lora, reference, unit, ratio (@lora ÷ reference; ≥ 1 means @lora is at least as
// fast), MFU — then writes bench/results/bench.json and bench/results/bench.svg (ratio bars).
//   W1  LoRA SFT stories260K (seq 256, batch 8)            bench/train-sft.mjs
//   W2  LoRA SFT random Llama d512 L8 ffn1376 v8192 (256×4) bench/train-sft.mjs
//   W3  W2 with an NF4 + double-quant base (+ bytes/param)   bench/train-sft.mjs
//   W4  greedy decode, 128 new tokens, KV cache              bench/decode.mjs
//   W5  multiple-choice scoring, 200 questions × 4 options   bench/mc-score.mjs
//
//   pnpm build && LORA_ASSETS_DIR=$PWD/../shared pnpm bench [--only W1,W4] [--quick]
//
// Env: LORA_BACKEND (tfjs backend, default automatic), LORA_BENCH_PYTHON (reference Python,
// default /opt/parity/bin/python; `none` skips the reference), LORA_ASSETS_DIR (stories260K).
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { fmt, forwardFlopsPerToken, machineInfo, root, writeResult } from './common.mjs';

const { values: args } = parseArgs({
  options: {
    only: { type: 'string', default: 'W1,W2,W3,W4,W5' },
    quick: { type: 'boolean', default: false },
  },
});
const only = new Set(args.only.split(',').map((s) => s.trim().toUpperCase()));
const quick = args.quick;
const results = join(root, 'bench', 'results');
const started = performance.now();
const machineStart = machineInfo();
if (process.env.LORA_ASSETS_DIR === undefined)
  console.error('bench: LORA_ASSETS_DIR is unset: W1 and W4 stories260K are skipped (point it at ../shared).');

/** Runs `node bench/<script> ...argv` with live output; returns the parsed JSON it wrote to `jsonFile` (or null). */
function runScript(script, argv, jsonFile) {
  rmSync(jsonFile, { force: true });
  console.error(`\n== node bench/${script} ${argv.join(' ')}`);
  const t0 = performance.now();
  const child = spawnSync(process.execPath, [join(root, 'bench', script), ...argv], {
    cwd: root,
    stdio: ['ignore', 'inherit', 'inherit'],
    env: process.env,
  });
  const seconds = (performance.now() - t0) / 1000;
  console.error(`== bench/${script}: exit ${child.status} after ${seconds.toFixed(0)} s`);
  if (!existsSync(jsonFile)) return null;
  return JSON.parse(readFileSync(jsonFile, 'utf8'));
}

const rows = [];
const raw = {};
let machinePeak = null;

// ---- W1–W3: LoRA / QLoRA SFT
const sft = ['W1', 'W2', 'W3'].filter((w) => only.has(w));
if (sft.length > 0) {
  const file = join(results, 'train-sft.json');
  const r = runScript('train-sft.mjs', ['--only', sft.join(','), ...(quick ? ['--steps', '2'] : []), '--json', file], file);
  raw.trainSft = r;
  if (r !== null) {
    machinePeak = r.matmulPeak.machine;
    for (const w of r.workloads) {
      const same = w.torch.find((t) => t.threads === r.ourThreads && !t.error);
      const all = w.torch.find((t) => t.threads !== r.ourThreads && !t.error);
      rows.push({
        workload: `${w.id} ${w.name}`,
        ours: w.lora.tokensPerS,
        reference: same?.tokens_per_s ?? null,
        referenceThreads: same?.threads ?? null,
        referenceAllCores: all?.tokens_per_s ?? null,
        unit: 'tok/s',
        ratio: w.ratio,
        ratioAllCores: w.ratioAllCores,
        cpuTimeRatio: w.cpuTimeRatio,
        mfu: w.mfu.ours,
        note: w.torch.find((t) => t.error)?.error,
      });
      if (w.lora.bytesPerParam !== null) {
        const bnb = same?.bytes_per_param ?? all?.bytes_per_param ?? null;
        rows.push({
          workload: `${w.id} NF4+DQ resident memory`,
          ours: w.lora.bytesPerParam,
          reference: bnb,
          unit: 'B/param',
          // Less is better: reference ÷ ours, so ≥ 1 still means @lora is at least as good.
          ratio: bnb === null ? null : bnb / w.lora.bytesPerParam,
          mfu: null,
          lowerIsBetter: true,
        });
      }
    }
  }
}

// ---- W4: greedy decode (bench/decode.mjs, owned by the decoder's engineer)
if (only.has('W4')) {
  const file = join(results, 'decode.json');
  const r = runScript('decode.mjs', quick ? ['--runs', '1'] : [], file);
  raw.decode = r;
  if (r !== null) {
    for (const w of r.workloads) {
      const c = w.config;
      // Decode FLOPs per token: 2·(linears + lm_head) + attention over the mean context (prompt + 64).
      const flops = forwardFlopsPerToken(
        {
          hiddenSize: c.hidden_size,
          intermediateSize: c.intermediate_size,
          numHiddenLayers: c.num_hidden_layers,
          numAttentionHeads: c.num_attention_heads,
          numKeyValueHeads: c.num_key_value_heads,
          headDim: c.head_dim ?? c.hidden_size / c.num_attention_heads,
          vocabSize: c.vocab_size,
        },
        r.settings.promptTokens + r.settings.newTokens / 2,
      );
      rows.push({
        workload: `W4 decode ${w.name}`,
        ours: w.lora.tokensPerS,
        reference: w.transformers?.tokens_per_s ?? null,
        referenceThreads: r.reference.threads ?? null,
        unit: 'tok/s',
        ratio: w.ratio,
        cpuTimeRatio: w.cpuRatio ?? null,
        mfu: machinePeak ? (w.lora.tokensPerS * flops) / 1e9 / machinePeak : null,
      });
    }
  }
}

// ---- W5: multiple-choice scoring
if (only.has('W5')) {
  const file = join(results, 'mc-score.json');
  const r = runScript('mc-score.mjs', [...(quick ? ['--questions', '50'] : []), '--json', file], file);
  raw.mcScore = r;
  if (r !== null) {
    const same = r.torch.find((t) => t.threads === r.ourThreads);
    const all = r.torch.find((t) => t.threads !== r.ourThreads);
    rows.push({
      workload: `W5 MC scoring ${r.settings.questions}q×4`,
      ours: r.lora.questionsPerS,
      reference: same?.questionsPerS ?? null,
      referenceThreads: same?.threads ?? null,
      referenceAllCores: all?.questionsPerS ?? null,
      unit: 'questions/s',
      ratio: r.ratio,
      ratioAllCores: r.ratioAllCores,
      cpuTimeRatio: r.cpuTimeRatio,
      mfu: machinePeak ? r.lora.gflops / machinePeak : null,
    });
  }
}

// ---- the table
const machineEnd = machineInfo();
const backend = raw.trainSft?.backend ?? raw.mcScore?.backend ?? raw.decode?.backend ?? 'n/a';
const ref = raw.trainSft?.reference ?? raw.mcScore?.reference ?? raw.decode?.reference ?? {};
console.log('');
console.log(`@lora bench — ${new Date().toISOString()} — ${machineStart.cpu}, ${machineStart.cores} cores, Node ${machineStart.node}`);
console.log(
  `load average at start ${machineStart.loadavg.join(' ')}, at end ${machineEnd.loadavg.join(' ')} (1/5/15 min; a shared machine: other jobs compete for the cores)`,
);
console.log(
  `@lora backend: ${backend}; reference: ${ref.skipped ?? `torch ${ref.torch ?? '?'}${ref.transformers ? `, transformers ${ref.transformers}` : ''}${ref.peft ? `, peft ${ref.peft}` : ''}${ref.bitsandbytes ? `, bitsandbytes ${ref.bitsandbytes}` : ''}`}`,
);
if (machinePeak)
  console.log(`machine fp32 matmul peak (best of @lora and torch, sizes 256–2048, measured in this run): ${fmt(machinePeak)} GFLOP/s`);
const header = ['workload', '@lora', 'reference', 'unit', 'ratio', 'ratio CPU-s', 'ref all cores', 'ratio', 'MFU'];
const widths = [34, 10, 11, 12, 7, 12, 14, 7, 7];
const line = (cells) => cells.map((c, i) => (i === 0 ? String(c).padEnd(widths[i]) : String(c).padStart(widths[i]))).join(' ');
console.log(line(header));
for (const r of rows) {
  const digits = r.unit === 'B/param' ? 3 : r.unit === 'questions/s' ? 2 : 1;
  console.log(
    line([
      r.workload,
      fmt(r.ours, digits),
      r.reference === null ? 'n/a' : `${fmt(r.reference, digits)}${r.referenceThreads ? ` ${r.referenceThreads}t` : ''}`.trim(),
      r.unit,
      fmt(r.ratio, 2),
      fmt(r.cpuTimeRatio, 2),
      fmt(r.referenceAllCores, digits),
      fmt(r.ratioAllCores, 2),
      r.mfu === null || r.mfu === undefined ? '' : `${fmt(100 * r.mfu)}%`,
    ]),
  );
  if (r.note) console.log(`  ${r.note}`);
}
console.log(
  'ratio = @lora ÷ reference at the same thread count (B/param: reference ÷ @lora); ratio CPU-s = the same per CPU-second of each process (robust to the machine load, 1-thread runs only);',
);
console.log(
  `MFU = model FLOP/s ÷ machine peak (formula in bench/common.mjs loraTrainFlopsPerToken). Total ${((performance.now() - started) / 60000).toFixed(1)} min.`,
);

const summary = {
  date: new Date().toISOString(),
  machine: { ...machineStart, loadavgEnd: machineEnd.loadavg },
  backend,
  reference: ref,
  machinePeakGflops: machinePeak,
  quick,
  minutes: (performance.now() - started) / 60000,
  rows,
  raw,
};
writeResult('bench.json', summary);
writeResult('bench.svg', ratioChart(rows.filter((r) => r.ratio !== null && r.ratio !== undefined)));
console.log(`wrote bench/results/bench.json and bench/results/bench.svg`);

/** A horizontal bar chart of the ratios (log-free, with the 1.0 parity line). */
function ratioChart(items) {
  const esc = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
  const barH = 22;
  const gap = 10;
  const left = 260;
  const width = 760;
  const plotW = width - left - 70;
  const top = 40;
  const max = Math.max(1.2, ...items.map((r) => Math.max(r.ratio, r.cpuTimeRatio ?? 0))) * 1.05;
  const x = (v) => left + (plotW * v) / max;
  const height = top + items.length * (barH + gap) + 40;
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${left}" y="20" font-size="14" font-weight="bold">@lora ÷ reference (same threads; ≥ 1 is the goal) — backend ${esc(backend)}</text>`,
  ];
  items.forEach((r, i) => {
    const y = top + i * (barH + gap);
    const color = r.ratio >= 1 ? '#2e7d32' : '#c62828';
    parts.push(`<text x="${left - 8}" y="${y + barH * 0.7}" text-anchor="end">${esc(r.workload)}</text>`);
    parts.push(
      `<rect x="${left}" y="${y}" width="${Math.max(1, x(r.ratio) - left)}" height="${r.cpuTimeRatio ? barH * 0.6 : barH}" fill="${color}"/>`,
    );
    if (r.cpuTimeRatio)
      parts.push(
        `<rect x="${left}" y="${y + barH * 0.62}" width="${Math.max(1, x(r.cpuTimeRatio) - left)}" height="${barH * 0.38}" fill="${color}" opacity="0.45"/>`,
      );
    parts.push(
      `<text x="${x(Math.max(r.ratio, r.cpuTimeRatio ?? 0)) + 6}" y="${y + barH * 0.7}">${r.ratio.toFixed(2)}${r.cpuTimeRatio ? ` (CPU-s ${r.cpuTimeRatio.toFixed(2)})` : ''}</text>`,
    );
  });
  const bottom = top + items.length * (barH + gap);
  parts.push(`<line x1="${x(1)}" y1="${top - 6}" x2="${x(1)}" y2="${bottom}" stroke="#333" stroke-dasharray="4 3"/>`);
  parts.push(`<text x="${x(1)}" y="${bottom + 16}" text-anchor="middle">1.0</text>`);
  parts.push(`<line x1="${left}" y1="${top - 6}" x2="${left}" y2="${bottom}" stroke="#333"/>`);
  parts.push(`<text x="${left}" y="${bottom + 16}" text-anchor="middle">0</text>`);
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}
