/**
 * The PEFT adapter file format, in one place (STYLE.md 15): file names, the `base_model.model.`
 * key prefix, tensor names with the adapter name stripped, and the PyTorch layouts
 * (`lora_A.weight` `[r, in]`, `lora_B.weight` `[out, r]`, DoRA `lora_magnitude_vector` `[out]`,
 * which PEFT saves without a `.weight` suffix), `modules_to_save` copies saved under the module's
 * own key (`<module>.weight`: PEFT strips `modules_to_save.<adapter>.`) and trainable token rows
 * (`<embedding>.token_adapter.trainable_tokens_delta` `[k, hidden]`).
 */

/** Adapter weights file written by PEFT's `save_pretrained` (`peft.utils.constants.SAFETENSORS_WEIGHTS_NAME`). */
export const ADAPTER_WEIGHTS_NAME = 'adapter_model.safetensors';
/** Adapter config file (`peft.utils.constants.CONFIG_NAME`). */
export const ADAPTER_CONFIG_NAME = 'adapter_config.json';
/** Prefix PEFT puts before module paths (`PeftModel.base_model` → `LoraModel.model`). */
export const PEFT_KEY_PREFIX = 'base_model.model.';
/** `__metadata__` PEFT writes into `adapter_model.safetensors`. */
/**
 * A PEFT adapter in memory: the two files `save_pretrained` writes, by name (what
 * `PeftModel.adapterFiles` returns and `loadPeftModel` / `PeftModel.loadAdapter` accept instead of
 * a folder, e.g. in a browser).
 */
export interface AdapterFiles {
  /** The adapter config, as JSON text. */
  readonly 'adapter_config.json': string;
  /** The LoRA tensors, as safetensors bytes. */
  readonly 'adapter_model.safetensors': Uint8Array;
}

/** A PEFT adapter folder (Node) or its files in memory. */
export type AdapterSource = string | AdapterFiles;

export const ADAPTER_WEIGHTS_METADATA: Readonly<Record<string, string>> = Object.freeze({ format: 'pt' });
/** The PEFT version whose format this package writes and stamps into `peft_version`. */
export const PEFT_FORMAT_VERSION = '0.21.2';

/**
 * Which adapter tensor of a module a key names: the LoRA factors (`lora_A` / `lora_B`, PEFT's
 * Embedding layer's `lora_embedding_A` / `lora_embedding_B`), the DoRA magnitude, a trained base
 * bias (`base_layer.bias` on an adapted module, `bias` on any other with `bias="all"`) or the base
 * weight PEFT saves with an adapted `embed_tokens` / `lm_head` (`base_layer.weight`).
 */
export type AdapterTensorKind =
  | 'lora_A'
  | 'lora_B'
  | 'lora_magnitude_vector'
  | 'lora_embedding_A'
  | 'lora_embedding_B'
  | 'base_layer.bias'
  | 'bias'
  | 'base_layer.weight';

const KEY_SUFFIX: Readonly<Record<AdapterTensorKind, string>> = {
  lora_A: 'lora_A.weight',
  lora_B: 'lora_B.weight',
  lora_magnitude_vector: 'lora_magnitude_vector',
  lora_embedding_A: 'lora_embedding_A',
  lora_embedding_B: 'lora_embedding_B',
  'base_layer.bias': 'base_layer.bias',
  bias: 'bias',
  'base_layer.weight': 'base_layer.weight',
};

const KEY_PATTERN = new RegExp(
  `^base_model\\.model\\.(.+?)\\.(${Object.values(KEY_SUFFIX)
    .map((x) => x.replaceAll('.', '\\.'))
    .join('|')})$`,
);

/** The safetensors key of one adapter tensor of the module at `modulePath`. */
export function adapterTensorKey(modulePath: string, kind: AdapterTensorKind): string {
  return `${PEFT_KEY_PREFIX}${modulePath}.${KEY_SUFFIX[kind]}`;
}

/** Splits an adapter key into module path and tensor kind; `undefined` when it is not one. */
export function parseAdapterTensorKey(key: string): { modulePath: string; kind: AdapterTensorKind } | undefined {
  const match = KEY_PATTERN.exec(key);
  if (match === null) return undefined;
  const suffix = match[2] as string;
  const kind = (Object.keys(KEY_SUFFIX) as AdapterTensorKind[]).find((k) => KEY_SUFFIX[k] === suffix) as AdapterTensorKind;
  return { modulePath: match[1] as string, kind };
}

/** The key of a `modules_to_save` copy's parameter (`base_model.model.lm_head.weight`). */
export function modulesToSaveKey(modulePath: string, param: 'weight' | 'bias'): string {
  return `${PEFT_KEY_PREFIX}${modulePath}.${param}`;
}

/** The key of an embedding's trainable token rows (`….embed_tokens.token_adapter.trainable_tokens_delta`). */
export function trainableTokensKey(modulePath: string): string {
  return `${PEFT_KEY_PREFIX}${modulePath}.token_adapter.trainable_tokens_delta`;
}

/**
 * Serializes JSON the way Python's `json.dumps(value, indent=2, sort_keys=True)` does (PEFT's
 * `adapter_config.json`): keys sorted, two-space indent, and the numbers under `floatKeys`
 * written as Python floats (`0.0`, `1e-05`).
 */
export function pythonJsonDumps(value: unknown, floatKeys: ReadonlySet<string> = new Set()): string {
  const render = (v: unknown, indent: string, key: string | undefined): string => {
    if (v === null || v === undefined) return 'null';
    if (typeof v === 'number') return key !== undefined && floatKeys.has(key) ? pythonFloat(v) : pythonNumber(v);
    if (typeof v === 'boolean' || typeof v === 'string') return JSON.stringify(v);
    const inner = `${indent}  `;
    if (Array.isArray(v)) {
      if (v.length === 0) return '[]';
      return `[\n${v.map((x) => inner + render(x, inner, key)).join(',\n')}\n${indent}]`;
    }
    const entries = Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    if (entries.length === 0) return '{}';
    return `{\n${entries.map(([k, x]) => `${inner}${JSON.stringify(k)}: ${render(x, inner, k)}`).join(',\n')}\n${indent}}`;
  };
  return render(value, '', undefined);
}

function pythonNumber(v: number): string {
  return Number.isInteger(v) ? String(v) : pythonFloat(v);
}

/** Python's `repr(float)`: shortest round-trip digits, scientific below 1e-4 or from 1e16. */
function pythonFloat(v: number): string {
  if (!Number.isFinite(v)) return Number.isNaN(v) ? 'NaN' : v > 0 ? 'Infinity' : '-Infinity';
  if (v === 0) return Object.is(v, -0) ? '-0.0' : '0.0';
  const [mantissa, expText] = v.toExponential().split('e') as [string, string];
  const exp = Number(expText);
  if (exp < -4 || exp >= 16) {
    const sign = exp < 0 ? '-' : '+';
    return `${mantissa}e${sign}${String(Math.abs(exp)).padStart(2, '0')}`;
  }
  const text = String(v);
  return text.includes('.') ? text : `${text}.0`;
}
