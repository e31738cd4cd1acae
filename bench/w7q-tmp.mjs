// Quick @lora-only W7: keepQuantized on/off, tokens equal, tok/s at batch 1 and 8.
import { importBuilt } from '/work/main/bench/common.mjs';
const core = await importBuilt('core'); const models = await importBuilt('models'); const data = await importBuilt('data');

await models.selectBackend({ log: () => {} });
const dir = await core.resolveAsset('SmolLM2-135M-Instruct', { kind: 'model', allowDownload: false });
const keep = process.argv[2] !== 'dense';
const t0 = performance.now();
const loaded = await models.loadModel(dir, { keepQuantized: keep });
console.log(`load ${((performance.now() - t0) / 1000).toFixed(1)} s, quantizedLayers ${loaded.quantizedLayers}, rss ${(process.memoryUsage().rss / 2 ** 30).toFixed(2)} GiB`);
const tok = await data.loadTokenizer(loaded.path);
const q = ['What is the capital of France?', 'Name three primary colors.', 'How many legs has a spider?', 'Why is the sky blue?', 'Say hello in Spanish.', 'What is 2 + 2?', 'Who wrote Hamlet?', 'What is water made of?'];
const prompts = q.map((c) => Array.from(data.encodeChat(tok, [{ role: 'user', content: c }], { addGenerationPrompt: true, mask: 'all' }).inputIds));
const len = Math.min(...prompts.map((p) => p.length)); const ps = prompts.map((p) => p.slice(p.length - len));
for (const b of (process.argv[3] ?? '1,8').split(',').map(Number)) {
  await models.generate(loaded.model, ps.slice(0, b), { maxNewTokens: 4, doSample: false, stopTokenIds: [] });
  const s = performance.now();
  const out = await models.generate(loaded.model, ps.slice(0, b), { maxNewTokens: 64, doSample: false, stopTokenIds: [] });
  const sec = (performance.now() - s) / 1000;
  const rows = out.sequences ?? out;
  console.log(`b${b}: ${(b * 64 / sec).toFixed(1)} tok/s  first row tail: ${JSON.stringify(Array.from(rows[0]).slice(-12))}`);
}
console.log(`rss ${(process.memoryUsage().rss / 2 ** 30).toFixed(2)} GiB`);
