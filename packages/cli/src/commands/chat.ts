import { isAbsolute, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { pathToFileURL } from 'node:url';
import { Option, type Command } from 'commander';
import type { BackendName } from '@lora/models';
import type { CliIo } from '../io.js';
import { backendOption, chatTemplateOption, integer, real } from '../options.js';

/** A {@link CliIo} that may carry the chat's input; `lora chat` reads `process.stdin` otherwise. */
export interface ChatIo extends CliIo {
  /** Lines typed by the user (a TTY or a pipe). */
  stdin?: NodeJS.ReadableStream;
}

/** Parsed options of `lora chat`. */
export interface ChatOptions {
  /** Model name (asset resolver) or path. */
  model: string;
  /** PEFT adapter folder applied on top of the model. */
  adapter?: string;
  /** Quantize the base linears to 4 bits before the adapter is applied. */
  quantize?: 'nf4' | 'fp4';
  /** System message kept at the head of the conversation. */
  system?: string;
  /** `stories` (the stories260K template), a `.jinja` file, or omitted for the tokenizer's own. */
  chatTemplate?: string;
  /** Module file exporting `postprocess(reply, messages)`; what it returns is printed under the reply. */
  postprocess?: string;
  /** Longest reply in tokens. */
  maxNewTokens: number;
  /** Sampling temperature; 0 = greedy. */
  temperature: number;
  /** Seed of the sampler. */
  seed?: number;
  /** Strings that end a reply (cut before them). */
  stop: string[];
  /** Backend instead of the automatic choice. */
  backend?: BackendName;
}

/** The contract of a `--postprocess` module. */
export interface ChatPostprocessModule {
  /** Returns extra text to print after a reply (e.g. its parsed action), or undefined for nothing. */
  postprocess(reply: string, messages: readonly { role: string; content: string }[]): string | undefined | Promise<string | undefined>;
}

/** Lines the REPL understands besides chat text. */
const HELP = 'commands: /reset (forget the conversation), /exit (quit)';

/**
 * Registers `lora chat`: an interactive conversation with a model (optionally with a PEFT adapter
 * and a 4-bit base). Each line on stdin is a user turn; the whole conversation is rendered with the
 * chat template and answered with KV-cached generation that stops at the model's end-of-sequence /
 * end-of-turn tokens (or a `--stop` string);
 * the reply is printed on stdout, followed by what a `--postprocess` module makes of it. `/reset`
 * forgets the conversation (the system message stays), `/exit` or end of input quits. Works on a
 * TTY and on piped input; the prompt `> ` is shown only on a TTY.
 *
 * @example
 * ```sh
 * LORA_ASSETS_DIR=../shared lora chat --model stories260K --chat-template stories \
 *   --adapter runs/carbot-smoke/train --postprocess examples/carbot/dist/chat-postprocess.js
 * ```
 */
export function registerChat(program: Command, io: CliIo): void {
  program
    .command('chat')
    .description('Chat with a model (and adapter) on stdin/stdout; /reset forgets, /exit quits.')
    .requiredOption('-m, --model <name-or-path>', 'model directory, file, local asset name or Hugging Face repo id')
    .option('--adapter <dir>', 'PEFT LoRA adapter folder to apply')
    .addOption(new Option('--quantize <type>', 'load the base linears in 4 bits').choices(['nf4', 'fp4']))
    .option('--system <text>', 'system message')
    .addOption(chatTemplateOption())
    .option('--postprocess <module>', 'module file exporting postprocess(reply, messages) → text printed after each reply')
    .option('-n, --max-new-tokens <n>', 'longest reply in tokens', integer(1), 128)
    .option('-t, --temperature <t>', 'sampling temperature; 0 = greedy', real(0, 100), 0)
    .option('--seed <s>', 'seed of the sampler', integer(0))
    .option('--stop <text>', 'string that ends a reply (repeatable)', (v: string, acc: string[]) => [...acc, v], [] as string[])
    .addOption(backendOption())
    .action(async (options: ChatOptions) => {
      await chatCommand(options, io as ChatIo);
    });
}

async function loadPostprocess(file: string): Promise<ChatPostprocessModule['postprocess']> {
  const { InvalidArgumentError } = await import('@lora/core');
  const url = pathToFileURL(isAbsolute(file) ? file : resolve(file)).href;
  let mod: Partial<ChatPostprocessModule>;
  try {
    mod = (await import(url)) as Partial<ChatPostprocessModule>;
  } catch (error) {
    throw new InvalidArgumentError({
      argument: '--postprocess',
      message: `cannot import ${file}: ${(error as Error).message}. Give a .js module file (or .ts when running under tsx).`,
    });
  }
  if (typeof mod.postprocess !== 'function') {
    throw new InvalidArgumentError({
      argument: '--postprocess',
      message: `${file} does not export a function \`postprocess(reply, messages)\`.`,
    });
  }
  return mod.postprocess;
}

async function chatCommand(options: ChatOptions, io: ChatIo): Promise<void> {
  const postprocess = options.postprocess === undefined ? undefined : await loadPostprocess(options.postprocess);
  const models = await import('@lora/models');
  const { prepareModel } = await import('@lora/recipe');
  const { decodeContinuation, stopTokenIds } = await import('../tokenizer.js');
  const prepared = await prepareModel(
    {
      model: options.model,
      ...(options.backend === undefined ? {} : { backend: options.backend }),
      ...(options.quantize === undefined ? {} : { quantization: { type: options.quantize } }),
      ...(options.chatTemplate === undefined ? {} : { chatTemplate: options.chatTemplate, chatTemplateField: '--chat-template' }),
    },
    {
      env: io.env,
      log: (line) => io.writeErr(`${line}\n`),
      kind: 'inference',
      adapter: options.adapter === undefined ? 'none' : [{ dir: options.adapter }],
      onProgress: (p) => io.writeErr(`${p.message}\n`),
    },
  );
  const { loaded, model, tokenizer, render } = prepared;
  try {
    const stopIds = stopTokenIds(tokenizer, models.defaultStopTokenIds(loaded.config));
    const stories = options.chatTemplate === 'stories';
    // The stories template has no end-of-turn token: the next "User:" turn ends a reply.
    const stops = [...options.stop, ...(stories ? ['\nUser:'] : [])];
    const system = options.system === undefined ? [] : [{ role: 'system' as const, content: options.system }];
    let history: { role: 'user' | 'assistant'; content: string }[] = [];
    const budget = model.config.maxPositionEmbeddings - options.maxNewTokens;

    const encodeConversation = (): number[] => {
      for (;;) {
        const text = render([...system, ...history]);
        // A chat template renders its own special tokens (apply_chat_template adds none); the plain-text
        // stories template is encoded as text, so the tokenizer adds its BOS (stories260K does).
        const ids = stories ? tokenizer.encode(text) : tokenizer.encode(text, { addSpecialTokens: false });
        // Too long for the context: forget the oldest exchange (the system message stays).
        if (ids.length <= budget || history.length <= 1) return ids;
        history = history.slice(2);
      }
    };
    const cut = (text: string): string | undefined => {
      let at: number | undefined;
      for (const s of stops) {
        const i = text.indexOf(s);
        if (i >= 0 && (at === undefined || i < at)) at = i;
      }
      return at === undefined ? undefined : text.slice(0, at);
    };

    const input = io.stdin ?? process.stdin;
    const tty = (input as { isTTY?: boolean }).isTTY === true;
    if (tty) io.writeErr(`${HELP}\n`);
    const lines = createInterface({ input, terminal: false, crlfDelay: Infinity });
    if (tty) io.writeOut('> ');
    for await (const raw of lines) {
      const line = raw.trim();
      if (line === '/exit' || line === '/quit') break;
      if (line === '/reset') {
        history = [];
        io.writeOut('(conversation reset)\n');
      } else if (line === '/help') {
        io.writeOut(`${HELP}\n`);
      } else if (line !== '') {
        history.push({ role: 'user', content: line });
        const promptIds = encodeConversation();
        const { sequences } = await models.generate(model, [promptIds], {
          maxNewTokens: options.maxNewTokens,
          temperature: options.temperature,
          ...(options.seed === undefined ? {} : { seed: options.seed }),
          stopTokenIds: stopIds,
          ...(stops.length === 0 ? {} : { stop: (tokens: readonly number[]) => cut(tokenizer.decode(tokens)) !== undefined }),
        });
        const newIds = (sequences[0] ?? []).filter((id) => !stopIds.includes(id));
        const decoded = decodeContinuation(tokenizer, promptIds, newIds);
        const reply = (cut(decoded) ?? decoded).trim();
        history.push({ role: 'assistant', content: reply });
        io.writeOut(`${reply}\n`);
        const extra = postprocess === undefined ? undefined : await postprocess(reply, [...system, ...history]);
        if (extra !== undefined && extra !== '') io.writeOut(`${extra}\n`);
      }
      if (tty) io.writeOut('> ');
    }
    lines.close();
  } finally {
    model.dispose();
  }
}
