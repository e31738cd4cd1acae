// Child process of signals.test.ts: trains a tiny model slowly until SIGTERM/SIGINT arrives.
// Usage: vite-node signal-child.ts <outputDir> [slow-checkpoint]
import { setupTestBackend } from '@lora/models/test';
import { train } from '../train.js';
import { randomBatches, tinyTrainableModel } from './tiny.js';

const outputDir = process.argv[2] as string;
// The checkpoint callback then takes seconds, time for a second signal to arrive.
const slowCheckpoint = process.argv[3] === 'slow-checkpoint';
// vite-node's server exits on SIGTERM by itself; a real CLI has no such listener.
process.removeAllListeners('SIGTERM');
await setupTestBackend();
const model = await tinyTrainableModel();
const result = await train({
  model,
  data: randomBatches(3, 2, 12),
  args: { maxSteps: 10_000, saveSteps: 0 },
  outputDir,
  callbacks: {
    onStepEnd: async (r) => {
      process.stdout.write(`step ${r.step}\n`);
    },
    onCheckpoint: async (c) => {
      process.stdout.write(`checkpoint ${c.step}\n`);
      if (slowCheckpoint) await new Promise((resolve) => setTimeout(resolve, 10_000));
    },
  },
});
process.stdout.write(`stopped ${result.stopReason} at ${result.step} -> ${result.lastCheckpoint}\n`);
process.exitCode = result.stopReason === 'signal' ? (result.signal === 'SIGTERM' ? 143 : 130) : 0;
