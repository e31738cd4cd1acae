#!/usr/bin/env node
// Two judges, the same items: the `local` provider (SmolLM2-135M-Instruct in this process, @lora
// on wasm/tensorflow) and llama.cpp's OpenAI-compatible server (llama-cpp-python over the same
// GGUF). Writes CarBot pairwise items whose right answer is known (A = the gold reply, B = the gold
// reply of another item with another intent), runs `lora judge pairwise` with each judge, and
// prints per judge: verdicts parsed, accuracy (A preferred), order consistency, and the agreement
// of the two judges per order and per item. docs/judges.md reports the numbers.
//
//   eval "$(bash tools/llama-server/setup.sh | grep '^export ')"
//   LORA_ASSETS_DIR=../shared node tools/judge-agreement/agreement.mjs [--items 12] [--out runs/judge-agreement]
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    items: { type: 'string', default: '12' },
    out: { type: 'string', default: 'runs/judge-agreement' },
    model: { type: 'string', default: 'SmolLM2-135M-Instruct' },
  },
});
const repo = resolve(new URL('../..', import.meta.url).pathname);
const out = resolve(values.out);
const n = Number(values.items);
const assets = process.env.LORA_ASSETS_DIR;
const python = process.env.LORA_LLAMA_SERVER_PYTHON;
if (assets === undefined) throw new Error('set LORA_ASSETS_DIR (the folder with models/SmolLM2-135M-Instruct)');
if (python === undefined) throw new Error('set LORA_LLAMA_SERVER_PYTHON: eval "$(bash tools/llama-server/setup.sh | grep \'^export \')"');
const gguf = join(assets, 'models', values.model, readGgufName(join(assets, 'models', values.model)));
mkdirSync(out, { recursive: true });

// 1. Items: CarBot test prompts with the gold reply (A) and a wrong one (B).
const data = join(out, 'data');
execFileSync('node', [join(repo, 'examples/carbot/dist/cli.js'), '--n', '400', '--seed', '7', '--out', data], { stdio: 'inherit' });
const rows = readFileSync(join(data, 'test.jsonl'), 'utf8')
  .trim()
  .split('\n')
  .map((l) => JSON.parse(l));
const items = rows.slice(0, n).map((row, i) => {
  const other = rows.slice(n).find((r) => r.intent !== row.intent) ?? rows[(i + 1) % rows.length];
  const prompt = row.messages.find((m) => m.role === 'user').content;
  const gold = row.messages.find((m) => m.role === 'assistant').content;
  const wrong = other.messages.find((m) => m.role === 'assistant').content;
  return { id: row.id, prompt, a: gold, b: wrong };
});
const jsonl = (list) => `${list.map((x) => JSON.stringify(x)).join('\n')}\n`;
writeFileSync(join(out, 'gold.jsonl'), jsonl(items.map(({ id, prompt, a }) => ({ id, prompt, prediction: a }))));
writeFileSync(join(out, 'wrong.jsonl'), jsonl(items.map(({ id, prompt, b }) => ({ id, prompt, prediction: b }))));
const criteria =
  'The user talks to an in-car assistant. The right response performs the action the user asked for in <ACTION>{json}</ACTION> and confirms it in <SAY>.';

const lora = (args) => {
  const started = performance.now();
  try {
    execFileSync('node', [join(repo, 'packages/cli/dist/bin.js'), ...args], { stdio: ['ignore', 'ignore', 'inherit'] });
  } catch (error) {
    // Exit 1 = some items not judged; the verdicts file says which.
    if (error.status !== 1) throw error;
  }
  return (performance.now() - started) / 1000;
};
const common = [
  '--a',
  join(out, 'gold.jsonl'),
  '--b',
  join(out, 'wrong.jsonl'),
  '--name-a',
  'gold',
  '--name-b',
  'wrong',
  '--criteria',
  criteria,
  '--no-cache',
];

// 2. The local judge.
const localSeconds = lora(['judge', 'pairwise', ...common, '--provider', 'local', '--model', values.model, '--out', join(out, 'local')]);

