import { InvalidArgumentError } from '@lora/core';
import type { Tokenizer } from '../tokenizers/tokenizer.js';
import { ChatTemplate, resolveChatTemplate, specialTokenVariables } from './chat-template.js';
import { assistantSpansByPrefix, spansToTokenMask } from './masks.js';
import type { ChatMessage } from './messages.js';

/** Which tokens are trained (label mask 1). */
export type MaskMode = 'assistant' | 'completion' | 'all';

/** Options of {@link encodeChat} and {@link renderChat}. */
export interface EncodeChatOptions {
  /** `assistant` (every assistant turn, default), `completion` (see `completionStart`) or `all`. */
  mask?: MaskMode;
  /**
   * For `mask: 'completion'`: index of the first completion message; assistant messages from there
   * on are trained. Default: only the last assistant message.
   */
  completionStart?: number;
  /** Append the generation prompt (for inference; nothing is trained after it). Default false. */
  addGenerationPrompt?: boolean;
  /** Tool definitions for the template. */
  tools?: readonly Record<string, unknown>[];
  /** Jinja source or template name; default: the tokenizer's template (`tool_use` when tools are given). */
  chatTemplate?: string;
  /** Extra template variables, e.g. `{ enable_thinking: false }`. */
  templateVariables?: Record<string, unknown>;
  /**
   * Prepend BOS when the rendered text does not already start with it. Default false, as
   * transformers (templates that need BOS render it); set true for templates that do not, such as
   * STORIES_CHAT_TEMPLATE.
   */
  addBos?: boolean;
}

/** Token ids and the per-token label mask (1 = trained) of one example. */
export interface EncodedExample {
  /** Token ids. */
  inputIds: Int32Array;
  /** 1 where the token is a training target, 0 elsewhere (same length as `inputIds`). */
  labelsMask: Uint8Array;
}

const templateCache = new WeakMap<Tokenizer, Map<string, ChatTemplate>>();

function compiledTemplate(tokenizer: Tokenizer, source: string): ChatTemplate {
  let byTokenizer = templateCache.get(tokenizer);
  if (byTokenizer === undefined) templateCache.set(tokenizer, (byTokenizer = new Map()));
  let t = byTokenizer.get(source);
  if (t === undefined) byTokenizer.set(source, (t = new ChatTemplate(source)));
  return t;
}

function templateFor(tokenizer: Tokenizer, options: EncodeChatOptions): ChatTemplate {
  const source = resolveChatTemplate(tokenizer, {
    ...(options.chatTemplate === undefined ? {} : { chatTemplate: options.chatTemplate }),
    hasTools: options.tools !== undefined && options.tools.length > 0,
  });
  return compiledTemplate(tokenizer, source);
}

/**
 * Renders messages to text with the tokenizer's chat template, identical to transformers'
 * `apply_chat_template(messages, tokenize=False, ...)`.
 */
export function renderChat(tokenizer: Tokenizer, messages: readonly ChatMessage[], options: EncodeChatOptions = {}): string {
  return templateFor(tokenizer, options).render(messages, {
    addGenerationPrompt: options.addGenerationPrompt ?? false,
    ...(options.tools === undefined ? {} : { tools: options.tools }),
    specialTokens: specialTokenVariables(tokenizer),
    ...(options.templateVariables === undefined ? {} : { extra: options.templateVariables }),
  }).text;
}

/**
 * Renders and tokenizes a conversation and marks the trained tokens.
 *
 * Assistant spans come from the template's `{% generation %}` blocks when it has them (equal to
 * transformers' `return_assistant_tokens_mask`), else from incremental prefix renders
 * (`assistantSpansByPrefix`), which include each turn's end-of-turn tokens. Text is encoded
 * without adding special tokens, as `apply_chat_template(tokenize=True)` does.
 *
 * @example
 * ```ts
 * const { inputIds, labelsMask } = encodeChat(tok, [
 *   { role: 'user', content: 'What is 2 + 2?' },
 *   { role: 'assistant', content: '4' },
 * ]);
 * ```
 */
