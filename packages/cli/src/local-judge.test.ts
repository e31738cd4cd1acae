import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { STORIES_CHAT_TEMPLATE } from '@lora/data';
import type { JudgeModel, JudgeRequest } from '@lora/judge';
import { PairwiseVerdictSchema, ReferenceVerdictSchema, rubricScoreSchema, SafetyVerdictSchema } from '@lora/judge/internal';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CliIo } from './io.js';
import { loadLocalJudge } from './local-judge.js';
import { run } from './program.js';

const assets = process.env.LORA_ASSETS_DIR;
const skipReason = 'skipped: LORA_ASSETS_DIR is unset (point it at ../shared to run)';
if (assets === undefined) console.warn(`[lora local judge] ${skipReason}`);
const backend = process.env.LORA_TEST_BACKEND ?? 'wasm';
type Schema = NonNullable<JudgeRequest['responseFormat']>['schema'];

/** A short judging request (stories260K has a 512-token context). */
function request(schema: Schema, name: string): JudgeRequest {
  return {
    messages: [
      { role: 'system', content: 'You judge stories.' },
      { role: 'user', content: 'Story 1: Lily saw a cat. Story 2: Tom ran home. Judge them.' },
    ],
    responseFormat: { name, schema },
    temperature: 0,
  };
}

describe.skipIf(assets === undefined)(
  `local judge on stories260K, constrained to the schema${assets === undefined ? ` (${skipReason})` : ''}`,
  () => {
    const io: CliIo = { writeOut: () => {}, writeErr: () => {}, env: { LORA_ASSETS_DIR: assets, LORA_BACKEND: backend } };
    const steps: number[] = [];
    let constrained: { judge: JudgeModel; dispose: () => void };
    let free: { judge: JudgeModel; dispose: () => void };
    beforeAll(async () => {
      const common = { model: 'stories260K', maxNewTokens: 48, chatTemplate: STORIES_CHAT_TEMPLATE };
      constrained = await loadLocalJudge({ ...common, onConstrainedReply: (s) => steps.push(s.steps) }, io);
      free = await loadLocalJudge({ ...common, constrained: false }, io);
    });
    afterAll(() => {
      constrained?.dispose();
      free?.dispose();
    });

    it('every verdict schema gets JSON that parses with it, within the token budget', async () => {
      const schemas: Array<[Schema, string]> = [
        [PairwiseVerdictSchema, 'pairwise_verdict'],
        [ReferenceVerdictSchema, 'reference_verdict'],
        [rubricScoreSchema(1, 5), 'rubric_score'],
        [SafetyVerdictSchema, 'safety_verdict'],
      ];
      for (const [schema, name] of schemas) {
        const { text } = await constrained.judge.complete(request(schema, name));
        const parsed = schema.safeParse(JSON.parse(text));
        expect(parsed.success, `${name}: ${text}`).toBe(true);
      }
      expect(steps).toHaveLength(4);
      for (const n of steps) expect(n).toBeLessThanOrEqual(48);
    });

    it('a model without a chat template needs one given', async () => {
      await expect(loadLocalJudge({ model: 'stories260K', maxNewTokens: 8 }, io)).rejects.toThrow(/no chat template.*--chat-template/);
    });

    it('without the constraint the same model does not answer with JSON', async () => {
      const { text } = await free.judge.complete(request(PairwiseVerdictSchema, 'pairwise_verdict'));
      expect(() => PairwiseVerdictSchema.parse(JSON.parse(text))).toThrow();
    });

    it('lora judge pairwise --provider local judges every item', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'lora-local-judge-'));
      try {
        const line = (id: string, prediction: string) => JSON.stringify({ id, prompt: 'Tell a story.', prediction });
        writeFileSync(join(dir, 'a.jsonl'), `${line('s1', 'Lily saw a cat.')}\n`);
        writeFileSync(join(dir, 'b.jsonl'), `${line('s1', 'Tom ran.')}\n`);
        let stderr = '';
        const code = await run(
          ['node', 'lora', 'judge', 'pairwise', '--a', join(dir, 'a.jsonl'), '--b', join(dir, 'b.jsonl'), '--out', join(dir, 'out')].concat(
            ['--provider', 'local', '--model', 'stories260K', '--chat-template', 'stories', '--max-new-tokens', '40', '--no-cache'],
          ),
          { ...io, writeErr: (t) => void (stderr += t) },
        );
        expect(code, stderr).toBe(0);
        const rows = readFileSync(join(dir, 'out', 'verdicts.jsonl'), 'utf8')
          .trim()
          .split('\n')
          .map((l) => JSON.parse(l));
        expect(rows.map((r) => r.status)).toEqual(['judged']);
        expect(stderr).toMatch(/constrained decoding: 2 replies/);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  },
);
