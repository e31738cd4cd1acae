#!/usr/bin/env node
// `pnpm bench`: runs the fixed workloads of bench/README.md side by side with the PyTorch
// (+ PEFT, + bitsandbytes, transformers) reference on this machine and prints ONE table —
// workload, @lora, reference, unit, ratio (@lora ÷ reference; ≥ 1 means @lora is at least as
// fast), MFU — then writes bench/results/bench.json and bench/results/bench.svg (ratio bars).
//   W1  LoRA SFT stories260K (seq 256, batch 8)            bench/train-sft.mjs
//   W2  LoRA SFT random Llama d512 L8 ffn1376 v8192 (256×4) bench/train-sft.mjs
//   W3  W2 with an NF4 + double-quant base (+ bytes/param)   bench/train-sft.mjs
//   W4  greedy decode, 128 new tokens, KV cache              bench/decode.mjs
//   W5  multiple-choice scoring, 200 questions × 4 options   bench/mc-score.mjs
//   W6  LoRA SFT SmolLM2-135M-Instruct (seq 96, batch 4) + peak RSS   bench/train-sft.mjs (--only W6)
//   W8  W6 with an NF4 + double-quant base (QLoRA)           bench/train-sft.mjs (--only W8)
//   W7  SmolLM2-135M decode, batch 1 and 8, + llama.cpp    bench/decode.mjs --only smollm2
//       (opt-in: --only W7; needs LORA_ASSETS_DIR, and bench:setup --llama-cpp for the anchor)
//   W6, W7 and W8 read SmolLM2 from LORA_ASSETS_DIR and are not in the default set: --only W6,W7,W8
//
//   pnpm bench:setup    # once: the reference environment bench/.venv (bench/requirements.txt)
//   pnpm build && LORA_ASSETS_DIR=$PWD/../shared pnpm bench [--only W1,W4] [--quick] [--repeat 3]
//     [--reference-any]
//
// --repeat N runs each workload script N times in a row; every run is @lora then the reference
// (A/B/A/B…), and the table shows the median of the N per-run ratios with their min–max.
// Env: LORA_BACKEND (tfjs backend, default automatic), LORA_BENCH_PYTHON (reference Python, default
// bench/.venv/bin/python; `none` skips the reference; one whose versions differ from
// bench/requirements.txt is refused unless --reference-any or LORA_BENCH_REFERENCE=any),
// LORA_ASSETS_DIR (stories260K).
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from './args.mjs';
import { fmt, forwardFlopsPerToken, machineInfo, root, writeResult } from './common.mjs';
import { resolveReferenceOrExit } from './reference.mjs';
import { ratioChart } from './chart.mjs';
import { aggregateRuns, ratioLine, runLine, unitDigits } from './repeat.mjs';
import { w7Rows } from './w7.mjs';

const { values: args } = parseArgs({
  options: {
    only: { type: 'string', default: 'W1,W2,W3,W4,W5' },
    quick: { type: 'boolean', default: false },
    repeat: { type: 'string', default: '1' },
    'reference-any': { type: 'boolean', default: false },
  },
});
const only = new Set(args.only.split(',').map((s) => s.trim().toUpperCase()));
const quick = args.quick;
const repeat = Number(args.repeat);
if (!Number.isInteger(repeat) || repeat < 1) {
  console.error(`bench: --repeat takes a whole number ≥ 1, got \`${args.repeat}\``);
  process.exit(2);
}
// Refuse an unknown reference before any workload runs; the scripts check again (same answer).
const reference = resolveReferenceOrExit({ any: args['reference-any'] });
if (args['reference-any']) process.env.LORA_BENCH_REFERENCE = 'any';
const results = join(root, 'bench', 'results');
const started = performance.now();
const machineStart = machineInfo();
console.error(`bench: ${reference.summary ?? reference.skipped}`);
if (process.env.LORA_ASSETS_DIR === undefined)
  console.error('bench: LORA_ASSETS_DIR is unset: W1 and W4 stories260K are skipped (point it at ../shared).');
