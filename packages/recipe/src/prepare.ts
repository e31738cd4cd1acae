import { dirname } from 'node:path';
import { InvalidArgumentError, resolveAsset } from '@lora/core';
import { readRegularTextFile } from '@lora/core/internal';
import { type Tokenizer, STORIES_CHAT_TEMPLATE, loadTokenizer, renderChat, ChatMessageSchema } from '@lora/data';
import { type BackendName, type CausalLM, type LoadedModel, loadModel, selectBackend } from '@lora/models';
import { type MemoryWorkload, assertFitsBackend } from '@lora/models/internal';
import { type PeftModel, getPeftModel, loadPeftModel, loraConfig } from '@lora/peft';
import { type QuantizeModelOptions, quantizeModel } from '@lora/quant';
import { makeLinearsTrainable } from '@lora/train/internal';
import { z } from 'zod';
import type { Recipe } from './recipe.js';

/**
 * What to load when there is no recipe (`lora chat`, `lora generate`): the model, its tokenizer
 * folder, backend, 4-bit base and chat template, as the recipe's fields of the same names.
 */
export interface ModelSpec {
  /** Model name (resolved through `LORA_ASSETS_DIR` / the HF cache / the Hub) or folder / file path. */
  model: string;
  /** Tokenizer folder; default the model's. */
  tokenizer?: string;
  /** tfjs backend; default automatic (`LORA_BACKEND`, then the best available). */
  backend?: BackendName;
  /** Load the base linears in 4 bits (`@lora/quant`'s defaults for the fields left out). */
  quantization?: QuantizeModelOptions;
  /** `stories`, a `.jinja` file, or omitted for the tokenizer's own template. */
  chatTemplate?: string;
  /** The option or field that named `chatTemplate`, for errors (default `data.chatTemplate`). */
  chatTemplateField?: string;
}

/** A model ready for training, evaluation or generation: see {@link prepareModel}. */
export interface PreparedModel {
  /** The base as loaded (config, format, path). */
  loaded: LoadedModel;
  /** The model to use: the PEFT model when an adapter is attached, else the (possibly quantized) base. */
  model: CausalLM;
  /** The PEFT model when an adapter is attached. */
  peft?: PeftModel;
  tokenizer: Tokenizer;
  /** The model's folder (the llama2.c file's folder). */
  modelDir: string;
  /** The chat template text the recipe asks for; undefined for the tokenizer's own. */
  chatTemplate?: string;
  /** Renders a conversation as a prompt with the recipe's chat template (see {@link chatRenderer}). */
  render(messages: readonly { role: string; content?: unknown }[]): string;
}

const MessagesSchema = z.array(ChatMessageSchema);

/** The chat template text a recipe asks for (`stories`, a file, or the tokenizer's own). */
export async function recipeChatTemplate(recipe: Pick<Recipe, 'data'>): Promise<string | undefined> {
  return chatTemplateText(recipe.data.chatTemplate, 'recipe data.chatTemplate');
}

/** The text of a chat template choice: `stories`, a file (read; `field` names it in errors), or undefined. */
async function chatTemplateText(choice: string | undefined, field: string): Promise<string | undefined> {
  if (choice === undefined) return undefined;
  if (choice === 'stories') return STORIES_CHAT_TEMPLATE;
  return readRegularTextFile(choice, `chat template (${field})`);
}

/**
 * Renders conversations as prompts with a chat template (undefined: the tokenizer's own) and the
 * generation prompt, as training renders them; the messages are checked first (a bad role or
 * content is an error naming the message).
 *
 * @example
 * ```ts
 * const render = chatRenderer(tokenizer, await recipeChatTemplate(recipe));
 * const prompt = render([{ role: 'user', content: 'Turn on the radio' }]);
 * ```
 */
export function chatRenderer(
  tokenizer: Tokenizer,
  chatTemplate: string | undefined,
): (messages: readonly { role: string; content?: unknown }[]) => string {
  return (messages) => {
    const checked = MessagesSchema.safeParse(messages);
    if (!checked.success) {
      const issue = checked.error.issues[0];
      throw new InvalidArgumentError({
        argument: `messages${issue === undefined ? '' : issue.path.map((p) => `[${String(p)}]`).join('')}`,
        message: issue?.message ?? 'not a list of chat messages.',
      });
    }
    return renderChat(tokenizer, checked.data, { addGenerationPrompt: true, ...(chatTemplate === undefined ? {} : { chatTemplate }) });
  };
}

