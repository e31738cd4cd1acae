import { InvalidArgumentError } from '@lora/core';
import type { JudgeModel, StructuredOutputMode } from './model.js';
import { createGeminiJudge } from './providers/gemini.js';
import { createOpenAICompatibleJudge, createOpenAIJudge } from './providers/openai.js';

/** Providers a run can name. `local` needs a `judge` model passed in code. */
export type JudgeProviderName = 'openai' | 'gemini' | 'openai-compatible';

/** Settings of {@link createJudgeModel}. */
export interface CreateJudgeModelOptions {
  /** Which API. */
  provider: JudgeProviderName;
  /** Model id. */
  model: string;
  /** Base URL (required for `openai-compatible`). */
  baseUrl?: string;
  /** API key; else read from env (`OPENAI_API_KEY`, `GEMINI_API_KEY` / `GOOGLE_API_KEY`). */
  apiKey?: string;
  /** Per-attempt timeout in ms (default 60 000). */
  timeoutMs?: number;
  /** Custom fetch. */
  fetch?: typeof globalThis.fetch;
  /**
   * How `openai` and `openai-compatible` judges ask for JSON: `auto` (the default for
   * `openai-compatible`: `json_schema`, falling back to `json_object`, then `none`, when the server
   * refuses) or a pinned mode (`json_schema` is the default for `openai`); see
   * `OpenAIJudgeSettings.structuredOutputs`.
   * Gemini always uses its `responseSchema`, so only `auto` is accepted there.
   */
  structuredOutputs?: 'auto' | StructuredOutputMode;
}

/** Builds the {@link JudgeModel} for a provider name, as the CLI does. */
export function createJudgeModel(options: CreateJudgeModelOptions): JudgeModel {
  const common = {
    model: options.model,
    ...(options.apiKey === undefined ? {} : { apiKey: options.apiKey }),
    ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }),
    ...(options.fetch === undefined ? {} : { fetch: options.fetch }),
  };
  const structured = options.structuredOutputs === undefined ? {} : { structuredOutputs: options.structuredOutputs };
  switch (options.provider) {
    case 'openai':
      return createOpenAIJudge({ ...common, ...structured, ...(options.baseUrl === undefined ? {} : { baseURL: options.baseUrl }) });
    case 'gemini':
      if (options.structuredOutputs !== undefined && options.structuredOutputs !== 'auto') {
        throw new InvalidArgumentError({
          argument: 'structuredOutputs',
          message: `the \`gemini\` provider always asks with its \`responseSchema\`; \`${options.structuredOutputs}\` applies to openai and openai-compatible only`,
        });
      }
      return createGeminiJudge({ ...common, ...(options.baseUrl === undefined ? {} : { baseUrl: options.baseUrl }) });
    case 'openai-compatible':
      if (options.baseUrl === undefined) {
        throw new InvalidArgumentError({
          argument: 'baseUrl',
          message:
            'the `openai-compatible` provider needs `baseUrl`, e.g. http://127.0.0.1:8000/v1 (vLLM) or http://127.0.0.1:11434/v1 (Ollama)',
        });
      }
      return createOpenAICompatibleJudge({ ...common, ...structured, baseURL: options.baseUrl });
    default:
      throw new InvalidArgumentError({
        argument: 'provider',
        message: `unknown provider \`${String(options.provider)}\`; use openai, gemini or openai-compatible`,
      });
  }
}
