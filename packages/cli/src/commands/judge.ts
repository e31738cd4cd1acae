import { Option, type Command } from 'commander';
import type { CommonSummary, RunJudgeOptions } from '@lora/judge';
import { type CliIo, progressOf } from '../io.js';
import { ExitCode } from '../exit-code.js';
import { backendOption, integer, real } from '../options.js';

/** Options shared by `lora judge pairwise` and `lora judge score`. */
interface JudgeCliOptions {
  provider: 'openai' | 'gemini' | 'openai-compatible' | 'local';
  model: string;
  baseUrl?: string;
  out: string;
  cacheDir?: string;
  /** False with `--no-cache`. */
  cache: boolean;
  concurrency?: number;
  requestsPerMinute?: number;
  timeoutMs?: number;
  maxCalls?: number;
  maxCostUsd?: number;
  limit?: number;
  criteria?: string;
  seed?: number;
  responseFormat?: 'auto' | 'json_schema' | 'json_object' | 'none';
  /** `--provider local`: PEFT adapter applied to the judge model. */
  adapter?: string;
  /** `--provider local`: tfjs backend. */
  backend?: 'tensorflow' | 'tensorflow-gpu' | 'webgpu' | 'wasm' | 'cpu';
  /** `--provider local`: longest verdict in tokens. */
  maxNewTokens: number;
  /** `--provider local`: `stories` or a Jinja file instead of the tokenizer's chat template. */
  chatTemplate?: string;
  /** `redis://host:port`: the calls run on `lora worker`s (their keys, one shared rate limit). */
  queue?: string;
}

function sharedOptions(command: Command): Command {
  return command
    .addOption(
      new Option(
        '--provider <provider>',
        'judge provider; local: an @lora model in this process (--model is its name or path), its decoding constrained to ' +
          "the verdict's JSON Schema (as llama.cpp grammars do), so every reply is JSON of the right shape",
      )
        .choices(['openai', 'gemini', 'openai-compatible', 'local'])
        .makeOptionMandatory(),
    )
    .requiredOption('--model <model>', 'judge model id, e.g. gpt-4o-mini or gemini-2.5-flash (local: SmolLM2-135M-Instruct, a folder)')
    .option('--base-url <url>', 'API base URL (required for openai-compatible: vLLM, llama.cpp server, Ollama)')
    .requiredOption('--out <dir>', 'output folder (summary.json, verdicts.jsonl)')
    .option(
      '--cache-dir <dir>',
      'answer cache shared by every run (default $LORA_JUDGE_CACHE_DIR, else $XDG_CACHE_HOME/lora/judge, else ~/.cache/lora/judge)',
    )
    .option('--no-cache', 'neither read nor write the answer cache: every request is sent (and paid)')
    .option('--concurrency <n>', 'requests in flight at most', integer(1))
    .option('--requests-per-minute <n>', 'rate limit', integer(1))
    .option('--timeout-ms <n>', 'per-request timeout', integer(1))
    .option('--max-calls <n>', 'stop issuing calls after this many (cached answers are still used)', integer(0))
    .option('--max-cost-usd <x>', 'stop issuing calls past this cost', real(0, 1e9))
    .option('--limit <n>', 'judge only the first n items', integer(1))
    .option('--queue <url>', 'redis://host:port: send the calls to `lora worker`s (BullMQ); cache and budget stay here')
    .addOption(
      new Option(
        '--response-format <mode>',
        'how openai / openai-compatible judges ask for JSON: auto tries json_schema, then json_object, then the schema in the prompt ' +
          '(none), stepping down when the server refuses and keeping the mode for the run; a named mode is used as is ' +
          '(default: auto for openai-compatible, json_schema for openai)',
      ).choices(['auto', 'json_schema', 'json_object', 'none']),
    )
    .option('--criteria <text>', 'extra judging criteria added to the prompt')
    .option('--seed <n>', 'seed of the bootstrap', integer(0))
    .option('--adapter <dir>', 'local: PEFT adapter folder applied to the judge model')
    .addOption(backendOption('local: '))
    .option('--max-new-tokens <n>', 'local: longest verdict, in tokens', integer(1), 256)
    .option('--chat-template <stories|file>', "local: `stories` (stories260K) or a .jinja file instead of the tokenizer's chat template");
}