/**
 * Loads the recipe's model (backend chosen first) and tokenizer. Before any weight is read, the
 * memory the work needs is estimated from the config (`assertFitsBackend`): on wasm, a model and
 * batch over its 4 GiB heap fail here with the estimate and what to install, never `Aborted()`.
 *
 * @param kind - `training` (default: activations of `data.batchSize` × `data.maxLength` kept for the
 *   backward pass) or `inference` (evaluation batches of `evaluation.batchSize`).
 */
export async function loadRecipeModel(
  recipe: Recipe,
  env: Readonly<Record<string, string | undefined>>,
  log: (line: string) => void,
  kind: MemoryWorkload['kind'] = 'training',
  resolve: Pick<PrepareModelOptions, 'allowDownload' | 'onProgress'> = {},
): Promise<{ loaded: LoadedModel; tokenizer: Tokenizer; modelDir: string }> {
  const backend = await selectBackend({ ...(recipe.backend === undefined ? {} : { backend: recipe.backend }), env, log });
  const path = await resolveAsset(recipe.model, { kind: 'model', env, ...resolveOptions(resolve) });
  const batchSize = kind === 'training' ? recipe.data.batchSize : (recipe.evaluation?.batchSize ?? recipe.data.batchSize);
  const loaded = await loadModel(path, {
    beforeWeights: (config) =>
      void assertFitsBackend(backend.tfjsBackend, config, { kind, batchSize, sequenceLength: recipe.data.maxLength }, recipe.model),
    // Training batches are many rows: a float32 base trains faster than GGUF blocks dequantized
    // twice a step. Inference keeps the blocks where the native kernels run (decoding reads less).
    ...(kind === 'training' ? { keepQuantized: false } : {}),
  });
  logQuantizedLayers(loaded, log);
  const modelDir = loaded.format === 'llama2c' ? dirname(loaded.path) : loaded.path;
  const tokenizer = await loadTokenizer(recipe.tokenizer ?? modelDir, { vocabSize: loaded.config.vocabSize });
  return { loaded, tokenizer, modelDir };
}

/** Says when GGUF weights stayed in their blocks (native kernels), so a run's log shows which path it took. */
function logQuantizedLayers(loaded: LoadedModel, log: (line: string) => void): void {
  if (loaded.quantizedLayers > 0) log(`[lora] ${loaded.quantizedLayers} linear layers kept in their GGUF blocks (native kernels)`);
}

/** The asset resolver's download options that were given. */
function resolveOptions(o: Pick<PrepareModelOptions, 'allowDownload' | 'onProgress'>) {
  return {
    ...(o.allowDownload === undefined ? {} : { allowDownload: o.allowDownload }),
    ...(o.onProgress === undefined ? {} : { onProgress: o.onProgress }),
  };
}

/** {@link loadRecipeModel} without a recipe: the model resolved first (a bad name fails fast), then the backend; no memory check. */
async function loadSpecModel(
  spec: ModelSpec,
  env: Readonly<Record<string, string | undefined>>,
  log: (line: string) => void,
  resolve: Pick<PrepareModelOptions, 'allowDownload' | 'onProgress'>,
): Promise<{ loaded: LoadedModel; tokenizer: Tokenizer; modelDir: string }> {
  const path = await resolveAsset(spec.model, { kind: 'model', env, ...resolveOptions(resolve) });
  await selectBackend({ ...(spec.backend === undefined ? {} : { backend: spec.backend }), env, log });
  const loaded = await loadModel(path);
  logQuantizedLayers(loaded, log);
  const modelDir = loaded.format === 'llama2c' ? dirname(loaded.path) : loaded.path;
  const tokenizer = await loadTokenizer(spec.tokenizer ?? modelDir, { vocabSize: loaded.config.vocabSize });
  return { loaded, tokenizer, modelDir };
}

/**
 * The one composition of a recipe's (or a {@link ModelSpec}'s) model: backend, model (with the memory check), 4-bit base
 * (`quantization`), adapter (a new one from the recipe, saved ones from folders, or none),
 * tokenizer and chat template. The caller disposes `model`; on an error the model is disposed here.
 *
 * @example
 * ```ts
 * const { recipe } = await loadRecipe('recipes/smoke.yaml');
 * const { model, tokenizer, render } = await prepareModel(recipe, { kind: 'inference', adapter: [{ dir: 'runs/smoke' }] });
 * ```
 */