export function encodeChat(tokenizer: Tokenizer, messages: readonly ChatMessage[], options: EncodeChatOptions = {}): EncodedExample {
  const mode = options.mask ?? 'assistant';
  const template = templateFor(tokenizer, options);
  const renderOptions = {
    ...(options.tools === undefined ? {} : { tools: options.tools }),
    specialTokens: specialTokenVariables(tokenizer),
    ...(options.templateVariables === undefined ? {} : { extra: options.templateVariables }),
  };
  const addGen = options.addGenerationPrompt ?? false;
  const rendered = template.render(messages, { ...renderOptions, addGenerationPrompt: addGen });
  const ids = tokenizer.encode(rendered.text, { addSpecialTokens: false });
  let mask: Uint8Array;
  if (mode === 'all') mask = new Uint8Array(ids.length).fill(1);
  else {
    const assistant = messages.flatMap((m, i) => (m.role === 'assistant' ? [i] : []));
    let wanted = assistant;
    if (mode === 'completion') {
      const from = options.completionStart;
      if (from !== undefined && (!Number.isInteger(from) || from < 0 || from > messages.length)) {
        throw new InvalidArgumentError({
          argument: 'completionStart',
          message: `must be an index in [0, ${messages.length}], got ${from}`,
        });
      }
      wanted = from === undefined ? assistant.slice(-1) : assistant.filter((i) => i >= from);
    }
    let spans: [number, number][];
    if (template.hasGenerationBlocks) {
      // Generation blocks appear in assistant-message order; keep the wanted ones.
      const order = new Map(assistant.map((msgIndex, k) => [msgIndex, k]));
      spans = wanted.flatMap((i) => {
        const span = rendered.generationSpans[order.get(i) ?? -1];
        return span === undefined ? [] : [span];
      });
    } else {
      const render = (msgs: readonly ChatMessage[], gen: boolean) =>
        template.render(msgs, { ...renderOptions, addGenerationPrompt: gen }).text;
      spans = assistantSpansByPrefix(render, messages, wanted);
    }
    mask = spansToTokenMask(tokenizer, rendered.text, ids, spans);
  }
  return withBos(tokenizer, ids, mask, options.addBos ?? false);
}

function withBos(tokenizer: Tokenizer, ids: number[], mask: Uint8Array, addBos: boolean): EncodedExample {
  const bos = tokenizer.bosTokenId;
  if (addBos && bos !== undefined && ids[0] !== bos) {
    const inputIds = new Int32Array(ids.length + 1);
    inputIds[0] = bos;
    inputIds.set(ids, 1);
    const labelsMask = new Uint8Array(ids.length + 1);
    labelsMask.set(mask, 1);
    return { inputIds, labelsMask };
  }
  return { inputIds: Int32Array.from(ids), labelsMask: mask };
}

/** A prompt/completion pair: plain strings, or message lists (conversational). */
export type PromptCompletion =
  | { prompt: string; completion: string }
  | { prompt: readonly ChatMessage[]; completion: readonly ChatMessage[] };

/** Options of {@link encodePromptCompletion}. */
export interface EncodePromptCompletionOptions extends Omit<EncodeChatOptions, 'mask' | 'completionStart' | 'addGenerationPrompt'> {
  /** Train on the prompt too (mask `all`). Default false: completion only. */
  trainOnPrompt?: boolean;
  /** Plain-text pairs: append the first EOS id after the completion (trained). Default true. */
  addEos?: boolean;
}

/**
 * Encodes a prompt/completion pair with the completion trained.
 * - Strings: `encode(prompt)` (with the tokenizer's special tokens, e.g. BOS) followed by
 *   `encode(completion)` without special tokens and EOS — tokenized separately, as TRL does, so
 *   the boundary is exact.
 * - Message lists: the chat template over `[...prompt, ...completion]`, training the assistant
 *   messages of the completion.
 */
export function encodePromptCompletion(
  tokenizer: Tokenizer,
  example: PromptCompletion,
  options: EncodePromptCompletionOptions = {},
): EncodedExample {
  if (typeof example.prompt === 'string' && typeof example.completion === 'string') {
    const promptIds = tokenizer.encode(example.prompt);
    const completionIds = tokenizer.encode(example.completion, { addSpecialTokens: false });
    const eos = tokenizer.eosTokenIds[0];
    if ((options.addEos ?? true) && eos !== undefined) completionIds.push(eos);
    const inputIds = Int32Array.from([...promptIds, ...completionIds]);
    const labelsMask = new Uint8Array(inputIds.length).fill(1, options.trainOnPrompt === true ? 0 : promptIds.length);
    return { inputIds, labelsMask };
  }
  if (Array.isArray(example.prompt) && Array.isArray(example.completion)) {
    const messages = [...(example.prompt as readonly ChatMessage[]), ...(example.completion as readonly ChatMessage[])];
    return encodeChat(tokenizer, messages, {
      ...options,
      mask: options.trainOnPrompt === true ? 'all' : 'completion',
      completionStart: example.prompt.length,
    });
  }
  throw new InvalidArgumentError({ argument: 'example', message: 'prompt and completion must both be strings or both be message lists' });
}