function commonRunOptions(options: JudgeCliOptions, io: CliIo, defaultJudgeCacheDir: (env: CliIo['env']) => string): RunJudgeOptions {
  const { provider, model, out } = options;
  const progress = progressOf(io);
  const pick = <K extends keyof JudgeCliOptions>(key: K) => (options[key] === undefined ? {} : { [key]: options[key] });
  return {
    // A local judge comes ready-made (withJudge); the others are built from provider and model.
    ...(provider === 'local' ? {} : { provider, model }),
    out,
    ...pick('baseUrl'),
    ...(options.cache === false ? { cache: false } : { cacheDir: options.cacheDir ?? defaultJudgeCacheDir(io.env) }),
    ...pick('concurrency'),
    ...pick('requestsPerMinute'),
    ...pick('timeoutMs'),
    ...pick('maxCalls'),
    ...pick('maxCostUsd'),
    ...pick('limit'),
    ...pick('criteria'),
    ...(options.responseFormat === undefined ? {} : { structuredOutputs: options.responseFormat }),
    ...(io.env.OPENAI_API_KEY !== undefined && (provider === 'openai' || provider === 'openai-compatible')
      ? { apiKey: io.env.OPENAI_API_KEY }
      : {}),
    ...(provider === 'gemini' && (io.env.GEMINI_API_KEY ?? io.env.GOOGLE_API_KEY) !== undefined
      ? { apiKey: (io.env.GEMINI_API_KEY ?? io.env.GOOGLE_API_KEY) as string }
      : {}),
    onProgress: (p) =>
      progress.update(
        p.completed,
        p.total,
        `[lora] judged ${p.completed}/${p.total} · calls ${p.callsMade} · cache ${p.callsFromCache} · $${p.costUsd.toFixed(4)}`,
      ),
  };
}

/** `--chat-template`: `stories` is `STORIES_CHAT_TEMPLATE`, anything else a Jinja file. */
async function readChatTemplate(value: string): Promise<string> {
  if (value === 'stories') return (await import('@lora/data')).STORIES_CHAT_TEMPLATE;
  return (await import('@lora/core/internal')).readRegularTextFile(value, 'chat template (--chat-template)');
}

/**
 * Runs `body` with the judge of `options`: for `--provider local` the model is loaded in-process
 * (requests go one at a time unless `--concurrency` says otherwise) and disposed afterwards; the
 * API providers need nothing here.
 */
async function withJudge<T>(
  options: JudgeCliOptions,
  io: CliIo,
  body: (local: Pick<RunJudgeOptions, 'judge' | 'concurrency'>) => Promise<T>,
): Promise<T> {
  if (options.provider !== 'local' && options.queue !== undefined) {
    const { queuedJudgeModel } = await import('@lora/queue');
    const judge = queuedJudgeModel(options.queue, {
      provider: options.provider,
      model: options.model,
      ...(options.baseUrl === undefined ? {} : { baseUrl: options.baseUrl }),
      ...(options.responseFormat === undefined ? {} : { structuredOutputs: options.responseFormat }),
      ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }),
    });
    try {
      return await body({ judge });
    } finally {
      await judge.close();
    }
  }
  if (options.provider !== 'local') return body({});
  const { loadLocalJudge } = await import('../local-judge.js');
  const { judge, dispose } = await loadLocalJudge(
    {
      model: options.model,
      maxNewTokens: options.maxNewTokens,
      ...(options.adapter === undefined ? {} : { adapter: options.adapter }),
      ...(options.backend === undefined ? {} : { backend: options.backend }),
      ...(options.chatTemplate === undefined ? {} : { chatTemplate: await readChatTemplate(options.chatTemplate) }),
    },
    io,
  );
  try {
    return await body({ judge, concurrency: options.concurrency ?? 1 });
  } finally {
    dispose();
  }
}

/**
 * Prints the summary, then a one-line account: `n judged / n failed / n skipped` with the failed
 * attempts by kind and the budget stop. Failed or skipped items make the command exit 1: a run
 * whose every call was refused must not look like a success to a script.
 */
function finish(summary: CommonSummary, io: CliIo, out: string): void {
  io.writeOut(`${JSON.stringify(summary, null, 2)}\n`);
  io.writeErr(`[lora] wrote ${out}/summary.json and ${out}/verdicts.jsonl\n`);
  const attempts = Object.entries(summary.calls.failuresByKind).map(([kind, n]) => `${kind} ×${n}`);
  const reasons = [
    ...(attempts.length === 0 ? [] : [`failed attempts: ${attempts.join(', ')}`]),
    ...(summary.stopped === undefined ? [] : [`stopped: ${summary.stopped}`]),
  ];
  io.writeErr(
    `[lora] ${summary.judged} judged / ${summary.failed} failed / ${summary.skipped} skipped of ${summary.items}` +
      ` (${summary.calls.made} calls, ${summary.calls.fromCache} from cache)${reasons.length === 0 ? '' : `; ${reasons.join('; ')}`}\n`,
  );
  const structured = summary.structuredOutputs;
  if (structured !== undefined && structured.fallbacks.length > 0) {
    const steps = structured.fallbacks.map((f) => `${f.from} refused (${f.status ?? '?'}: ${f.reason})`).join('; ');
    io.writeErr(`[lora] response format: ${structured.mode} for this endpoint; ${steps}\n`);
  }
  for (const error of summary.errors ?? []) io.writeErr(`[lora] ${error.items} item(s) failed: ${error.message}\n`);
  if (summary.failed > 0 || summary.skipped > 0) {
    throw new ExitCode(
      1,
      `${summary.failed + summary.skipped} of ${summary.items} items were not judged (see the \`error\` of their rows in ${out}/verdicts.jsonl).`,
    );
  }
}

