import type { JudgeModel, JudgeRequest } from '@lora/judge';
import type { BackendName } from '@lora/models';
import type { CliIo } from './io.js';

/** What `lora judge --provider local` loads. */
export interface LocalJudgeCliOptions {
  /** Model name or path (resolved like `--model` of `lora generate`). */
  model: string;
  /** PEFT adapter folder applied on top. */
  adapter?: string;
  /** Backend instead of the automatic choice. */
  backend?: BackendName;
  /** Longest verdict, in tokens. */
  maxNewTokens: number;
  /**
   * Chat template (Jinja text) instead of the tokenizer's, e.g. `STORIES_CHAT_TEMPLATE` of
   * `@lora/data` for stories260K; required when the tokenizer has none.
   */
  chatTemplate?: string;
  /**
   * Constrain decoding to the request's JSON Schema (default true): every reply is JSON of the
   * verdict's shape. False decodes freely (the schema is still in the prompt).
   */
  constrained?: boolean;
  /** Called after each constrained reply with its masking time (ms per step), for measurements. */
  onConstrainedReply?: (stats: { steps: number; ms: number; walks: number; cacheHits: number }) => void;
}

/**
 * Loads an `@lora` model (and adapter) in-process and wraps it as a judge: each request becomes one
 * user turn of the model's chat template (system text first, then the prompt and the JSON Schema
 * to answer with, as {@link createLocalJudge} renders it), decoded greedily until an
 * end-of-sequence / end-of-turn token. When the request asks for JSON, decoding is constrained to
 * its schema (as llama.cpp's grammars do): a logits processor over the schema's
 * `createJsonSchemaAcceptor` masks every token that would leave the JSON, and the reply ends as soon
 * as the JSON is complete. Returns the judge and a `dispose` for the weights.
 */
export async function loadLocalJudge(options: LocalJudgeCliOptions, io: CliIo): Promise<{ judge: JudgeModel; dispose: () => void }> {
  const { resolveAsset } = await import('@lora/core');
  const models = await import('@lora/models');
  const { renderChat } = await import('@lora/data');
  const { createLocalJudge } = await import('@lora/judge');
  const { createJsonSchemaAcceptor } = await import('@lora/judge/internal');
  const { loadModelTokenizer, decodeContinuation, stopTokenIds } = await import('./tokenizer.js');
  const { vocabularyTexts, jsonLogitsProcessor } = await import('./constrained-decoding.js');
  const path = await resolveAsset(options.model, { kind: 'model', env: io.env, onProgress: (p) => io.writeErr(`${p.message}\n`) });
  await models.selectBackend({
    ...(options.backend === undefined ? {} : { backend: options.backend }),
    env: io.env,
    log: (line) => io.writeErr(`${line}\n`),
  });
  const loaded = await models.loadModel(path);
  let model = loaded.model;
  if (options.adapter !== undefined) {
    const { loadPeftModel } = await import('@lora/peft');
    model = await loadPeftModel(model, options.adapter);
  }
  const tokenizer = await loadModelTokenizer(loaded);
  const chatTemplate = options.chatTemplate;
  if (chatTemplate === undefined && tokenizer.settings.chatTemplates['default'] === undefined) {
    model.dispose();
    const { InvalidArgumentError } = await import('@lora/core');
    throw new InvalidArgumentError({
      argument: '--model',
      message:
        `${options.model} has no chat template; a local judge needs an instruction-tuned model with one ` +
        '(e.g. SmolLM2-135M-Instruct), or a template (--chat-template stories|<file.jinja>).',
    });
  }
  const stopIds = stopTokenIds(tokenizer, models.defaultStopTokenIds(loaded.config));
  // Per schema: its acceptor and the allowed ids of each acceptor state (shared by every reply).
  const constraints = new Map<unknown, { acceptor: ReturnType<typeof createJsonSchemaAcceptor>; cache: Map<string, Uint8Array> }>();
  let vocabulary: ReturnType<typeof vocabularyTexts> | undefined;
  const constraintFor = (request: JudgeRequest) => {
    if (options.constrained === false || request.responseFormat === undefined) return undefined;
    const schema = request.responseFormat.schema;
    let entry = constraints.get(schema);
    if (entry === undefined) {
      entry = { acceptor: createJsonSchemaAcceptor(schema), cache: new Map() };
      constraints.set(schema, entry);
    }
    vocabulary ??= vocabularyTexts(tokenizer);
    return jsonLogitsProcessor(entry.acceptor, vocabulary, stopIds, { cache: entry.cache, maxNewTokens: options.maxNewTokens });
  };
  const totals = { replies: 0, steps: 0, ms: 0, walks: 0, cacheHits: 0 };
  const name = options.adapter === undefined ? options.model : `${options.model}+${options.adapter}`;
  const judge = createLocalJudge({
    model: name,
    countTokens: (text) => tokenizer.encode(text, { addSpecialTokens: false }).length,
    generate: async (prompt, request) => {
      const text = renderChat(tokenizer, [{ role: 'user', content: prompt }], {
        addGenerationPrompt: true,
        ...(chatTemplate === undefined ? {} : { chatTemplate }),
      });
      const promptIds = tokenizer.encode(text, { addSpecialTokens: false });
      const constraint = constraintFor(request);
      const { sequences } = await models.generate(model, [promptIds], {
        maxNewTokens: options.maxNewTokens,
        stopTokenIds: stopIds,
        ...(constraint === undefined
          ? {}
          : { processLogits: constraint.processLogits, stop: (tokens: readonly number[]) => constraint.isComplete(tokens) }),
      });
      if (constraint !== undefined) {
        options.onConstrainedReply?.(constraint.stats);
        totals.replies++;
        totals.steps += constraint.stats.steps;
        totals.ms += constraint.stats.ms;
        totals.walks += constraint.stats.walks;
        totals.cacheHits += constraint.stats.cacheHits;
      }
      const newIds = (sequences[0] ?? []).filter((id) => !stopIds.includes(id));
      return decodeContinuation(tokenizer, promptIds, newIds);
    },
  });
  const dispose = () => {
    model.dispose();
    if (totals.steps === 0) return;
    const perStep = (totals.ms / totals.steps).toFixed(2);
    io.writeErr(
      `[lora] constrained decoding: ${totals.replies} replies, ${totals.steps} steps, ${perStep} ms/step masking ` +
        `(${totals.walks} vocabulary walks, ${totals.cacheHits} cached)\n`,
    );
  };
  return { judge, dispose };
}
