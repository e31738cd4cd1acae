import { Template } from '@huggingface/jinja';
import { InvalidArgumentError, LoraError } from '@lora/core';
import type { Tokenizer } from '../tokenizers/tokenizer.js';
import { patchJinjaStripMethods } from './jinja-strip-patch.js';
import type { ChatMessage } from './messages.js';

/** Marks the start / end of a `{% generation %}` block in rendered text (Unicode noncharacters). */
const GEN_START = '\uFDD0';
const GEN_END = '\uFDD1';
const GENERATION_TAG = /{%(-?)\s*(end)?generation\s*(-?)%}/g;

/** Options of {@link ChatTemplate.render}. */
export interface RenderChatOptions {
  /** Append the template's generation prompt (the assistant header). Default false. */
  addGenerationPrompt?: boolean;
  /** Tool definitions, exposed to the template as `tools`. */
  tools?: readonly Record<string, unknown>[];
  /** Special-token strings exposed as `bos_token`, `eos_token`, `pad_token`, `unk_token`. */
  specialTokens?: { bos_token?: string; eos_token?: string; pad_token?: string; unk_token?: string };
  /** Extra template variables, e.g. `{ enable_thinking: false }` (Qwen3) or `{ date_string }` (Llama 3.x). */
  extra?: Record<string, unknown>;
}

/** Rendered text plus the `[start, end)` character spans of its `{% generation %}` blocks. */
export interface RenderedChat {
  /** The text, identical to transformers' `apply_chat_template(tokenize=False)`. */
  text: string;
  /** Character spans inside `{% generation %}` blocks (empty when the template has none). */
  generationSpans: [number, number][];
}

/**
 * A compiled Jinja chat template, rendered with @huggingface/jinja the way transformers renders
 * `apply_chat_template`: `messages`, `tools`, `add_generation_prompt`, the special-token strings,
 * extra variables, and the globals `raise_exception` and `strftime_now`. `{% generation %}` blocks
 * are tracked so assistant masks can follow them.
 *
 * @example
 * ```ts
 * const t = new ChatTemplate(tokenizer.settings.chatTemplates.default!);
 * t.render([{ role: 'user', content: 'Hi' }], { addGenerationPrompt: true }).text;
 * ```
 */
export class ChatTemplate {
  /** The Jinja source as given. */
  readonly source: string;
  /** True when the template marks assistant text with `{% generation %}` blocks. */
  readonly hasGenerationBlocks: boolean;
  private readonly compiled: Template;

  /** @throws InvalidArgumentError when the source does not parse. */
  constructor(source: string) {
    patchJinjaStripMethods(); // idempotent; see jinja-strip-patch.ts
    this.source = source;
    this.hasGenerationBlocks = /{%-?\s*generation\s*-?%}/.test(source);
    // Replace the generation tags by block tags that print a marker, keeping their whitespace control:
    // `{%- generation -%}` → `{%- if true %}{{ MARK }}{% endif -%}`.
    const rewritten = source.replace(GENERATION_TAG, (_m, left: string, end: string | undefined, right: string) => {
      const mark = end === undefined ? GEN_START : GEN_END;
      return `{%${left} if true %}{{ '${mark}' }}{% endif ${right}%}`;
    });
    try {
      this.compiled = new Template(rewritten);
    } catch (error) {
      throw new InvalidArgumentError({
        argument: 'chatTemplate',
        message: `the Jinja template does not parse: ${(error as Error).message}`,
        cause: error,
      });
    }
  }

  /**
   * Renders messages.
   *
   * @throws LoraError with the template's message when it calls `raise_exception` or fails.
   */
  render(messages: readonly ChatMessage[], options: RenderChatOptions = {}): RenderedChat {
    const context: Record<string, unknown> = {
      messages,
      add_generation_prompt: options.addGenerationPrompt ?? false,
      ...(options.tools === undefined ? {} : { tools: options.tools }),
    };
    for (const [k, v] of Object.entries(options.specialTokens ?? {})) if (v !== undefined) context[k] = v;
    Object.assign(context, options.extra ?? {});
    let raw: string;
    try {
      raw = this.compiled.render(context);
    } catch (error) {
      throw new LoraError(`chat template failed: ${(error as Error).message}`, { cause: error });
    }
    if (!this.hasGenerationBlocks) return { text: raw, generationSpans: [] };
    let text = '';
    const spans: [number, number][] = [];
    let open = -1;
    for (const ch of raw) {
      if (ch === GEN_START) open = text.length;
      else if (ch === GEN_END) {
        if (open >= 0 && text.length > open) spans.push([open, text.length]);
        open = -1;
      } else text += ch;
    }
    return { text, generationSpans: spans };
  }
}

/** Options of {@link resolveChatTemplate}. */
export interface ResolveChatTemplateOptions {
  /** A Jinja source, or the name of one of the tokenizer's named templates (e.g. `"tool_use"`). */
  chatTemplate?: string;
  /** Whether tools are passed (picks a `"tool_use"` template when there is one). */
  hasTools?: boolean;
}

/**
 * Picks the template transformers would: an explicit source; a name among the tokenizer's
 * templates; `"tool_use"` when tools are given and it exists; else `"default"`.
 *
 * @throws InvalidArgumentError when the tokenizer has no chat template and none is given.
 */
export function resolveChatTemplate(tokenizer: Tokenizer, options: ResolveChatTemplateOptions = {}): string {
  const templates = tokenizer.settings.chatTemplates;
  const given = options.chatTemplate;
  if (given !== undefined) return templates[given] ?? given;
  const picked = (options.hasTools === true ? templates['tool_use'] : undefined) ?? templates['default'];
  if (picked === undefined) {
    const names = Object.keys(templates);
    throw new InvalidArgumentError({
      argument: 'chatTemplate',
      message:
        names.length === 0
          ? 'this tokenizer has no chat template; pass one (e.g. STORIES_CHAT_TEMPLATE for stories260K)'
          : `no "default" chat template; pick one of ${names.map((n) => `"${n}"`).join(', ')}`,
    });
  }
  return picked;
}

/** Special-token strings of a tokenizer, as template variables. */
export function specialTokenVariables(tokenizer: Tokenizer): NonNullable<RenderChatOptions['specialTokens']> {
  const s = tokenizer.settings;
  return {
    ...(s.bosToken === undefined ? {} : { bos_token: s.bosToken }),
    ...(s.eosToken === undefined ? {} : { eos_token: s.eosToken }),
    ...(s.padToken === undefined ? {} : { pad_token: s.padToken }),
    ...(s.unkToken === undefined ? {} : { unk_token: s.unkToken }),
  };
}
