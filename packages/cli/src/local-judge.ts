import type { JudgeModel } from '@lora/judge';
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
}

/**
 * Loads an `@lora` model (and adapter) in-process and wraps it as a judge: each request becomes one
 * user turn of the model's chat template (system text first, then the prompt and the JSON Schema
 * to answer with, as {@link createLocalJudge} renders it), decoded greedily until an
 * end-of-sequence / end-of-turn token. Returns the judge and a `dispose` for the weights.
 */
export async function loadLocalJudge(options: LocalJudgeCliOptions, io: CliIo): Promise<{ judge: JudgeModel; dispose: () => void }> {
  const { resolveAsset } = await import('@lora/core');
  const models = await import('@lora/models');
  const { renderChat } = await import('@lora/data');
  const { createLocalJudge } = await import('@lora/judge');
  const { loadModelTokenizer, decodeContinuation, stopTokenIds } = await import('./tokenizer.js');
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
  if (tokenizer.settings.chatTemplates['default'] === undefined) {
    model.dispose();
    const { InvalidArgumentError } = await import('@lora/core');
    throw new InvalidArgumentError({
      argument: '--model',
      message: `${options.model} has no chat template; a local judge needs an instruction-tuned model with one (e.g. SmolLM2-135M-Instruct).`,
    });
  }
  const stopIds = stopTokenIds(tokenizer, models.defaultStopTokenIds(loaded.config));
  const name = options.adapter === undefined ? options.model : `${options.model}+${options.adapter}`;
  const judge = createLocalJudge({
    model: name,
    countTokens: (text) => tokenizer.encode(text, { addSpecialTokens: false }).length,
    generate: async (prompt) => {
      const text = renderChat(tokenizer, [{ role: 'user', content: prompt }], { addGenerationPrompt: true });
      const promptIds = tokenizer.encode(text, { addSpecialTokens: false });
      const { sequences } = await models.generate(model, [promptIds], { maxNewTokens: options.maxNewTokens, stopTokenIds: stopIds });
      const newIds = (sequences[0] ?? []).filter((id) => !stopIds.includes(id));
      return decodeContinuation(tokenizer, promptIds, newIds);
    },
  });
  return { judge, dispose: () => model.dispose() };
}