const failures = [];

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
  if (child.status !== 0 || !existsSync(jsonFile)) failures.push(`bench/${script} ${argv.join(' ')} (exit ${child.status})`);
  if (!existsSync(jsonFile)) return null;
  return JSON.parse(readFileSync(jsonFile, 'utf8'));
}

// runs[i]: the table rows of run i; raw[script]: each run's JSON.
const runs = Array.from({ length: repeat }, () => []);
const raw = {};
let machinePeak = null;

/**
 * Runs one workload script `repeat` times (each run A then B), collecting `toRows(json)` per run;
 * each run's JSON is bench/results/<name>.json, or <name>-run<i>.json when repeated (name: the
 * script's, or e.g. train-sft-W6 for a workload run in its own process).
 */
function repeated(key, script, argv, toRows, name = script.replace(/\.mjs$/, '')) {
  raw[key] = [];
  for (let i = 0; i < repeat; i++) {
    const file = join(results, repeat > 1 ? `${name}-run${i + 1}.json` : `${name}.json`);
    // One kernel profile is enough: later runs skip it (it runs after the timing anyway).
    const extra = i > 0 && script === 'train-sft.mjs' ? ['--no-profile'] : [];
    if (repeat > 1) console.error(`\n== run ${i + 1}/${repeat}`);
    const r = runScript(script, [...argv, ...extra, '--json', file], file);
    raw[key].push(r);
    if (r === null) continue;
    const rows = toRows(r);
    runs[i].push(...rows);
    for (const row of rows) console.error(runLine(row, i, repeat));
  }
}

/** Table rows of one train-sft.mjs JSON: tokens/s, NF4 bytes/param (W3, W8), peak RSS (W6, W8: one workload per process). */
function sftRows(r) {
  machinePeak = Math.max(machinePeak ?? 0, r.matmulPeak.machine);
  const rows = [];
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
    const torchRss = same?.max_rss_bytes ?? null;
    if (r.workloads.length === 1 && (w.id === 'W6' || w.id === 'W8') && w.lora.maxRssBytes !== undefined) {
      rows.push({
        workload: `${w.id} peak RSS`,
        ours: w.lora.maxRssBytes / 2 ** 30,
        reference: torchRss === null ? null : torchRss / 2 ** 30,
        referenceThreads: same?.threads ?? null,
        unit: 'GiB',
        // Less is better: reference ÷ ours, so ≥ 1 means @lora peaks at most as high.
        ratio: torchRss === null ? null : torchRss / w.lora.maxRssBytes,
        mfu: null,
        lowerIsBetter: true,
      });
    }
  }
  return rows;
}

// ---- W1–W3: LoRA / QLoRA SFT
const sft = ['W1', 'W2', 'W3'].filter((w) => only.has(w));
if (sft.length > 0) {
  repeated('trainSft', 'train-sft.mjs', ['--only', sft.join(','), ...(quick ? ['--steps', '2'] : [])], sftRows);
}

// ---- W6, W8: SmolLM2-135M LoRA / QLoRA SFT, one process each (its peak RSS is the workload's own)
for (const id of ['W6', 'W8'].filter((w) => only.has(w))) {
  repeated(`trainSft${id}`, 'train-sft.mjs', ['--only', id, ...(quick ? ['--steps', '2'] : [])], sftRows, `train-sft-${id}`);
}

// ---- W4: greedy decode (bench/decode.mjs, owned by the decoder's engineer)
if (only.has('W4')) {
  repeated('decode', 'decode.mjs', quick ? ['--runs', '1'] : [], (r) => {
    const rows = [];
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
    return rows;
  });
}

