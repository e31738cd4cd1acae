#!/usr/bin/env node
// Scale-out of `lora eval` over BullMQ (docs/scale-out.md): the stories260K evaluation of a
// generated test set, once in one process (`lora eval`) and then with `lora eval --queue` and 1, 2
// and 4 `lora worker` processes on this machine, against a loopback redis-server started here.
// Prints wall time, speed-up over 1 worker, per-worker throughput and the queue's overhead per
// shard; checks every queued run's predictions equal the local run's (latency aside).
//
//   pnpm build && LORA_ASSETS_DIR=../shared node bench/queue-scale.mjs [--examples 128]
//     [--shard-size 8] [--batch-size 4] [--new-tokens 64] [--workers 1,2,4] [--json FILE]
//
// CPU-bound: each worker is a full process generating on the wasm backend (one thread), so the
// speed-up is bounded by the free cores — on a shared machine, report the load beside the numbers.
// Uses the BUILT packages (packages/*/dist). Writes bench/results/queue-scale.json (or --json FILE).
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { parseArgs } from './args.mjs';
import { importBuilt, root, writeFileIn, writeResult } from './common.mjs';

const { values: args } = parseArgs({
  options: {
    examples: { type: 'string', default: '128' },
    'shard-size': { type: 'string', default: '8' },
    'batch-size': { type: 'string', default: '4' },
    'new-tokens': { type: 'string', default: '64' },
    workers: { type: 'string', default: '1,2,4' },
    'overhead-jobs': { type: 'string', default: '200' },
    json: { type: 'string' },
  },
});
if (!process.env.LORA_ASSETS_DIR) {
  console.error('queue-scale: set LORA_ASSETS_DIR (stories260K)');
  process.exit(1);
}
const { startRedis, REDIS_SERVER } = await importBuilt('queue', 'test/redis-server.js');
if (REDIS_SERVER === undefined) {
  console.error('queue-scale: redis-server is not installed (apt-get install redis-server)');
  process.exit(1);
}
const examples = Number(args.examples);
const shardSize = Number(args['shard-size']);
const counts = args.workers.split(',').map(Number);
const bin = join(root, 'packages/cli/dist/bin.js');
const dir = mkdtempSync(join(tmpdir(), 'lora-queue-bench-'));
const env = { ...process.env, LORA_BACKEND: process.env.LORA_BACKEND ?? 'wasm' };

const subjects = ['cat', 'dog', 'girl', 'boy', 'bird', 'sun', 'tree', 'ball'];
const verbs = ['saw', 'liked', 'found', 'lost', 'wanted', 'made'];
writeFileSync(
  join(dir, 'test.jsonl'),
  `${Array.from({ length: examples }, (_, i) => {
    const s = subjects[i % subjects.length];
    const v = verbs[Math.floor(i / subjects.length) % verbs.length];
    return JSON.stringify({
      id: `e${i}`,
      messages: [
        { role: 'user', content: `Tell me a story about a ${s} that ${v} something.` },
        { role: 'assistant', content: `The ${s} ${v} a red ball.` },
      ],
    });
  }).join('\n')}\n`,
);
const recipe = join(dir, 'recipe.yaml');
writeFileSync(
  recipe,
  [
    'name: queue-bench',
    'model: stories260K',
    `output: ${join(dir, 'none')}`,
    'data: { train: test.jsonl, chatTemplate: stories, addBos: true }',
    `evaluation: { test: test.jsonl, metrics: [exact_match], maxNewTokens: ${Number(args['new-tokens'])}, batchSize: ${Number(args['batch-size'])} }`,
  ].join('\n'),
);

/** Runs `lora …` to completion; resolves with stderr and wall seconds. */
function lora(argv) {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, ...argv], { env, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    child.on('exit', (code) =>
      code === 0
        ? resolve({ stderr, seconds: (performance.now() - t0) / 1000 })
        : reject(new Error(`lora ${argv[0]} exited ${code}:\n${stderr}`)),
    );
  });
}

