#!/usr/bin/env node
// W5 (bench/README.md): multiple-choice log-prob scoring, 200 questions × 4 options, prompts
// of 56–72 tokens and options of 6–10 tokens (seeded), on the random Llama d512 L8 ffn1376 vocab
// 8192 (W2 model), with @lora/models' `scoreContinuations` (8 requests per forward) — beside
// transformers doing the same scoring (same requests, batching and padding) in the same run.
//
//   pnpm build && node bench/mc-score.mjs [--questions 200] [--batch-size 8] [--torch-threads 1,2] [--json FILE]
//     [--reference-any]
//
// Env: LORA_BACKEND picks the tfjs backend (default automatic); LORA_BENCH_PYTHON the reference
// Python (default bench/.venv/bin/python from `pnpm bench:setup`; `none` skips it; see
// reference.mjs). Uses the BUILT packages. Writes bench/results/mc-score.json (or --json FILE).
import { availableParallelism } from 'node:os';
import { parseArgs } from './args.mjs';
import {
  W2_CONFIG_JSON,
  fmt,
  forwardFlopsPerToken,
  hfLlamaConfig,
  importBuilt,
  importTf,
  machineInfo,
  runPython,
  writeFileIn,
  writeResult,
} from './common.mjs';
import { referenceJson, resolveReferenceOrExit } from './reference.mjs';

const { values: args } = parseArgs({
  options: {
    questions: { type: 'string', default: '200' },
    'batch-size': { type: 'string', default: '8' },
    'torch-threads': { type: 'string' },
    json: { type: 'string' },
    'reference-any': { type: 'boolean', default: false },
  },
});
const ref = resolveReferenceOrExit({ any: args['reference-any'] });
console.error(`[mc-score] ${ref.summary ?? ref.skipped}`);
const questions = Number(args.questions);
const batchSize = Number(args['batch-size']);

const core = await importBuilt('core');
const models = await importBuilt('models');
const testing = await importBuilt('models', 'test/index.js');
const tf = await importTf();
const backend = await models.selectBackend({});
const ourThreads = backend.name === 'wasm' || backend.name === 'cpu' ? 1 : availableParallelism();
const torchThreads = args['torch-threads']
  ? args['torch-threads'].split(',').map(Number)
  : [...new Set([ourThreads, availableParallelism()])];
const machineBefore = machineInfo();

const config = models.parseModelConfig(W2_CONFIG_JSON, { file: 'W5' });
const model = await models.createCausalLM(config, testing.randomWeights(config, 0, 0.02));

// 200 questions: a prompt (BOS + 55–71 tokens) and 4 options of 6–10 tokens each.
const rng = new core.Rng(11);
const token = () => 3 + rng.nextInt(config.vocabSize - 3);
const requests = [];
for (let q = 0; q < questions; q++) {
  const prompt = [1, ...Array.from({ length: 55 + rng.nextInt(17) }, token)];
  for (let o = 0; o < 4; o++) requests.push({ prompt, continuation: Array.from({ length: 6 + rng.nextInt(5) }, token) });
}
const tokens = requests.reduce((n, r) => n + r.prompt.length + r.continuation.length - 1, 0);
const meanLength = tokens / requests.length;

const before = tf.memory().numTensors;
await models.scoreContinuations(model, requests.slice(0, batchSize), { batchSize }); // warm-up
const cpu = process.cpuUsage();
const start = performance.now();
const scores = await models.scoreContinuations(model, requests, { batchSize });
const seconds = (performance.now() - start) / 1000;
const cpuUsed = process.cpuUsage(cpu);
const cpuSeconds = (cpuUsed.user + cpuUsed.system) / 1e6;
const leaked = tf.memory().numTensors - before;
model.dispose();

let reference = null;
let referenceNote = ref.skipped ?? '';
if (ref.python) {
  try {
    reference = runPython(ref.python, 'mc_score_torch.py', {
      threads: torchThreads,
      config: hfLlamaConfig(config),
      batch_size: batchSize,
      requests: requests.map((r) => [r.prompt, r.continuation]),
    });
  } catch (error) {
    referenceNote = error.message;
  }
}

const flopsPerToken = forwardFlopsPerToken(config, Math.round(meanLength));
const ours = {
  seconds,
  cpuSeconds,
  cpuQuestionsPerS: questions / cpuSeconds,
  questionsPerS: questions / seconds,
  tokensPerS: tokens / seconds,
  gflops: (tokens * flopsPerToken) / seconds / 1e9,
  leakedTensors: leaked,
  firstSums: scores.slice(0, 4).map((s) => s.sum),
};
const torch = (reference?.results ?? []).map((r) => ({
  threads: r.threads,
  seconds: r.seconds,
  cpuSeconds: r.cpu_seconds,
  cpuQuestionsPerS: questions / r.cpu_seconds,
  questionsPerS: questions / r.seconds,
  tokensPerS: r.tokens / r.seconds,
  gflops: (r.tokens * flopsPerToken) / r.seconds / 1e9,
}));
const same = torch.find((t) => t.threads === ourThreads);
const all = torch.find((t) => t.threads === availableParallelism() && t.threads !== ourThreads);
const machine = { ...machineBefore, loadavgAfter: machineInfo().loadavg };

console.log(
  `W5 multiple-choice scoring: ${questions} questions × 4 options, ${requests.length} requests of ${fmt(meanLength)} tokens on average, ${batchSize} per forward`,
);
console.log(
  `machine: ${machine.cpu}, ${machine.cores} cores, load average ${machine.loadavg.join(' ')} → ${machine.loadavgAfter.join(' ')}`,
);
console.log(`@lora backend ${backend.name} (${ourThreads} thread(s)); ${reference ? ref.summary : referenceNote}`);
console.log(
  `@lora: ${fmt(ours.questionsPerS, 2)} questions/s, ${fmt(ours.tokensPerS)} tok/s, ${fmt(ours.gflops, 2)} GFLOP/s (${fmt(seconds)} s; ${leaked} tensors leaked)`,
);
for (const t of torch) {
  console.log(
    `torch ${t.threads}t: ${fmt(t.questionsPerS, 2)} questions/s, ${fmt(t.tokensPerS)} tok/s, ${fmt(t.gflops, 2)} GFLOP/s (${fmt(t.seconds)} s) → ratio ${fmt(ours.questionsPerS / t.questionsPerS, 2)}` +
      (t.threads === 1 && ourThreads === 1
        ? `; per CPU-second ${fmt(ours.cpuQuestionsPerS, 2)} vs ${fmt(t.cpuQuestionsPerS, 2)} questions/s → ${fmt(ours.cpuQuestionsPerS / t.cpuQuestionsPerS, 2)}`
        : ''),
  );
}

const result = {
  benchmark: 'mc-score',
  date: new Date().toISOString(),
  machine,
  backend: backend.name,
  ourThreads,
  settings: { questions, options: 4, batchSize, requests: requests.length, tokens, meanLength, flopsPerToken },
  reference: reference ? referenceJson(ref) : { skipped: referenceNote },
  lora: ours,
  torch,
  ratio: same ? ours.questionsPerS / same.questionsPerS : null,
  ratioAllCores: all ? ours.questionsPerS / all.questionsPerS : null,
  cpuTimeRatio: ourThreads === 1 && same ? ours.cpuQuestionsPerS / same.cpuQuestionsPerS : null,
};
if (args.json) writeFileIn(args.json, result);
else writeResult('mc-score.json', result);
