import { FileFormatError, InvalidArgumentError, parseJson, type Source } from '@lora/core';
import { formatIssuePath } from '@lora/core/internal';
import { z } from 'zod';
import { PEFT_FORMAT_VERSION, pythonJsonDumps } from '../io/format.js';

/**
 * How LoRA weights are initialised (PEFT `init_lora_weights`): `true` = A kaiming-uniform
 * (U(±1/√in)), B = 0; `'gaussian'` = A ~ N(0, 1/r²), B = 0; `false` = A and B both
 * kaiming-uniform (not a no-op: for tests and debugging). `'pissa'` (exact SVD),
 * `'pissa_niter_<n>'` (randomized SVD, seeded) and `'olora'` (QR) factor the base weight into A / B
 * and replace the base with the residual `W − s·B·A` (dense bases only; quantized bases are refused).
 */
export type InitLoraWeights = boolean | 'gaussian' | 'pissa' | 'olora' | `pissa_niter_${number}`;

/** A validated LoRA adapter configuration (PEFT `LoraConfig`, camelCase, frozen). */
export interface LoraConfig {
  /** Always `"LORA"`. */
  readonly peftType: 'LORA';
  /** `"CAUSAL_LM"` (or `null` in files written without a task type). */
  readonly taskType: 'CAUSAL_LM' | null;
  /** LoRA rank (default 8). */
  readonly r: number;
  /** LoRA alpha (default 8); scaling is `loraAlpha / r`, or `loraAlpha / √r` with {@link LoraConfig.useRslora}. */
  readonly loraAlpha: number;
  /** Dropout probability on the LoRA input while training (default 0). */
  readonly loraDropout: number;
  /**
   * Modules to adapt: a list of names (a module matches when its path equals one or ends with
   * `.name`), a regular expression that must match the whole path, `"all-linear"` (every linear
   * except `lm_head`), or `null` for the model type's default (`q_proj`, `v_proj`).
   */
  readonly targetModules: readonly string[] | string | null;
  /** Modules never adapted: a list (same matching as targets) or a full-match regex. */
  readonly excludeModules: readonly string[] | string | null;
  /** Only adapt these layer indices (needs a list `targetModules`). */
  readonly layersToTransform: readonly number[] | number | null;
  /** Name(s) of the layer list the indices refer to (e.g. `"layers"`); needs `layersToTransform`. */
  readonly layersPattern: readonly string[] | string | null;
  /** Per-module rank overrides, keyed by a regex matched against the end of the module path. */
  readonly rankPattern: Readonly<Record<string, number>>;
  /** Per-module alpha overrides, keyed like {@link LoraConfig.rankPattern}. */
  readonly alphaPattern: Readonly<Record<string, number>>;
  /**
   * Which base biases train and are saved with the adapter (PEFT `bias`): `"none"` (default),
   * `"lora_only"` (biases of the adapted modules, keys `<module>.base_layer.bias`) or `"all"`
   * (every bias of the model; modules without an adapter keep `<module>.bias`). The biases are the
   * base model's own, changed in place as in PEFT: disabling the adapter does not restore them.
   */
  readonly bias: 'none' | 'all' | 'lora_only';
  /** Rank-stabilised LoRA: scaling `loraAlpha / √r` (default false). */
  readonly useRslora: boolean;
  /** Weight-decomposed LoRA (DoRA): a trained magnitude vector per output (default false). */
  readonly useDora: boolean;
  /** Initialisation of fresh adapters (default `true`). */
  readonly initLoraWeights: InitLoraWeights;
  /**
   * Modules trained in full beside the adapter (PEFT `modules_to_save`, e.g. `["lm_head",
   * "embed_tokens"]`): each gets a trainable copy, saved whole in the adapter file. A module
   * matches when its path ends with the name.
   */
  readonly modulesToSave: readonly string[] | null;
  /**
   * Rows of the token embedding trained beside the adapter (PEFT `trainable_token_indices`): a
   * list of token ids for `embed_tokens`, or `{ embed_tokens: [ids] }`. With a tied `lm_head` the
   * head's rows follow. Only these `k × hidden` values train and are saved.
   */
  readonly trainableTokenIndices: readonly number[] | Readonly<Record<string, readonly number[]>> | null;
  /** Weight stored as (in, out) (GPT-2 Conv1D); our linears are never that, so always false. */
  readonly fanInFanOut: boolean;
  /** The base model this adapter was trained on (path or Hub id). */
  readonly baseModelNameOrPath: string | null;
  /** Loaded for inference only: the adapter's variables are not trainable. */
  readonly inferenceMode: boolean;
  /** Hub revision of the base model. */
  readonly revision: string | null;
  /** PEFT version that wrote the file (stamped with `PEFT_FORMAT_VERSION` on save). */
  readonly peftVersion: string | null;
  /**
   * PEFT's `auto_mapping`, as written (`base_model_class`, `parent_library`): PEFT records the base
   * model's class there when the adapter has no `task_type`, e.g. `Gemma3ForConditionalGeneration`.
   * Informational here (the module paths in the weights say where each tensor goes); kept so the
   * file round-trips.
   */
  readonly autoMapping: Readonly<Record<string, string>> | null;
}