function startWorker(url, name) {
  const child = spawn(process.execPath, [bin, 'worker', '--queue', url, '--name', name], { env, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const exit = new Promise((resolve) => child.on('exit', resolve));
  const ready = new Promise((resolve, reject) => {
    const check = () => (stderr.includes('waiting for shards') ? resolve() : setTimeout(check, 50));
    check();
    void exit.then(() => reject(new Error(`worker ${name} exited:\n${stderr}`)));
  });
  return { child, ready, exit, stderr: () => stderr };
}

const predictions = (out) =>
  readFileSync(join(out, 'predictions_model.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => {
      const { latencyMs: _, ...rest } = JSON.parse(l);
      return JSON.stringify(rest);
    });

/**
 * BullMQ round trip of a shard-sized job with no generation: add, take, complete with a result the
 * size of `shardSize` predictions, seen complete by the adder. Sequential, so the mean is the queue's
 * own cost per shard on loopback Redis (the coordinator's poll adds 0–250 ms once, at the end).
 */
async function roundTrip(url, jobs) {
  const { Queue, QueueEvents, Worker } = await import(createRequire(join(root, 'packages/queue/package.json')).resolve('bullmq'));
  const { redisConnection } = await importBuilt('queue');
  const connection = redisConnection(url);
  const name = 'lora-bench-overhead';
  const record = {
    id: 'e0',
    prompt: 'x'.repeat(120),
    prediction: 'y'.repeat(200),
    reference: 'z'.repeat(40),
    latencyMs: 1.5,
    newTokens: 64,
  };
  const result = {
    worker: 'bench',
    records: Array.from({ length: shardSize }, () => record),
    ms: 1,
    newTokens: 1,
    tokensPerSecond: 1,
    peakTensorBytes: 1,
  };
  const worker = new Worker(name, async () => result, { connection, concurrency: 1 });
  const queue = new Queue(name, { connection });
  const events = new QueueEvents(name, { connection });
  await Promise.all([worker.waitUntilReady(), queue.waitUntilReady(), events.waitUntilReady()]);
  const ms = [];
  for (let i = 0; i < jobs; i++) {
    const t0 = performance.now();
    const job = await queue.add(
      'shard',
      { run: 'bench', variant: 'model', shard: i, start: 0, end: shardSize },
      { removeOnComplete: true },
    );
    await job.waitUntilFinished(events);
    ms.push(performance.now() - t0);
  }
  await Promise.all([worker.close(), events.close(), queue.close()]);
  ms.sort((a, b) => a - b);
  return { jobs, meanMs: ms.reduce((a, b) => a + b, 0) / jobs, p50Ms: ms[Math.floor(jobs / 2)], p95Ms: ms[Math.floor(jobs * 0.95)] };
}

const load0 = loadavg()[0];
console.error(`[queue-scale] ${examples} examples, shard ${shardSize}, ${availableParallelism()} cores, load average ${load0.toFixed(2)}`);
const redis = await startRedis();
const results = { examples, shardSize, cores: availableParallelism(), loadAverageAtStart: load0, local: undefined, queued: [] };
try {
  results.roundTrip = await roundTrip(redis.url, Number(args['overhead-jobs']));
  const rt = results.roundTrip;
  console.error(
    `[queue-scale] BullMQ round trip of a ${shardSize}-prediction shard: mean ${rt.meanMs.toFixed(2)} ms, p50 ${rt.p50Ms.toFixed(2)}, p95 ${rt.p95Ms.toFixed(2)} (${rt.jobs} jobs)`,
  );
  const localOut = join(dir, 'local');
  const local = await lora(['eval', recipe, '--out', localOut]);
  results.local = { seconds: local.seconds };
  console.error(`[queue-scale] local lora eval: ${local.seconds.toFixed(2)} s`);
  const reference = predictions(localOut);
  for (const n of counts) {
    const workers = Array.from({ length: n }, (_, i) => startWorker(redis.url, `w${i + 1}`));
    await Promise.all(workers.map((w) => w.ready));
    const out = join(dir, `queued-${n}`);
    const run = await lora(['eval', recipe, '--out', out, '--queue', redis.url, '--shard-size', String(shardSize)]);
    for (const w of workers) w.child.kill('SIGTERM');
    await Promise.all(workers.map((w) => w.exit));
    const same = JSON.stringify(predictions(out)) === JSON.stringify(reference);
    if (!same) throw new Error(`${n} workers: the merged predictions differ from the local run's`);
    const perWorker = workers.map((w, i) => {
      const shards = [...w.stderr().matchAll(/: (\d+) predictions in ([\d.]+) s/g)].map((m) => ({ n: Number(m[1]), s: Number(m[2]) }));
      const prepare = Number(/prepared the run's model in ([\d.]+) s/.exec(w.stderr())?.[1] ?? Number.NaN);
      const shardSeconds = shards.reduce((a, b) => a + b.s, 0);
      const done = shards.reduce((a, b) => a + b.n, 0);
      return {
        worker: `w${i + 1}`,
        shards: shards.length,
        examples: done,
        shardSeconds,
        prepareSeconds: prepare,
        examplesPerSecond: done / shardSeconds,
      };
    });
    const shardCount = Math.ceil(examples / shardSize);
    // Overhead per shard: coordinator wall time not spent generating or loading, over the shards (1 worker: no overlap).
    const busy = Math.max(...perWorker.map((w) => w.shardSeconds + (Number.isFinite(w.prepareSeconds) ? w.prepareSeconds : 0)));
    const entry = {
      workers: n,
      seconds: run.seconds,
      perWorker,
      overheadPerShardMs: n === 1 ? ((run.seconds - busy) * 1000) / shardCount : undefined,
    };
    results.queued.push(entry);
    console.error(
      `[queue-scale] ${n} worker(s): ${run.seconds.toFixed(2)} s; ${perWorker.map((w) => `${w.worker} ${w.shards} shards ${w.examplesPerSecond.toFixed(2)} ex/s (load ${w.prepareSeconds.toFixed(2)} s)`).join(', ')}` +
        `${entry.overheadPerShardMs === undefined ? '' : `; overhead ${entry.overheadPerShardMs.toFixed(0)} ms/shard`}`,
    );
  }
} finally {
  await redis.stop();
  rmSync(dir, { recursive: true, force: true });
}
results.loadAverageAtEnd = loadavg()[0];
const one = results.queued.find((q) => q.workers === 1);
console.log('| run | wall s | speed-up vs 1 worker | examples/s (sum of workers) |');
console.log('|---|---:|---:|---:|');
console.log(`| local lora eval (1 process) | ${results.local.seconds.toFixed(2)} | | |`);
for (const q of results.queued) {
  const rate = q.perWorker.reduce((a, w) => a + w.examplesPerSecond, 0);
  console.log(
    `| --queue, ${q.workers} worker(s) | ${q.seconds.toFixed(2)} | ${one ? (one.seconds / q.seconds).toFixed(2) : 'n/a'} | ${rate.toFixed(2)} |`,
  );
}
console.log(
  `queue overhead per shard (BullMQ round trip, no generation): mean ${results.roundTrip.meanMs.toFixed(2)} ms, p95 ${results.roundTrip.p95Ms.toFixed(2)} ms`,
);
console.log(`load average: ${load0.toFixed(2)} at start, ${results.loadAverageAtEnd.toFixed(2)} at end; ${results.cores} cores`);
const file = args.json ? writeFileIn(args.json, results) : writeResult('queue-scale.json', results);
console.error(`[queue-scale] wrote ${file}`);
