import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { runCaptured } from '../testing.js';

// The training round trip (TRL on CPU, adapter back into @lora, logits vs PEFT) is
// tools/export/check_trl_roundtrip.py; here the exported files are checked for content and syntax.
const REPO = resolve(import.meta.dirname, '../../../..');
const TINY_LLAMA = join(REPO, 'fixtures/tiny-llama');
const assets = process.env.LORA_ASSETS_DIR;
const haveStories = assets !== undefined && existsSync(join(assets, 'models', 'stories260K'));

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'lora-export-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function pyCompile(file: string): void {
  execFileSync('python3', ['-m', 'py_compile', file], { env: { ...process.env, PYTHONDONTWRITEBYTECODE: '1' } });
}

function constant(script: string, name: string): unknown {
  const line = script.split('\n').find((l) => l.startsWith(`${name} = `)) as string;
  const json = /^\w+ = json\.loads\((".*")\)$/.exec(line)?.[1];
  return json === undefined ? line.slice(name.length + 3) : JSON.parse(JSON.parse(json) as string);
}

/** A tiny recipe on the tiny-llama fixture (a Hugging Face folder) with its data. */
function tinyRecipe(name: string, records: unknown[], extra: string): string {
  const folder = join(dir, name);
  mkdirSync(folder, { recursive: true });
  writeFileSync(join(folder, 'train.jsonl'), `${records.map((r) => JSON.stringify(r)).join('\n')}\n`);
  const file = join(folder, 'recipe.yaml');
  writeFileSync(
    file,
    `name: ${name}\nmodel: ${TINY_LLAMA}\nadapter:\n  r: 8\n  loraAlpha: 16\n  targetModules: all-linear\ndata:\n  train: train.jsonl\n  maxLength: 32\n  batchSize: 2\n${extra}`,
  );
  return file;
}