export async function prepareModel(
  spec: Recipe | ModelSpec,
  options: {
    /** Environment for the asset resolver and backend selection (default `process.env`). */
    env?: Readonly<Record<string, string | undefined>>;
    /** Where notes go (backend line, quantization, full fine-tuning; default stderr). */
    log?: (line: string) => void;
    /**
     * The memory check's workload: `training` (default: `data.batchSize` × `data.maxLength` rows kept
     * for the backward pass) or `inference` (batches of `evaluation.batchSize`).
     */
    kind?: MemoryWorkload['kind'];
    /**
     * The adapter: `recipe` (default for `training`) attaches a new one from the recipe's `adapter`
     * section (or makes every linear trainable for `adapter: none`); `none` (default for `inference`)
     * leaves the base as loaded; a list of folders loads those PEFT adapters (the first one active).
     */
    adapter?: 'recipe' | 'none' | readonly { dir: string; name?: string }[];
    /** Whether the asset resolver may download the model from the Hub (its default otherwise). */
    allowDownload?: boolean;
    /** Download progress of the asset resolver. */
    onProgress?: (progress: { message: string }) => void;
  } = {},
): Promise<PreparedModel> {
  const env = options.env ?? process.env;
  const log = options.log ?? ((line: string) => void process.stderr.write(`${line}\n`));
  const kind = options.kind ?? 'training';
  const recipe = 'data' in spec ? spec : undefined;
  const adapter = options.adapter ?? (kind === 'training' && recipe !== undefined ? 'recipe' : 'none');
  const { loaded, tokenizer, modelDir } =
    'data' in spec ? await loadRecipeModel(spec, env, log, kind, options) : await loadSpecModel(spec, env, log, options);
  let model: CausalLM = loaded.model;
  let peft: PeftModel | undefined;
  try {
    if (spec.quantization !== undefined) {
      const q = { type: 'nf4' as const, blocksize: 64, doubleQuant: true, ...spec.quantization };
      const paths = await quantizeModel(model, q);
      log(
        `[lora] quantized ${paths.length} linear modules to ${q.type}${q.doubleQuant ? ' + double quant' : ''} (blocksize ${q.blocksize})`,
      );
    }
    if (adapter === 'recipe') {
      if (recipe === undefined) {
        throw new InvalidArgumentError({
          argument: 'adapter',
          message: '`recipe` attaches the adapter a recipe describes; give a recipe.',
        });
      }
      if (recipe.adapter === 'none') {
        const n = makeLinearsTrainable(model);
        log(`[lora] full fine-tuning of ${n} linear modules`);
      } else {
        peft = getPeftModel(model, loraConfig({ ...recipe.adapter, baseModelNameOrPath: recipe.model }));
        model = peft;
      }
    } else if (adapter !== 'none' && adapter.length > 0) {
      const [first, ...rest] = adapter;
      if (first !== undefined) {
        peft = await loadPeftModel(model, first.dir, first.name === undefined ? {} : { adapterName: first.name });
        for (const a of rest) await peft.loadAdapter(a.dir, a.name === undefined ? {} : { adapterName: a.name });
        model = peft;
        for (const a of adapter) log(`[lora] adapter ${a.dir}`);
      }
    }
    const chatTemplate =
      'data' in spec
        ? await recipeChatTemplate(spec)
        : await chatTemplateText(spec.chatTemplate, spec.chatTemplateField ?? 'data.chatTemplate');
    const render = chatRenderer(tokenizer, chatTemplate);
    return {
      loaded,
      model,
      ...(peft === undefined ? {} : { peft }),
      tokenizer,
      modelDir,
      ...(chatTemplate === undefined ? {} : { chatTemplate }),
      render,
    };
  } catch (error) {
    model.dispose();
    throw error;
  }
}

/** A conversation as generation sees it: role and content (other fields passed to the template). */
export type ChatInput = readonly { role: string; content?: unknown }[];

/** Options of {@link prepareModel}. The public signature spells it out. */
export type PrepareModelOptions = NonNullable<Parameters<typeof prepareModel>[1]>;