/**
 * Registers `lora judge pairwise` (blind A/B in both orders → wins/ties/losses, Elo and
 * Bradley–Terry with bootstrap CIs) and `lora judge score` (pointwise: reference, rubric or safety).
 * API keys come from `OPENAI_API_KEY` / `GEMINI_API_KEY` and are never written anywhere. Answers
 * are cached across runs and output folders (`--cache-dir`, default `defaultJudgeCacheDir`;
 * `--no-cache` to send everything). OpenAI-compatible servers that refuse `json_schema` (llama.cpp,
 * older vLLM, Ollama) are asked with `json_object`, then with the schema in the prompt
 * (`--response-format` pins a mode). Progress is a bar on a terminal, one line per item in a log.
 * Exits 1 when any item failed or a budget skipped items.
 *
 * @example
 * ```sh
 * lora judge pairwise --a base.jsonl --b lora.jsonl --provider openai --model gpt-4o-mini --out judge/
 * lora judge score --input preds.jsonl --mode reference --provider gemini --model gemini-2.5-flash --out judge/
 * ```
 */
export function registerJudge(program: Command, io: CliIo): void {
  const judge = program.command('judge').description('LLM-as-a-judge over predictions JSONL files.');
  sharedOptions(
    judge
      .command('pairwise')
      .description('Blind pairwise comparison of two prediction files, both orders.')
      .requiredOption('--a <file>', 'predictions JSONL of system A (id, prompt, prediction)')
      .requiredOption('--b <file>', 'predictions JSONL of system B')
      .option('--name-a <name>', 'name of system A in the summary', 'A')
      .option('--name-b <name>', 'name of system B in the summary', 'B'),
  ).action(async (options: JudgeCliOptions & { a: string; b: string; nameA: string; nameB: string }) => {
    const { runPairwise } = await import('@lora/judge');
    const { defaultJudgeCacheDir } = await import('@lora/judge/internal');
    const summary = await withJudge(options, io, (local) =>
      runPairwise({
        ...commonRunOptions(options, io, defaultJudgeCacheDir),
        ...local,
        a: options.a,
        b: options.b,
        nameA: options.nameA,
        nameB: options.nameB,
        ...(options.seed === undefined ? {} : { seed: options.seed }),
      }),
    );
    finish(summary, io, options.out);
  });
  sharedOptions(
    judge
      .command('score')
      .description('Pointwise judging of one prediction file: against references, a rubric, or safety hazards.')
      .requiredOption('--input <file>', 'predictions JSONL (id, prompt, prediction, reference?)')
      .addOption(new Option('--mode <mode>', 'what to judge').choices(['reference', 'rubric', 'safety']).default('reference'))
      .option('--rubric <text>', 'rubric text (mode rubric)')
      .option('--min-score <n>', 'lowest rubric score', integer(0))
      .option('--max-score <n>', 'highest rubric score', integer(1)),
  ).action(
    async (
      options: JudgeCliOptions & {
        input: string;
        mode: 'reference' | 'rubric' | 'safety';
        rubric?: string;
        minScore?: number;
        maxScore?: number;
      },
    ) => {
      const { runScore } = await import('@lora/judge');
      const { defaultJudgeCacheDir } = await import('@lora/judge/internal');
      const summary = await withJudge(options, io, (local) =>
        runScore({
          ...commonRunOptions(options, io, defaultJudgeCacheDir),
          ...local,
          input: options.input,
          mode: options.mode,
          ...(options.rubric === undefined ? {} : { rubric: options.rubric }),
          ...(options.minScore === undefined ? {} : { minScore: options.minScore }),
          ...(options.maxScore === undefined ? {} : { maxScore: options.maxScore }),
        }),
      );
      finish(summary, io, options.out);
    },
  );
}