/** Options of {@link loraConfig}: every {@link LoraConfig} field, optional, with PEFT's defaults. */
export type LoraConfigOptions = Partial<Omit<LoraConfig, 'peftType' | 'modulesToSave'>> & {
  /** Modules trained in full beside LoRA (PEFT `modules_to_save`), e.g. `['lm_head']`. */
  readonly modulesToSave?: readonly string[] | null;
};

/** Warning sink (defaults to `console.warn`). */
export type WarningHandler = (message: string) => void;

const defaultWarn: WarningHandler = (message) => console.warn(`@lora/peft: ${message}`);

const stringOrList = z.union([z.string(), z.array(z.string())]);
const initLoraWeights = z.union([
  z.boolean(),
  z.enum(['gaussian', 'pissa', 'olora']),
  z.string().regex(/^pissa_niter_\d+$/, 'expected pissa_niter_<n>') as unknown as z.ZodType<`pissa_niter_${number}`>,
  z.string(),
]);

/** Largest accepted `r`: above any model width in use, below sizes whose allocation would crash. */
const MAX_RANK = 65_536;
/** Largest accepted `lora_alpha` (finite; real values are 1 to a few hundred). */
const MAX_ALPHA = 1e6;

/** `adapter_config.json` as PEFT writes it (snake_case). Unknown keys are kept to be reported. */
const AdapterConfigFile = z
  .looseObject({
    peft_type: z.literal('LORA', { error: '`peft_type` must be "LORA" (this package reads LoRA adapters only)' }).default('LORA'),
    task_type: z.string().nullable().default('CAUSAL_LM'),
    r: z
      .number()
      .int()
      .positive()
      .max(MAX_RANK, { error: (issue) => `${String(issue.input)} is not a plausible rank (at most ${MAX_RANK}; LoRA uses 4 to 256)` })
      .default(8),
    lora_alpha: z
      .number()
      .positive()
      .max(MAX_ALPHA, { error: (issue) => `${String(issue.input)} is not a plausible alpha (at most ${MAX_ALPHA})` })
      .default(8),
    lora_dropout: z.number().min(0).lt(1).default(0),
    target_modules: stringOrList.nullable().default(null),
    exclude_modules: stringOrList.nullable().default(null),
    layers_to_transform: z
      .union([z.number().int().nonnegative(), z.array(z.number().int().nonnegative())])
      .nullable()
      .default(null),
    layers_pattern: stringOrList.nullable().default(null),
    rank_pattern: z.record(z.string(), z.number().int().positive().max(MAX_RANK)).nullable().default({}),
    alpha_pattern: z.record(z.string(), z.number().positive().max(MAX_ALPHA)).nullable().default({}),
    bias: z.enum(['none', 'all', 'lora_only']).default('none'),
    use_rslora: z.boolean().default(false),
    use_dora: z.boolean().default(false),
    init_lora_weights: initLoraWeights.default(true),
    modules_to_save: z.array(z.string().min(1)).nullable().default(null),
    trainable_token_indices: z
      .union([z.array(z.number().int().nonnegative()), z.record(z.string().min(1), z.array(z.number().int().nonnegative()))])
      .nullable()
      .default(null),
    fan_in_fan_out: z.boolean().default(false),
    base_model_name_or_path: z.string().nullable().default(null),
    inference_mode: z.boolean().default(false),
    revision: z.string().nullable().default(null),
    peft_version: z.string().nullable().default(null),
    auto_mapping: z.record(z.string(), z.string()).nullable().default(null),
    lora_bias: z.boolean().default(false),
  })
  .superRefine((c, ctx) => {
    const fail = (path: string, message: string) => ctx.addIssue({ code: 'custom', path: [path], message });
    if (typeof c.target_modules === 'string' && c.target_modules.toLowerCase() !== 'all-linear') {
      if (c.layers_to_transform !== null)
        fail('layers_to_transform', '`layers_to_transform` cannot be used when `target_modules` is a str (regex).');
      if (c.layers_pattern !== null) fail('layers_pattern', '`layers_pattern` cannot be used when `target_modules` is a str (regex).');
    }
    if (c.layers_pattern !== null && c.layers_pattern.length > 0 && c.layers_to_transform === null) {
      fail('layers_pattern', 'When `layers_pattern` is specified, `layers_to_transform` must also be specified.');
    }
    if (c.task_type !== null && c.task_type !== 'CAUSAL_LM') {
      fail('task_type', `\`task_type\` "${c.task_type}" is not supported: @lora/peft adapts causal LMs only ("CAUSAL_LM").`);
    }
    if (c.lora_bias) fail('lora_bias', '`lora_bias` (a bias on lora_B) is not supported by @lora/peft; set it to false.');
    const tokens = c.trainable_token_indices;
    if (tokens !== null) {
      const lists = Array.isArray(tokens) ? [tokens] : Object.values(tokens);
      if (lists.length === 0 || lists.some((l) => l.length === 0))
        fail('trainable_token_indices', '`trainable_token_indices` lists no token index.');
      if (lists.some((l) => new Set(l).size !== l.length))
        fail('trainable_token_indices', '`trainable_token_indices` repeats a token index.');
      const names = Array.isArray(tokens) ? ['embed_tokens'] : Object.keys(tokens);
      const both = names.filter((n) => (c.modules_to_save ?? []).some((m) => m === n || m.endsWith(`.${n}`) || n.endsWith(`.${m}`)));
      if (both.length > 0) {
        fail(
          'trainable_token_indices',
          `\`${both[0]}\` is in both \`modules_to_save\` and \`trainable_token_indices\`; a fully trained module already trains every row.`,
        );
      }
    }
    const init = c.init_lora_weights;
    if (typeof init === 'string' && !['gaussian', 'pissa', 'olora'].includes(init) && !/^pissa_niter_\d+$/.test(init)) {
      fail('init_lora_weights', `\`init_lora_weights\` "${init}" is not supported; use true, false, "gaussian", "pissa" or "olora".`);
    }
  });

