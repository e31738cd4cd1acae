// Tensors a LoRA training step keeps from its forward pass for its backward pass, by kernel:
// the tape's saved tensors (unique buffers, bytes) after one forward + loss of SmolLM2-135M-Instruct
// (batch 4 × seq 96, LoRA r 16 on every decoder linear, as W6), on the tfjs backend in use.
//   LORA_ASSETS_DIR=../shared node bench/tape-memory.mjs [--loss-chunk-size auto|0] [--batch 4] [--seq 96]
import { parseArgs } from './args.mjs';
import { importBuilt, importTf } from './common.mjs';

const { values: args } = parseArgs({
  options: {
    'loss-chunk-size': { type: 'string', default: 'auto' },
    batch: { type: 'string', default: '4' },
    seq: { type: 'string', default: '96' },
  },
});
const core = await importBuilt('core');
const models = await importBuilt('models');
const peftPkg = await importBuilt('peft');
const trainPkg = await importBuilt('train');
const tf = await importTf();
await models.selectBackend({});

const dir = await core.resolveAsset('SmolLM2-135M-Instruct', { kind: 'model', allowDownload: false });
const { model } = await models.loadModel(dir);
const peft = peftPkg.getPeftModel(
  model,
  peftPkg.loraConfig({
    r: 16,
    loraAlpha: 32,
    loraDropout: 0,
    targetModules: ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'],
  }),
);
const [b, t] = [Number(args.batch), Number(args.seq)];
const rng = new core.Rng(7);
const ids = new Int32Array(b * t).map((_, i) => (i % t === 0 ? 1 : 3 + rng.nextInt(model.config.vocabSize - 3)));
const chunkSize = args['loss-chunk-size'] === 'auto' ? 'auto' : Number(args['loss-chunk-size']);

const engine = tf.engine();
const before = tf.memory().numBytes;
engine.startTape();
const loss = engine.tidy('forward', () => trainPkg.modelLossSum(peft, tf.tensor2d(ids, [b, t], 'int32'), ids, {}, { chunkSize }).sum);
const tape = engine.state.activeTape;
const after = tf.memory().numBytes;
const seen = new Set();
const byKernel = new Map();
for (const node of tape) {
  for (const s of node.saved ?? []) {
    if (seen.has(s.dataId)) continue;
    seen.add(s.dataId);
    const bytes = s.size * 4;
    const k = byKernel.get(node.kernelName) ?? { bytes: 0, tensors: 0, shapes: new Map() };
    k.bytes += bytes;
    k.tensors++;
    const key = `[${s.shape}]`;
    k.shapes.set(key, (k.shapes.get(key) ?? 0) + bytes);
    byKernel.set(node.kernelName, k);
  }
}
const mib = (x) => `${(x / 2 ** 20).toFixed(1)} MiB`;
console.log(`forward + loss under the tape: engine ${mib(after - before)} above the weights, ${tape.length} tape nodes`);
let total = 0;
for (const [name, k] of [...byKernel].sort((x, y) => y[1].bytes - x[1].bytes)) {
  total += k.bytes;
  const shapes = [...k.shapes]
    .sort((x, y) => y[1] - x[1])
    .slice(0, 6)
    .map(([s, n]) => `${s} ${mib(n)}`)
    .join(', ');
  console.log(`  ${name.padEnd(28)} ${mib(k.bytes).padStart(11)} in ${String(k.tensors).padStart(4)} buffers (${shapes})`);
}
console.log(`  saved in all (unique buffers, weights excluded if not saved): ${mib(total)}`);
engine.endTape();
loss.dispose();
