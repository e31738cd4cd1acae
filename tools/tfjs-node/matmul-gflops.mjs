// Plain 2-D matMul throughput per tfjs backend, as quoted in docs/tensorflow-backend.md.
//
//   node tools/tfjs-node/matmul-gflops.mjs [--rounds 3] [--sizes 512,1024,2048] [backend...]
//
// Backends default to tensorflow, wasm, cpu. Run it from a folder whose node_modules resolves
// @tensorflow/tfjs (and @tensorflow/tfjs-node / @tensorflow/tfjs-backend-wasm for those backends),
// e.g. after tools/tfjs-node/setup.sh. Backends are interleaved cell by cell so that all of them see
// the same machine load; each cell reports the fastest repetition (robust on a shared machine).
// Prints one JSON line per cell, then a summary table of the best GFLOP/s per cell.
import { createRequire } from 'node:module';
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';

const require = createRequire(`${process.cwd()}/`);
const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { rounds: { type: 'string', default: '3' }, sizes: { type: 'string', default: '512,1024,2048' } },
});
const backends = positionals.length > 0 ? positionals : ['tensorflow', 'wasm', 'cpu'];
const sizes = values.sizes.split(',').map(Number);
const rounds = Number(values.rounds);

const tf = require('@tensorflow/tfjs');
if (backends.includes('tensorflow')) require('@tensorflow/tfjs-node');
if (backends.includes('wasm')) require('@tensorflow/tfjs-backend-wasm');

const best = new Map();
for (let round = 0; round < rounds; round++) {
  for (const n of sizes) {
    for (const backend of backends) {
      if (backend === 'cpu' && n > 1024) continue; // minutes per repetition
      if (!(await tf.setBackend(backend))) throw new Error(`backend ${backend} did not initialise`);
      await tf.ready();
      const a = tf.randomNormal([n, n]);
      const b = tf.randomNormal([n, n]);
      tf.matMul(a, b).dataSync(); // warm-up
      let fastest = Infinity;
      let reps = 0;
      const start = performance.now();
      while (reps < 1 || performance.now() - start < 1500) {
        const t = performance.now();
        const c = tf.matMul(a, b);
        c.dataSync();
        fastest = Math.min(fastest, performance.now() - t);
        c.dispose();
        reps++;
      }
      tf.dispose([a, b]);
      const gflops = (2 * n ** 3) / fastest / 1e6;
      const version = backend === 'tensorflow' ? tf.backend().binding?.TF_Version : undefined;
      console.log(JSON.stringify({ round, backend, version, n, gflops: +gflops.toFixed(1), reps, load1: +loadavg()[0].toFixed(1) }));
      const key = `${backend}\t${n}`;
      best.set(key, Math.max(best.get(key) ?? 0, gflops));
    }
  }
}
console.log('\nbest GFLOP/s (plain 2-D matMul, square N)');
console.log(['N', ...backends].join('\t'));
for (const n of sizes) console.log([n, ...backends.map((b) => best.get(`${b}\t${n}`)?.toFixed(1) ?? '-')].join('\t'));
