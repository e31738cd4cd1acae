import { importBuilt, importTf } from '/work/main/bench/common.mjs';
const core = await importBuilt('core');
const models = await importBuilt('models');
const tf = await importTf();
await models.selectBackend({});
const dir = await core.resolveAsset('SmolLM2-135M-Instruct', { kind: 'model', allowDownload: false });
const { model } = await models.loadModel(dir);
const B = Number(process.env.B ?? 1);
const N = Number(process.env.N ?? 32);
const prompt = [1, ...Array.from({ length: 15 }, (_, i) => 100 + i * 37)];
const opts = { maxNewTokens: N, temperature: 0, stopTokenIds: [] };
await models.generate(model, Array(B).fill(prompt), opts);
for (let r = 0; r < 3; r++) {
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  const out = await models.generate(model, Array(B).fill(prompt), opts);
  const s = (performance.now() - t0) / 1000;
  const c = process.cpuUsage(c0);
  console.log(`B=${B} ${N} tokens: ${(N * B / s).toFixed(1)} tok/s, cpu ${((c.user + c.system) / 1e6 / s).toFixed(2)} cores`);
}
if (process.env.PROF) {
  const prof = await tf.profile(async () => { await models.generate(model, Array(B).fill(prompt), { ...opts, maxNewTokens: 8 }); });
  const by = new Map();
  for (const k of prof.kernels) { const e = by.get(k.name) ?? { ms: 0, n: 0 }; e.ms += typeof k.kernelTimeMs === 'number' ? k.kernelTimeMs : 0; e.n++; by.set(k.name, e); }
  const tot = [...by.values()].reduce((a, b) => a + b.ms, 0);
  console.log('kernel total ms (8 tokens incl prefill):', tot.toFixed(1), 'kernels', prof.kernels.length);
  for (const [k, v] of [...by].sort((a, b) => b[1].ms - a[1].ms).slice(0, 15)) console.log(k.padEnd(20), v.ms.toFixed(1), v.n);
  const mm = prof.kernels.filter((k) => k.name.includes('MatMul')).slice(-40);
  for (const k of mm.slice(0, 12)) console.log(k.name, JSON.stringify(k.inputShapes), k.kernelTimeMs);
}