describe('lora export-recipe', () => {
  it.skipIf(!haveStories)('exports the CarBot smoke recipe to TRL (converted model, stories template, trainable tokens)', async () => {
    const data = join(dir, 'carbot');
    mkdirSync(data);
    const turn = (q: string, a: string) =>
      JSON.stringify({
        messages: [
          { role: 'user', content: q },
          { role: 'assistant', content: a },
        ],
      });
    writeFileSync(
      join(data, 'train.jsonl'),
      `${turn('Open the window', '{"action":"open"}')}\n${turn('Play music', '{"action":"play"}')}\n`,
    );
    writeFileSync(join(data, 'validation.jsonl'), `${turn('Stop', '{"action":"stop"}')}\n`);
    const out = join(dir, 'smoke-trl');
    const env = { LORA_ASSETS_DIR: assets, CARBOT_DATA: data, HF_HUB_OFFLINE: '1' };
    const recipe = join(REPO, 'examples/carbot/recipes/smoke.yaml');
    const { code, stdout, stderr } = await runCaptured(['export-recipe', recipe, '--to', 'trl', '--out', out], env);
    expect(stderr).not.toContain('unexpected');
    expect(code).toBe(0);
    expect(JSON.parse(stdout)).toMatchObject({ output: out, records: 2 });
    expect(readdirSync(out).sort()).toEqual(['data', 'export_report.json', 'model', 'train_trl.py']);
    expect(existsSync(join(out, 'model', 'tokenizer.json'))).toBe(true);
    const script = readFileSync(join(out, 'train_trl.py'), 'utf8');
    pyCompile(join(out, 'train_trl.py'));
    expect(constant(script, 'LORA')).toEqual({
      r: 16,
      lora_alpha: 32,
      lora_dropout: 0.05,
      target_modules: 'all-linear',
      task_type: 'CAUSAL_LM',
      trainable_token_indices: [98, 126, 128, 436, 467, 492, 504, 505],
    });
    expect(constant(script, 'SFT')).toMatchObject({
      max_steps: 300,
      learning_rate: 0.004,
      lr_scheduler_type: 'cosine',
      warmup_steps: 0.05,
      per_device_train_batch_size: 8,
      max_length: 256,
      eval_strategy: 'steps',
      eval_steps: 100,
      save_steps: 100,
      save_total_limit: 1,
      seed: 42,
      assistant_only_loss: true,
      completion_only_loss: false,
    });
    const template = constant(script, 'CHAT_TEMPLATE') as string;
    expect(JSON.parse(template)).toMatch(/^\{\{ bos_token \}\}.*\{% generation %\}\{\{ message\.content \| trim \}\}/s);
    expect(script).toMatch(/# {3}- backend: wasm is a tfjs setting/);
    expect(
      readFileSync(join(out, 'data', 'train.jsonl'), 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l))[1],
    ).toEqual({
      messages: [
        { role: 'user', content: 'Play music' },
        { role: 'assistant', content: '{"action":"play"}' },
      ],
    });

    // axolotl has no trainable_token_indices: an error naming the field, and no folder left behind.
    const axolotl = join(dir, 'smoke-axolotl');
    const refused = await runCaptured(['export-recipe', recipe, '--to', 'axolotl', '--out', axolotl], env);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('adapter.trainableTokenIndices');
    expect(existsSync(axolotl)).toBe(false);
    expect(readdirSync(dir).filter((f) => f.includes('.tmp'))).toEqual([]);
  });

  it('exports a QLoRA text recipe on a Hugging Face folder to axolotl YAML and TRL', async () => {
    const recipe = tinyRecipe(
      'tiny-text',
      [{ text: 'a b c' }, { text: 'd e f' }, { text: 'g h i' }],
      'quantization:\n  type: nf4\ntraining:\n  maxSteps: 7\n  learningRate: 0.001\n  warmup: 2\n  gradientAccumulationSteps: 4\n',
    );
    const out = join(dir, 'tiny-axolotl');
    const { code, stderr } = await runCaptured(['export-recipe', recipe, '--to', 'axolotl', '--out', out]);
    expect(stderr).not.toContain('unexpected');
    expect(code).toBe(0);
    const yaml = parseYaml(readFileSync(join(out, 'axolotl.yaml'), 'utf8')) as Record<string, unknown>;
    expect(yaml).toMatchObject({
      base_model: TINY_LLAMA,
      adapter: 'qlora',
      load_in_4bit: true,
      lora_r: 8,
      lora_alpha: 16,
      lora_target_linear: true,
      datasets: [{ path: 'data/train.jsonl', ds_type: 'json', type: 'completion', field: 'text' }],
      sequence_len: 32,
      micro_batch_size: 2,
      gradient_accumulation_steps: 4,
      max_steps: 7,
      learning_rate: 0.001,
      warmup_steps: 2,
      optimizer: 'adamw_torch',
      output_dir: './output',
    });
    expect(readFileSync(join(out, 'data', 'train.jsonl'), 'utf8')).toBe('{"text":"a b c"}\n{"text":"d e f"}\n{"text":"g h i"}\n');
    // PyYAML (axolotl's reader, YAML 1.1) reads the same values: `1e-8` would be a string there.
    const py = execFileSync('python3', [
      '-c',
      'import json,sys,yaml; print(json.dumps(yaml.safe_load(open(sys.argv[1]))))',
      join(out, 'axolotl.yaml'),
    ]);
    expect(JSON.parse(py.toString())).toEqual(yaml);
    expect(yaml.adam_epsilon).toBe(1e-8);

    const trl = join(dir, 'tiny-trl');
    expect((await runCaptured(['export-recipe', recipe, '--to', 'trl', '--out', trl])).code).toBe(0);
    const script = readFileSync(join(trl, 'train_trl.py'), 'utf8');
    pyCompile(join(trl, 'train_trl.py'));
    expect(constant(script, 'BNB')).toEqual({ load_in_4bit: true, bnb_4bit_quant_type: 'nf4', bnb_4bit_use_double_quant: true });
    expect(constant(script, 'MODEL')).toBe(JSON.stringify(TINY_LLAMA));
  });

  it('writes prompt/completion pairs for TRL with completion-only loss, and refuses them for axolotl', async () => {
    const recipe = tinyRecipe('tiny-pc', [{ prompt: 'Q: 1+1?', completion: ' 2' }], 'training:\n  maxSteps: 3\n');
    const out = join(dir, 'tiny-pc-trl');
    expect((await runCaptured(['export-recipe', recipe, '--to', 'trl', '--out', out])).code).toBe(0);
    const sft = constant(readFileSync(join(out, 'train_trl.py'), 'utf8'), 'SFT');
    expect(sft).toMatchObject({ completion_only_loss: true, assistant_only_loss: false, max_steps: 3 });
    const refused = await runCaptured(['export-recipe', recipe, '--to', 'axolotl', '--out', join(dir, 'tiny-pc-ax')]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('data.format');
  });

  it('exports conversations with a template file: completion mask for both targets, assistant mask needs generation blocks for TRL', async () => {
    const turns = [
      { role: 'system', content: 'Be brief.' },
      { role: 'user', content: 'Hi' },
      { role: 'assistant', content: 'Hello' },
      { role: 'user', content: 'Bye' },
      { role: 'assistant', content: 'Goodbye' },
    ];
    const template = '{% for m in messages %}{{ m.role }}: {{ m.content }}\n{% endfor %}';
    writeFileSync(join(dir, 'chat.jinja'), template);
    const completion = tinyRecipe('tiny-chat', [{ messages: turns }], `  chatTemplate: ${join(dir, 'chat.jinja')}\n  mask: completion\n`);
    const trl = join(dir, 'tiny-chat-trl');
    expect((await runCaptured(['export-recipe', completion, '--to', 'trl', '--out', trl])).code).toBe(0);
    expect(JSON.parse(readFileSync(join(trl, 'data', 'train.jsonl'), 'utf8'))).toEqual({
      prompt: turns.slice(0, -1),
      completion: turns.slice(-1),
    });
    const script = readFileSync(join(trl, 'train_trl.py'), 'utf8');
    expect(constant(script, 'SFT')).toMatchObject({ completion_only_loss: true, assistant_only_loss: false });
    expect(JSON.parse(constant(script, 'CHAT_TEMPLATE') as string)).toBe(template);
    const axolotl = join(dir, 'tiny-chat-axolotl');
    expect((await runCaptured(['export-recipe', completion, '--to', 'axolotl', '--out', axolotl])).code).toBe(0);
    const rows = JSON.parse(readFileSync(join(axolotl, 'data', 'train.jsonl'), 'utf8')) as { messages: { training: boolean }[] };
    expect(rows.messages.map((m) => m.training)).toEqual([false, false, false, false, true]);
    const yaml = parseYaml(readFileSync(join(axolotl, 'axolotl.yaml'), 'utf8')) as { datasets: unknown[] };
    expect(yaml.datasets).toEqual([
      {
        path: 'data/train.jsonl',
        ds_type: 'json',
        type: 'chat_template',
        field_messages: 'messages',
        chat_template: 'jinja',
        chat_template_jinja: template,
        roles_to_train: ['assistant'],
        message_field_training: 'training',
      },
    ]);

    const assistant = tinyRecipe('tiny-chat-a', [{ messages: turns }], `  chatTemplate: ${join(dir, 'chat.jinja')}\n`);
    const refused = await runCaptured(['export-recipe', assistant, '--to', 'trl', '--out', join(dir, 'tiny-chat-a-trl')]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('data.mask');
    expect(refused.stderr).toContain('generation');
    expect((await runCaptured(['export-recipe', assistant, '--to', 'axolotl', '--out', join(dir, 'tiny-chat-a-ax')])).code).toBe(0);
  });

  it('refuses a non-empty --out without --overwrite, and names the bad record of a strict recipe', async () => {
    const recipe = tinyRecipe('tiny-bad', [{ text: 'ok' }, { txt: 'typo' }], '');
    const out = join(dir, 'tiny-bad-out');
    const bad = await runCaptured(['export-recipe', recipe, '--to', 'trl', '--out', out]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain(`${join(dir, 'tiny-bad', 'train.jsonl')}:2`);
    expect(existsSync(out)).toBe(false);

    const good = tinyRecipe('tiny-good', [{ text: 'ok' }], '');
    mkdirSync(out);
    writeFileSync(join(out, 'keep.txt'), 'x');
    const refused = await runCaptured(['export-recipe', good, '--to', 'trl', '--out', out]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('--overwrite');
    expect(readdirSync(out)).toEqual(['keep.txt']);
    expect((await runCaptured(['export-recipe', good, '--to', 'trl', '--out', out, '--overwrite'])).code).toBe(0);
    expect(readdirSync(out).sort()).toEqual(['data', 'export_report.json', 'train_trl.py']);
  });
});