// ---- W5: multiple-choice scoring
if (only.has('W5')) {
  repeated('mcScore', 'mc-score.mjs', quick ? ['--questions', '50'] : [], (r) => {
    const same = r.torch.find((t) => t.threads === r.ourThreads);
    const all = r.torch.find((t) => t.threads !== r.ourThreads);
    return [
      {
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
      },
    ];
  });
}
// ---- W7: SmolLM2-135M-Instruct decode, batch 1 and 8, against transformers and llama.cpp (opt-in)
if (only.has('W7')) {
  repeated('decodeSmolLm2', 'decode.mjs', ['--only', 'smollm2', ...(quick ? ['--runs', '1'] : [])], (r) => w7Rows(r), 'decode-smollm2');
}
const rows = aggregateRuns(runs);

// ---- the table
const machineEnd = machineInfo();
const firstRun = (key) => raw[key]?.find((r) => r !== null);
const backend =
  firstRun('trainSft')?.backend ??
  firstRun('trainSftW6')?.backend ??
  firstRun('trainSftW8')?.backend ??
  firstRun('mcScore')?.backend ??
  firstRun('decode')?.backend ??
  firstRun('decodeSmolLm2')?.backend ??
  'n/a';
console.log('');
console.log(`@lora bench — ${new Date().toISOString()} — ${machineStart.cpu}, ${machineStart.cores} cores, Node ${machineStart.node}`);
console.log(
  `load average at start ${machineStart.loadavg.join(' ')}, at end ${machineEnd.loadavg.join(' ')} (1/5/15 min; a shared machine: other jobs compete for the cores)`,
);
console.log(`@lora backend: ${backend}; ${reference.summary ?? reference.skipped}`);
console.log(
  repeat > 1
    ? `${repeat} runs per workload, each @lora then reference (A/B/A/B…); numbers are medians, ratio = median of the per-run ratios [min–max]`
    : 'one run per workload: no spread — use --repeat 3 or more before quoting a ratio',
);
if (machinePeak)
  console.log(`machine fp32 matmul peak (best of @lora and torch, sizes 256–2048, measured in this run): ${fmt(machinePeak)} GFLOP/s`);
const header = ['workload', '@lora', 'reference', 'unit', 'ratio', 'min–max', 'ratio CPU-s', 'ref all cores', 'ratio', 'MFU'];
const widths = [34, 10, 11, 12, 7, 11, 12, 14, 7, 7];
const line = (cells) => cells.map((c, i) => (i === 0 ? String(c).padEnd(widths[i]) : String(c).padStart(widths[i]))).join(' ');
console.log(line(header));
for (const r of rows) {
  const digits = unitDigits(r.unit);
  const s = r.ratioSummary;
  console.log(
    line([
      r.workload,
      fmt(r.ours, digits),
      r.reference === null ? 'n/a' : `${fmt(r.reference, digits)}${r.referenceThreads ? ` ${r.referenceThreads}t` : ''}`.trim(),
      r.unit,
      fmt(r.ratio, 2),
      s && s.n > 1 ? `${fmt(s.min, 2)}–${fmt(s.max, 2)}` : '',
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
console.log('');
for (const r of rows) console.log(ratioLine(r));

const summary = {
  date: new Date().toISOString(),
  machine: { ...machineStart, loadavgEnd: machineEnd.loadavg },
  backend,
  reference: reference.python
    ? { python: reference.python, versions: reference.versions, provenance: reference.provenance, mismatches: reference.mismatches }
    : reference,
  machinePeakGflops: machinePeak,
  quick,
  repeat,
  minutes: (performance.now() - started) / 60000,
  rows,
  raw,
};
writeResult('bench.json', summary);
writeResult(
  'bench.svg',
  ratioChart(
    rows.filter((r) => r.ratio !== null && r.ratio !== undefined),
    backend,
    `${machineStart.cpu}, ${machineStart.cores} cores · ${new Date().toISOString().slice(0, 10)}${repeat > 1 ? ` · median of ${repeat} A/B runs` : ''}`,
  ),
);
console.log(`wrote bench/results/bench.json and bench/results/bench.svg`);
if (failures.length > 0) {
  console.error(`bench: ${failures.length} script run(s) failed: ${failures.join('; ')}`);
  process.exit(1);
}
