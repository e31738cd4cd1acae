import { encodeChat, encodePromptCompletion, type EncodeChatOptions, type MaskMode } from '../chat/encode-chat.js';
import type { Example } from '../formats/example.js';
import { multipleChoicePrompt } from '../formats/multiple-choice.js';
import type { Tokenizer } from '../tokenizers/tokenizer.js';
import type { TokenizedExample } from '../transforms/tokenized-example.js';

/** Turns an {@link Example} into token ids and a labels mask. */
export type ExampleEncoder = (example: Example) => TokenizedExample;

/** Options of {@link exampleEncoder}. */
export interface ExampleEncoderOptions extends Pick<EncodeChatOptions, 'chatTemplate' | 'templateVariables' | 'addBos'> {
  /** Conversations: which tokens are trained (default `assistant`: every assistant turn). */
  mask?: MaskMode;
  /** Prompt/completion, multiple choice and text: append EOS (trained). Default true. */
  addEos?: boolean;
}

/**
 * The standard encoder of each format:
 * - `messages`: the chat template (`encodeChat`), assistant turns trained, the record's `tools` passed on;
 * - `prompt-completion`: `encodePromptCompletion` (prompt untrained, completion + EOS trained);
 * - `mc`: as prompt/completion through `multipleChoicePrompt` (only ` <letter>` + EOS trained);
 * - `text`: every token trained, EOS appended.
 *
 * @example
 * ```ts
 * const encode = exampleEncoder(await loadTokenizer(dir));
 * const { inputIds, labelsMask } = encode({ format: 'text', text: 'Once upon a time', metadata: {} });
 * ```
 */
export function exampleEncoder(tokenizer: Tokenizer, options: ExampleEncoderOptions = {}): ExampleEncoder {
  const shared = {
    ...(options.chatTemplate === undefined ? {} : { chatTemplate: options.chatTemplate }),
    ...(options.templateVariables === undefined ? {} : { templateVariables: options.templateVariables }),
    ...(options.addBos === undefined ? {} : { addBos: options.addBos }),
  };
  const addEos = options.addEos ?? true;
  return (example) => {
    switch (example.format) {
      case 'messages':
        return encodeChat(tokenizer, example.messages, {
          ...shared,
          mask: options.mask ?? 'assistant',
          ...(example.tools === undefined ? {} : { tools: example.tools }),
        });
      case 'prompt-completion':
        return encodePromptCompletion(tokenizer, { prompt: example.prompt, completion: example.completion }, { ...shared, addEos });
      case 'mc':
        return encodePromptCompletion(tokenizer, multipleChoicePrompt(example), { ...shared, addEos });
      case 'text': {
        const ids = tokenizer.encode(example.text, options.addBos === undefined ? {} : { addBos: options.addBos });
        const eos = tokenizer.eosTokenIds[0];
        if (addEos && eos !== undefined) ids.push(eos);
        return { inputIds: Int32Array.from(ids), labelsMask: new Uint8Array(ids.length).fill(1) };
      }
    }
  };
}
