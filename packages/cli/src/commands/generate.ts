import type { Command } from 'commander';
import type { CliIo } from '../io.js';
import { backendOption, chatTemplateOption, integer, real } from '../options.js';
import { decodeContinuation, encodePrompt, stopTokenIds } from '../tokenizer.js';
import type { BackendName } from '@lora/models';

/** Parsed options of `lora generate`. */
export interface GenerateOptions {
  /** Model name (resolved through the asset resolver) or path to a model directory/file. */
  model: string;
  /** Prompt text, encoded as the tokenizer encodes plain text (BOS only if it adds one); empty means "start from BOS". */
  prompt: string;
  /** Number of tokens to generate at most. */
  maxNewTokens: number;
  /** Sampling temperature; 0 is greedy decoding. */
  temperature: number;
  /** Keep only the k most likely tokens (0 = off). */
  topK: number | undefined;
  /** Nucleus sampling mass (1 = off). */
  topP: number | undefined;
  /** Seed of the sampler's RNG. */
  seed: number | undefined;
  /** Backend to use instead of the automatic choice. */
  backend: BackendName | undefined;
  /** Allow downloading the model from the Hugging Face Hub when it is not found locally. */
  download: boolean;
  /** Keep generating through end-of-sequence / end-of-turn tokens (up to `maxNewTokens`). */
  ignoreEos?: boolean;
  /** PEFT adapter folder applied on top of the model. */
  adapter?: string;
  /** Render the prompt as one user turn with the chat template (and its generation prompt). */
  chat?: boolean;
  /** `stories` or a .jinja file (implies `chat`); default the tokenizer's own template. */
  chatTemplate?: string;
}

/**
 * Registers `lora generate`: resolves the model (name or path), loads it, generates from the prompt
 * with the KV cache, and prints only the generated text on stdout. The backend line goes to stderr.
 * The prompt is encoded as the tokenizer encodes plain text (a BOS only where the tokenizer adds
 * one, as transformers does), and generation stops at the model's end-of-sequence / end-of-turn
 * tokens unless `--ignore-eos` is given. With `--chat` (or `--chat-template`), the prompt is one
 * user turn rendered by the chat template with its generation prompt, as `lora chat` renders it.
 *
 * @example
 * ```sh
 * LORA_ASSETS_DIR=../shared lora generate --model stories260K --max-new-tokens 50
 * lora generate --model SmolLM2-135M-Instruct --adapter runs/x --prompt "Turn up the volume"
 * lora generate --model SmolLM2-135M-Instruct --chat --prompt "What is LoRA?"
 * ```
 */
export function registerGenerate(program: Command, io: CliIo): void {
  program
    .command('generate')
    .description('Generate text from a prompt with a causal LM (prints only the generated text).')
    .requiredOption('-m, --model <name-or-path>', 'model directory, file, local asset name or Hugging Face repo id')
    .option('-p, --prompt <text>', 'prompt text, encoded as the tokenizer encodes text (empty: start from the BOS token)', '')
    .option('-n, --max-new-tokens <n>', 'maximum number of new tokens', integer(1), 128)
    .option('-t, --temperature <t>', 'sampling temperature; 0 = greedy', real(0, 100), 0)
    .option('--top-k <k>', 'sample among the k most likely tokens (0 = off)', integer(0))
    .option('--top-p <p>', 'nucleus sampling probability mass (1 = off)', real(0, 1))
    .option('--seed <s>', 'seed of the sampler', integer(0))
    .addOption(backendOption())
    .option('--no-download', 'never download from the Hugging Face Hub')
    .option('--ignore-eos', 'do not stop at end-of-sequence / end-of-turn tokens')
    .option('--adapter <dir>', 'PEFT LoRA adapter folder to apply (written by @lora or PEFT)')
    .option('--chat', 'render the prompt as one user turn with the chat template (as `lora chat` does)')
    .addOption(chatTemplateOption())
    .action(async (options: GenerateOptions) => {
      await generateCommand(options, io);
    });
}

async function generateCommand(options: GenerateOptions, io: CliIo): Promise<void> {
  // Heavy imports happen only now, so `lora --help` stays instant; the model name is resolved first.
  const models = await import('@lora/models');
  const { prepareModel } = await import('@lora/recipe');
  const chat = options.chat === true || options.chatTemplate !== undefined;
  const { loaded, model, tokenizer, render } = await prepareModel(
    {
      model: options.model,
      ...(options.backend === undefined ? {} : { backend: options.backend as BackendName }),
      ...(options.chatTemplate === undefined ? {} : { chatTemplate: options.chatTemplate, chatTemplateField: '--chat-template' }),
    },
    {
      env: io.env,
      log: (line) => io.writeErr(`${line}\n`),
      kind: 'inference',
      adapter: options.adapter === undefined ? 'none' : [{ dir: options.adapter }],
      allowDownload: options.download,
      onProgress: (p) => io.writeErr(`${p.message}\n`),
    },
  );
  try {
    const stories = options.chatTemplate === 'stories';
    // As `lora chat`: a chat template renders its own special tokens; the plain-text stories
    // template is encoded as text (the tokenizer adds its BOS).
    const promptIds = !chat
      ? await encodePrompt(tokenizer, options.prompt)
      : stories
        ? tokenizer.encode(render([{ role: 'user', content: options.prompt }]))
        : tokenizer.encode(render([{ role: 'user', content: options.prompt }]), { addSpecialTokens: false });
    const { sequences } = await models.generate(model, [promptIds], {
      maxNewTokens: options.maxNewTokens,
      temperature: options.temperature,
      ...(options.topK === undefined ? {} : { topK: options.topK }),
      ...(options.topP === undefined ? {} : { topP: options.topP }),
      ...(options.seed === undefined ? {} : { seed: options.seed }),
      stopTokenIds: options.ignoreEos === true ? [] : stopTokenIds(tokenizer, models.defaultStopTokenIds(loaded.config)),
    });
    const text = decodeContinuation(tokenizer, promptIds, sequences[0] ?? []);
    // The stories template has no end-of-turn token: a next "User:" turn ends the reply.
    const end = stories ? text.indexOf('\nUser:') : -1;
    io.writeOut(`${end >= 0 ? text.slice(0, end) : text}\n`);
  } finally {
    model.dispose();
  }
}