type AdapterConfigFile = z.output<typeof AdapterConfigFile>;

/**
 * Keys PEFT 0.21 writes for features this package does not implement, with the value that means
 * "off". A file that turns one on is rejected; one left at its default is accepted silently.
 */
const INERT_KEYS: Readonly<Record<string, unknown>> = {
  alora_invocation_tokens: null,
  arrow_config: null,
  corda_config: null,
  ensure_weight_tying: false,
  eva_config: null,
  kasa_config: null,
  layer_replication: null,
  loftq_config: {},
  lora_ga_config: null,
  megatron_config: null,
  megatron_core: 'megatron.core',
  monteclora_config: null,
  qalora_group_size: 16,
  target_parameters: null,
  use_bdlora: null,
  use_qalora: false,
  velora_config: null,
};

/**
 * Keys that describe the adapter without changing what it computes: `auto_mapping`, which PEFT
 * writes when `task_type` is unset (the base class for `AutoPeftModel`), is accepted whatever its
 * value (it is written back as `null`).
 */
const DESCRIPTIVE_KEYS: ReadonlySet<string> = new Set(['auto_mapping']);

const KNOWN_KEYS = new Set(Object.keys(AdapterConfigFile.shape));

function isInert(key: string, value: unknown): boolean {
  if (value === null || value === false) return true;
  if (typeof value === 'object' && Object.keys(value as object).length === 0) return true;
  return JSON.stringify(value) === JSON.stringify(INERT_KEYS[key]);
}

