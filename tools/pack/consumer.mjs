// The consumer test of tools/pack/check.mjs, run in a fresh npm project that installed the packed
// tarballs: a few LoRA steps on stories260K (LORA_ASSETS_DIR), then a PEFT adapter in argv[2].
import { join } from 'node:path';
import { loadModel, selectBackend } from '@lora/models';
import { getPeftModel, loraConfig } from '@lora/peft';
import { peftWeightsIO, train } from '@lora/train';

const out = process.argv[2] ?? 'adapter';
await selectBackend({ backend: process.env.LORA_BACKEND ?? 'wasm' }).catch(() => selectBackend({ backend: 'cpu' }));
const { model } = await loadModel(join(process.env.LORA_ASSETS_DIR, 'models/stories260K'));
const peft = getPeftModel(model, loraConfig({ r: 4, loraAlpha: 8, targetModules: 'all-linear', loraDropout: 0 }));
// Token rows of stories260K's 512-token vocabulary: BOS, then a fixed pattern; 2 rows of 32.
const inputIds = Int32Array.from({ length: 64 }, (_, i) => (i % 32 === 0 ? 1 : 3 + ((i * 37) % 509)));
const data = [{ inputIds, labels: inputIds.slice(), shape: [2, 32] }];
const result = await train({
  model: peft,
  data,
  args: { maxSteps: 3, learningRate: 1e-2, lrScheduler: 'constant' },
  outputDir: join(out, '..', 'run'),
  weightsIO: peftWeightsIO(peft),
});
console.log(`consumer test: losses ${result.losses.map((l) => l.toFixed(4)).join(' ')}`);
await peft.saveAdapter(out);
peft.dispose();
