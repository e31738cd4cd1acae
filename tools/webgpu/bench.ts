// Small speed comparison of the tfjs backends the test suite runs on (docs/webgpu.md, "Speed"):
// a 512³ matmul, the tiny random Llama forward of the tests, and greedy decoding of stories260K.
// One backend per process:
//
//   LORA_ASSETS_DIR=../shared npx tsx --conditions=@lora/source tools/webgpu/bench.ts webgpu
//   (likewise with wasm or cpu as the argument)
//
// webgpu accepts software adapters here (Mesa lavapipe), as the test helper does.
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
// tools/ is not a workspace package: reach @lora/models through its sources, and tfjs through the
// instance @lora/models resolves (one engine, one backend registry).
import { generate, loadModel } from '../../packages/models/src/index.js';
import { randomCausalLM, setupTestBackend } from '../../packages/models/src/test/index.js';

type Tf = typeof import('@tensorflow/tfjs');
const tfPath = createRequire(new URL('../../packages/models/package.json', import.meta.url)).resolve('@tensorflow/tfjs');
const tf = (await import(pathToFileURL(tfPath).href)) as Tf;

const backend = process.argv[2] ?? 'wasm';
process.env.LORA_TEST_BACKEND = backend;
await setupTestBackend();

async function median(runs: number, body: () => Promise<void>): Promise<number> {
  await body(); // warm-up: shader compilation / wasm init, excluded
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await body();
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)] as number;
}

const a = tf.randomNormal([512, 512]);
const b = tf.randomNormal([512, 512]);
const matmulMs = await median(5, async () => {
  const c = tf.matMul(a, b);
  await c.data();
  c.dispose();
});

const tiny = await randomCausalLM('llama', { seed: 1 });
const ids = tf.tensor2d([1, 5, 9, 3, 7, 11, 2, 4, 1, 8, 6, 10, 12, 13, 14, 15], [2, 8], 'int32');
const forwardMs = await median(10, async () => {
  const logits = tiny.forward(ids);
  await logits.data();
  logits.dispose();
});

const assets = process.env.LORA_ASSETS_DIR;
let decode = 'skipped (LORA_ASSETS_DIR unset)';
if (assets !== undefined) {
  const { model } = await loadModel(join(assets, 'models', 'stories260K'));
  const newTokens = 64;
  const ms = await median(3, async () => {
    await generate(model, [[1, 403, 407, 261, 378]], { maxNewTokens: newTokens, temperature: 0, stopTokenIds: [] });
  });
  decode = `${((newTokens * 1000) / ms).toFixed(1)} tok/s (${newTokens} new tokens, batch 1)`;
}

console.log(
  JSON.stringify({
    backend: tf.getBackend(),
    matmul512GflopS: Number(((2 * 512 ** 3) / (matmulMs * 1e6)).toFixed(2)),
    tinyForwardMs: Number(forwardMs.toFixed(2)),
    stories260KDecode: decode,
  }),
);
process.exit(0);