// 3. llama.cpp's server over the same GGUF, on a free loopback port.
const port = await freePort();
const server = spawn(
  python,
  [
    '-m',
    'llama_cpp.server',
    '--model',
    gguf,
    '--model_alias',
    'smollm2',
    '--host',
    '127.0.0.1',
    '--port',
    String(port),
    '--n_ctx',
    '4096',
    '--n_threads',
    '2',
  ],
  { stdio: ['ignore', 'ignore', 'pipe'] },
);
let serverLog = '';
server.stderr.on('data', (d) => {
  serverLog += d;
});
let llamaSeconds;
try {
  await waitForServer(`http://127.0.0.1:${port}/v1/models`, server, () => serverLog);
  llamaSeconds = lora([
    'judge',
    'pairwise',
    ...common,
    '--provider',
    'openai-compatible',
    '--model',
    'smollm2',
    '--base-url',
    `http://127.0.0.1:${port}/v1`,
    '--out',
    join(out, 'llama-cpp'),
  ]);
} finally {
  server.kill('SIGTERM');
}

// 4. Agreement.
const verdicts = (dir) =>
  new Map(
    readFileSync(join(out, dir, 'verdicts.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l))
      .map((r) => [r.id, r]),
  );
const local = verdicts('local');
const llama = verdicts('llama-cpp');
const summaryOf = (dir) => JSON.parse(readFileSync(join(out, dir, 'summary.json'), 'utf8'));
const describe = (map) => {
  const judged = [...map.values()].filter((r) => r.status === 'judged');
  return {
    judged: judged.length,
    failed: map.size - judged.length,
    // A single order counts as right when it prefers the gold reply.
    ordersRight: judged.reduce((s, r) => s + (r.orderAB === 'a' ? 1 : 0) + (r.orderBA === 'a' ? 1 : 0), 0),
    orders: judged.length * 2,
    itemsRight: judged.filter((r) => r.winner === 'a').length,
    consistent: judged.filter((r) => r.consistent).length,
    responseFormat: null,
  };
};
let ordersBoth = 0;
let ordersSame = 0;
let itemsBoth = 0;
let itemsSame = 0;
for (const [id, l] of local) {
  const r = llama.get(id);
  if (r === undefined || l.status !== 'judged' || r.status !== 'judged') continue;
  ordersBoth += 2;
  ordersSame += (l.orderAB === r.orderAB ? 1 : 0) + (l.orderBA === r.orderBA ? 1 : 0);
  itemsBoth += 1;
  itemsSame += l.winner === r.winner ? 1 : 0;
}
const report = {
  date: new Date().toISOString(),
  items: n,
  model: values.model,
  gguf,
  local: { ...describe(local), seconds: localSeconds },
  llamaCpp: { ...describe(llama), seconds: llamaSeconds, responseFormat: summaryOf('llama-cpp').structuredOutputs ?? null },
  agreement: { orders: ordersSame, ofOrders: ordersBoth, items: itemsSame, ofItems: itemsBoth },
};
writeFileSync(join(out, 'agreement.json'), `${JSON.stringify(report, null, 2)}\n`);
const pct = (a, b) => (b === 0 ? '-' : `${((100 * a) / b).toFixed(0)} %`);
const line = (name, d) =>
  `${name.padEnd(10)} judged ${d.judged}/${n}  orders preferring gold ${d.ordersRight}/${d.orders} (${pct(d.ordersRight, d.orders)})  ` +
  `items won by gold ${d.itemsRight}  consistent ${d.consistent}  ${d.seconds.toFixed(0)} s`;
console.log(line('local', report.local));
console.log(line('llama.cpp', report.llamaCpp));
console.log(
  `agreement  orders ${ordersSame}/${ordersBoth} (${pct(ordersSame, ordersBoth)})  items ${itemsSame}/${itemsBoth} (${pct(itemsSame, itemsBoth)})`,
);
console.log(`wrote ${join(out, 'agreement.json')}`);

function readGgufName(dir) {
  const name = execFileSync('ls', [dir], { encoding: 'utf8' })
    .split('\n')
    .find((f) => f.endsWith('.gguf'));
  if (name === undefined) throw new Error(`no .gguf file in ${dir}`);
  return name;
}

function freePort() {
  return new Promise((ok, fail) => {
    const s = createServer();
    s.once('error', fail);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => ok(port));
    });
  });
}

async function waitForServer(url, child, log) {
  for (;;) {
    if (child.exitCode !== null) throw new Error(`llama.cpp server exited with ${child.exitCode}:\n${log().slice(-2000)}`);
    try {
      const res = await fetch(url);
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 500));
  }
}