function fromFile(c: AdapterConfigFile, source: Source, warn: WarningHandler): LoraConfig {
  for (const [key, value] of Object.entries(c)) {
    if (KNOWN_KEYS.has(key) || DESCRIPTIVE_KEYS.has(key)) continue;
    if (key in INERT_KEYS) {
      if (!isInert(key, value)) {
        throw new FileFormatError({
          file: source.file,
          field: key,
          message: `\`${key}\` = ${JSON.stringify(value)} turns on a PEFT feature @lora/peft does not implement; remove it or set it to ${JSON.stringify(INERT_KEYS[key])}.`,
        });
      }
      continue;
    }
    warn(`${source.file}: unknown key \`${key}\` (written by a newer PEFT?) is ignored.`);
  }
  if (c.fan_in_fan_out) {
    warn(
      `${source.file}: \`fan_in_fan_out\` is true but the target modules are plain linears (weight [out, in]); setting it to false, as PEFT does for torch.nn.Linear.`,
    );
  }
  const init = c.init_lora_weights as InitLoraWeights;
  if (
    c.use_rslora &&
    (Object.keys(c.rank_pattern ?? {}).length > 0 || Object.keys(c.alpha_pattern ?? {}).length > 0) &&
    (init === 'olora' || (typeof init === 'string' && init.startsWith('pissa')))
  ) {
    warn(
      `${source.file}: \`use_rslora\` with \`rank_pattern\`/\`alpha_pattern\` and \`init_lora_weights\` "${init}" cannot be converted back to a plain LoRA adapter after training.`,
    );
  }
  return Object.freeze({
    peftType: 'LORA',
    taskType: c.task_type === null ? null : 'CAUSAL_LM',
    r: c.r,
    loraAlpha: c.lora_alpha,
    loraDropout: c.lora_dropout,
    targetModules: freezeList(c.target_modules),
    excludeModules: freezeList(c.exclude_modules),
    layersToTransform: Array.isArray(c.layers_to_transform) ? Object.freeze([...c.layers_to_transform]) : c.layers_to_transform,
    layersPattern: freezeList(c.layers_pattern),
    rankPattern: Object.freeze({ ...(c.rank_pattern ?? {}) }),
    alphaPattern: Object.freeze({ ...(c.alpha_pattern ?? {}) }),
    bias: c.bias,
    useRslora: c.use_rslora,
    useDora: c.use_dora,
    initLoraWeights: init,
    modulesToSave: c.modules_to_save === null ? null : Object.freeze([...c.modules_to_save]),
    trainableTokenIndices: freezeTokenIndices(c.trainable_token_indices),
    fanInFanOut: false,
    baseModelNameOrPath: c.base_model_name_or_path,
    inferenceMode: c.inference_mode,
    revision: c.revision,
    peftVersion: c.peft_version,
    autoMapping: c.auto_mapping === null ? null : Object.freeze({ ...c.auto_mapping }),
  } satisfies LoraConfig);
}

function freezeTokenIndices(v: AdapterConfigFile['trainable_token_indices']): LoraConfig['trainableTokenIndices'] {
  if (v === null) return null;
  if (Array.isArray(v)) return Object.freeze([...v]);
  return Object.freeze(Object.fromEntries(Object.entries(v).map(([k, l]) => [k, Object.freeze([...l])])));
}

function freezeList<T extends string | readonly string[] | null>(v: T): T {
  return (Array.isArray(v) ? Object.freeze([...new Set(v)]) : v) as T;
}

/**
 * Parses and validates the text of an `adapter_config.json`. Keys of PEFT features left off are
 * accepted; unknown keys (a newer PEFT) warn; unsupported settings fail naming the field.
 *
 * @throws FileFormatError naming the file and the offending field.
 *
 * @example
 * ```ts
 * const config = parseLoraConfig(await readFile('adapter/adapter_config.json', 'utf8'), { file: 'adapter_config.json' });
 * config.loraAlpha; // 16
 * ```
 */
export function parseLoraConfig(text: string, source: Source, options: ParseLoraConfigOptions = {}): LoraConfig {
  const parsed = parseJson(text, AdapterConfigFile, source);
  return fromFile(parsed, source, options.onWarning ?? defaultWarn);
}

/**
 * Builds a {@link LoraConfig} from camelCase options with PEFT 0.21's defaults and checks.
 *
 * @throws InvalidArgumentError naming the option.
 *
 * @example
 * ```ts
 * const config = loraConfig({ r: 16, loraAlpha: 32, targetModules: 'all-linear', useRslora: true });
 * ```
 */
