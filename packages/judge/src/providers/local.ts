import { JudgeCallError } from '../errors/judge-call-error.js';
import type { JudgeCompletion, JudgeModel, JudgeRequest } from '../model.js';
import { schemaInstruction } from '../prompts/schema-instruction.js';

/**
 * A {@link JudgeModel} over a local `generate(prompt)` function, so a model running in-process
 * (a `@lora` model, any other runtime) can judge. This package stays tensor-free; the caller wires
 * the model in.
 *
 * @example
 * ```ts
 * const judge = createLocalJudge({ model: 'tiny', generate: async (p) => myModel.generateText(p) });
 * ```
 */
export function createLocalJudge(settings: {
  /** Name of the local model (cache key and reports), e.g. `llama-3.2-1b+adapter`. */
  model: string;
  /**
   * Generates a completion for a plain prompt. Plug a `@lora` model's generate here. The request
   * it came from is the second argument, so a generator can constrain its decoding to
   * `request.responseFormat` (e.g. with `createJsonSchemaAcceptor`, as `lora judge
   * --provider local` does); a generator may ignore it.
   */
  generate: (prompt: string, request: JudgeRequest) => Promise<string>;
  /** Token counter for usage accounting; defaults to none (usage reported as 0). */
  countTokens?: (text: string) => number;
  /**
   * Renders the messages into one prompt. The default joins system and user turns with blank
   * lines and, when JSON is requested, appends the JSON Schema and an instruction to answer with
   * JSON only (a generator may also constrain its decoding, see `generate`).
   */
  formatPrompt?: (request: JudgeRequest) => string;
}): JudgeModel {
  const format = settings.formatPrompt ?? defaultFormatPrompt;
  return {
    provider: 'local',
    modelId: settings.model,
    async complete(request: JudgeRequest): Promise<JudgeCompletion> {
      const prompt = format(request);
      let text: string;
      try {
        text = await settings.generate(prompt, request);
      } catch (error) {
        throw new JudgeCallError({
          provider: 'local',
          kind: 'server',
          message: error instanceof Error ? error.message : String(error),
          cause: error,
        });
      }
      const count = settings.countTokens;
      return { text, usage: { inputTokens: count ? count(prompt) : 0, outputTokens: count ? count(text) : 0 } };
    },
  };
}

/** The default local prompt renderer used by {@link createLocalJudge}. */
export function defaultFormatPrompt(request: JudgeRequest): string {
  const parts = request.messages.map((m) => m.content);
  if (request.responseFormat !== undefined) {
    parts.push(schemaInstruction(request.responseFormat));
  }
  return parts.join('\n\n');
}
