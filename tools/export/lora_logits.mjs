// Logits of a Hugging Face folder with and without a PEFT adapter, computed by @lora (the built
// packages): `node tools/export/lora_logits.mjs <model-dir> <adapter-dir> <ids-json> <out.json>`.
// Used by check_trl_roundtrip.py; run `pnpm build` first.
import { writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const [modelDir, adapterDir, idsJson, outFile] = process.argv.slice(2);
if (outFile === undefined) {
  process.stderr.write('usage: node tools/export/lora_logits.mjs <model-dir> <adapter-dir> <ids-json> <out.json>\n');
  process.exit(2);
}
const require = createRequire(join(import.meta.dirname, '../../packages/cli/package.json'));
const load = (name) => import(pathToFileURL(require.resolve(name)).href);
const tf = await load('@tensorflow/tfjs');
const models = await load('@lora/models');
const peft = await load('@lora/peft');

await models.selectBackend({ backend: 'cpu', silent: true });
const ids = JSON.parse(idsJson);
const forward = async (model) => {
  const out = tf.tidy(() => model.forward(tf.tensor2d([ids], [1, ids.length], 'int32')));
  const data = Array.from(await out.data());
  out.dispose();
  return data;
};
const { model } = await models.loadModel(modelDir);
const base = await forward(model);
const adapted = await peft.loadPeftModel(model, adapterDir);
const withAdapter = await forward(adapted);
adapted.dispose();
writeFileSync(outFile, JSON.stringify({ shape: [1, ids.length, base.length / ids.length], base, adapter: withAdapter }));