export function loraConfig(
  options: LoraConfigOptions = {},
  parseOptions: {
    /** Receives warnings (unknown keys from a newer PEFT, ignored options). Default `console.warn`. */
    readonly onWarning?: (message: string) => void;
  } = {},
): LoraConfig {
  const snake: Record<string, unknown> = {};
  const spelledAs = new Map<string, string>();
  for (const [key, value] of Object.entries(options)) {
    if (value === undefined) continue;
    const name = toSnake(key);
    const other = spelledAs.get(name);
    if (other !== undefined) {
      throw new InvalidArgumentError({
        argument: `LoraConfig.${toCamel(name)}`,
        message: `conflicting keys \`${other}\` and \`${key}\` name the same option; keep one.`,
      });
    }
    spelledAs.set(name, key);
    snake[name] = value;
  }
  const result = AdapterConfigFile.safeParse(snake);
  if (!result.success) {
    const issue = result.error.issues[0];
    const field = issue === undefined ? 'options' : toCamel(formatIssuePath(issue.path));
    const message = result.error.issues.map((i) => `\`${toCamel(formatIssuePath(i.path))}\`: ${i.message}`).join('; ');
    throw new InvalidArgumentError({ argument: `LoraConfig.${field}`, message });
  }
  for (const key of Object.keys(result.data)) {
    if (!KNOWN_KEYS.has(key)) throw new InvalidArgumentError({ argument: `LoraConfig.${toCamel(key)}`, message: 'unknown option.' });
  }
  return fromFile(result.data, { file: 'LoraConfig options' }, parseOptions.onWarning ?? defaultWarn);
}

/** A copy of `config` with some fields replaced (re-validated). */
export function withLoraConfig(config: LoraConfig, changes: LoraConfigOptions): LoraConfig {
  const { peftType: _p, ...rest } = config;
  return loraConfig({ ...rest, ...changes }, { onWarning: () => {} });
}

const FLOAT_KEYS = new Set(['lora_dropout']);

/**
 * The `adapter_config.json` object PEFT 0.21 would write for `config` (every key it writes,
 * features we lack at their "off" value), with `peft_version` stamped.
 */
export function loraConfigToJson(config: LoraConfig): Record<string, unknown> {
  return {
    ...INERT_KEYS,
    alpha_pattern: { ...config.alphaPattern },
    auto_mapping: config.autoMapping === null ? null : { ...config.autoMapping },
    base_model_name_or_path: config.baseModelNameOrPath,
    bias: config.bias,
    exclude_modules:
      config.excludeModules === null || typeof config.excludeModules === 'string' ? config.excludeModules : [...config.excludeModules],
    fan_in_fan_out: config.fanInFanOut,
    inference_mode: config.inferenceMode,
    init_lora_weights: config.initLoraWeights,
    layers_pattern:
      config.layersPattern === null || typeof config.layersPattern === 'string' ? config.layersPattern : [...config.layersPattern],
    layers_to_transform:
      config.layersToTransform === null || typeof config.layersToTransform === 'number'
        ? config.layersToTransform
        : [...config.layersToTransform],
    lora_alpha: config.loraAlpha,
    lora_bias: false,
    lora_dropout: config.loraDropout,
    modules_to_save: config.modulesToSave === null ? null : [...config.modulesToSave],
    peft_type: 'LORA',
    peft_version: PEFT_FORMAT_VERSION,
    r: config.r,
    rank_pattern: { ...config.rankPattern },
    revision: config.revision,
    target_modules:
      config.targetModules === null || typeof config.targetModules === 'string' ? config.targetModules : [...config.targetModules],
    task_type: config.taskType,
    trainable_token_indices:
      config.trainableTokenIndices === null
        ? null
        : Array.isArray(config.trainableTokenIndices)
          ? [...config.trainableTokenIndices]
          : Object.fromEntries(Object.entries(config.trainableTokenIndices).map(([k, l]) => [k, [...l]])),
    use_dora: config.useDora,
    use_rslora: config.useRslora,
  };
}

/** The text of `adapter_config.json` for `config`, formatted as PEFT writes it (sorted keys, indent 2). */
export function serializeLoraConfig(config: LoraConfig): string {
  return pythonJsonDumps(loraConfigToJson(config), FLOAT_KEYS);
}

function toSnake(key: string): string {
  return key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

function toCamel(key: string): string {
  return key.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
}

/** Options of {@link parseLoraConfig}, {@link loraConfig} (its second argument) and `readAdapterConfig`. */
export type ParseLoraConfigOptions = NonNullable<Parameters<typeof loraConfig>[1]>;

/** PEFT's `bias` setting: which base biases train with the adapter. */
export type LoraBias = LoraConfig['bias'];
