#!/usr/bin/env node
// `pnpm fuzz`: runs every *.fuzz.test.ts (vitest.fuzz.config.ts) and prints the totals per target.
// Exit 0 only when vitest passed, no case crashed or hung, and at least LORA_FUZZ_MIN_CASES
// (default 10,000) cases ran. LORA_FUZZ_SCALE multiplies every target's case count.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const dir = mkdtempSync(join(tmpdir(), 'lora-fuzz-'));
const reportFile = join(dir, 'report.jsonl');
const vitest = spawnSync('pnpm', ['exec', 'vitest', 'run', '--config', 'vitest.fuzz.config.ts', ...process.argv.slice(2)], {
  stdio: 'inherit',
  env: { ...process.env, LORA_FUZZ_REPORT: reportFile },
});
let rows = [];
try {
  rows = readFileSync(reportFile, 'utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l));
} catch {
  // no target reported
}
rmSync(dir, { recursive: true, force: true });
const total = { target: 'total', cases: 0, accepted: 0, rejected: 0, crashed: 0, hung: 0, seconds: 0 };
for (const r of rows) for (const k of ['cases', 'accepted', 'rejected', 'crashed', 'hung', 'seconds']) total[k] += r[k];
total.seconds = Math.round(total.seconds * 10) / 10;
const cols = ['target', 'cases', 'accepted', 'rejected', 'crashed', 'hung', 'seconds'];
const widths = cols.map((c) => Math.max(c.length, ...[...rows, total].map((r) => String(r[c]).length)));
const line = (r) => cols.map((c, i) => (i === 0 ? String(r[c]).padEnd(widths[i]) : String(r[c]).padStart(widths[i]))).join('  ');
console.log(`\n${line(Object.fromEntries(cols.map((c) => [c, c])))}`);
for (const r of rows) console.log(line(r));
console.log(line(total));
const minCases = Number(process.env.LORA_FUZZ_MIN_CASES ?? 10_000);
const problems = [];
if (vitest.status !== 0) problems.push(`vitest exited ${vitest.status ?? vitest.signal}`);
if (total.crashed > 0) problems.push(`${total.crashed} crashed`);
if (total.hung > 0) problems.push(`${total.hung} hung`);
if (process.argv.length <= 2 && total.cases < minCases) problems.push(`only ${total.cases} cases (< ${minCases})`);
if (problems.length > 0) {
  console.error(`fuzz: FAILED — ${problems.join(', ')}`);
  process.exit(1);
}
console.log(`fuzz: ${total.cases} cases, 0 crashes, 0 hangs`);
