import { InvalidArgumentError as CommanderArgumentError, Option } from 'commander';
import type { BackendName } from '@lora/models';

/** The tfjs backends `--backend` accepts (@lora/models' `BackendName`, kept here so the CLI starts without tfjs). */
const BACKEND_CHOICES = ['tensorflow', 'tensorflow-gpu', 'webgpu', 'wasm', 'cpu'] as const satisfies readonly BackendName[];

/** The `--backend <name>` option shared by the commands that load a model. */
export function backendOption(prefix = '', fallback = 'LORA_BACKEND or automatic'): Option {
  return new Option('--backend <name>', `${prefix}tfjs backend (default: ${fallback})`).choices(BACKEND_CHOICES);
}

/**
 * The `--chat-template <stories|file>` option, spelled the same in `data inspect`, `chat` (and
 * wherever a command renders conversations): `stories` is the built-in stories260K template, any
 * other value a Jinja template file; left out, the tokenizer's own template.
 */
export function chatTemplateOption(): Option {
  return new Option('--chat-template <stories|file>', "`stories` (stories260K) or a .jinja file; default the tokenizer's template");
}

/** The text of a `--chat-template` value: the built-in stories260K template for `stories`, else the file's text. */
export async function readChatTemplateOption(value: string | undefined): Promise<string | undefined> {
  if (value === undefined) return undefined;
  if (value === 'stories') return (await import('@lora/data')).STORIES_CHAT_TEMPLATE;
  return (await import('@lora/core/internal')).readRegularTextFile(value, 'chat template (--chat-template)');
}

/** A backend name `--backend` accepted. */
export type BackendChoice = (typeof BACKEND_CHOICES)[number];

/** Commander parser of an integer option `>= min`. */
export function integer(min: number) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min) throw new CommanderArgumentError(`expected an integer >= ${min}, got "${value}".`);
    return n;
  };
}

/** Commander parser of a number option in `[min, max]`. */
export function real(min: number, max: number) {
  return (value: string): number => {
    const n = Number(value);
    if (value.trim() === '' || !Number.isFinite(n) || n < min || n > max) {
      throw new CommanderArgumentError(`expected a number in [${min}, ${max}], got "${value}".`);
    }
    return n;
  };
}
