import { AssetNotFoundError, FileFormatError } from '@lora/core';
import { nodeBuiltin } from '@lora/core/internal';
import type { CausalLM, ModelConfig, HostTensor } from '@lora/models';
import { Embedding, Linear, MemoryFileSource, SafetensorsReader, isNonTextModule, transformersName } from '@lora/models/internal';
import * as tf from '@tensorflow/tfjs';
import { type LoraConfig, parseLoraConfig } from '../config/lora-config.js';
import { loraEmbedding } from '../inject/apply-lora.js';
import type { AuxiliaryLayers } from '../inject/auxiliary.js';
import { prepareBiases } from '../inject/bias.js';
import { EMBEDDING_LAYER_NAMES } from '../inject/target-modules.js';
import { LoraEmbedding } from '../layers/lora-embedding.js';
import { LoraLinear } from '../layers/lora-linear.js';
import { ModulesToSaveLinear } from '../layers/modules-to-save.js';
import {
  ADAPTER_CONFIG_NAME,
  ADAPTER_WEIGHTS_NAME,
  type AdapterSource,
  type AdapterTensorKind,
  adapterTensorKey,
  modulesToSaveKey,
  parseAdapterTensorKey,
  trainableTokensKey,
} from './format.js';

/** Reads and validates `<dir>/adapter_config.json` (or the in-memory file). */
export async function readAdapterConfig(
  dir: AdapterSource,
  options: {
    /** Receives warnings (default `console.warn`). */
    readonly onWarning?: (message: string) => void;
  } = {},
): Promise<LoraConfig> {
  if (typeof dir !== 'string') return parseLoraConfig(dir[ADAPTER_CONFIG_NAME], { file: ADAPTER_CONFIG_NAME }, options);
  const { join } = await nodeBuiltin('path', 'readAdapterConfig(dir)');
  const { readFile } = await nodeBuiltin('fs/promises', 'readAdapterConfig(dir)');
  const file = join(dir, ADAPTER_CONFIG_NAME);
  const text = await readFile(file, 'utf8').catch((error: unknown) => {
    throw new AssetNotFoundError({
      asset: file,
      searched: [file],
      hint: 'a PEFT adapter folder holds adapter_config.json and adapter_model.safetensors',
      cause: error,
    });
  });
  return parseLoraConfig(text, { file }, options);
}

/** Options of {@link loadAdapterWeights}. */
export interface LoadAdapterWeightsOptions {
  /**
   * The model the layers live in, needed for the tensors PEFT saves beside the LoRA factors: base
   * biases trained with `bias` (loaded into the model, as PEFT does) and the base weights of an
   * adapted `embed_tokens` / `lm_head`. Its config also maps a Gemma3ForConditionalGeneration
   * adapter's transformers v4 layout (`language_model.model.*`) to the v5 one and lets the vision
   * tower's tensors be skipped (one warning counting them).
   */
  readonly model?: CausalLM;
  /** The adapter's config (its `bias` says which bias keys must be present). */
  readonly config?: LoraConfig;
  /** Whether loaded biases, `modules_to_save` copies and token rows are trainable (default false). */
  readonly trainable?: boolean;
  /** The `modules_to_save` copies and trainable token rows injected from the same config. */
  readonly auxiliary?: AuxiliaryLayers;
  /** Receives warnings (default `console.warn`). */
  readonly onWarning?: (message: string) => void;
}

/**
 * Loads `<dir>/adapter_model.safetensors` into adapter `adapterName` of `layers` (already
 * injected from the same config). Every layer must find its tensors with PEFT's shapes; keys for
 * modules the model lacks, or for tensors this package does not know, are errors naming the key.
 * With `options.model`, trained biases are loaded into the model and saved embedding base weights
 * are loaded into the base layers when they differ (for a tied model into the shared table), as
 * PEFT loads them; for a multimodal base, the vision tower's and projector's tensors (PEFT adapts
 * them too when `target_modules` names `q_proj`, …) are skipped with one counted warning.
 * `options.auxiliary` (injected from the same config) receives the `modules_to_save` copies and
 * trainable token rows; `options.trainable` says whether those become trainable variables.
 */
export async function loadAdapterWeights(
  dir: AdapterSource,
  layers: ReadonlyMap<string, LoraLinear>,
  adapterName: string,
  options: LoadAdapterWeightsOptions = {},
): Promise<void> {
  let file: string = ADAPTER_WEIGHTS_NAME;
  let reader: SafetensorsReader;
  if (typeof dir === 'string') {
    file = (await nodeBuiltin('path', 'loadAdapterWeights(dir)')).join(dir, ADAPTER_WEIGHTS_NAME);
    reader = await SafetensorsReader.open(file);
  } else reader = await SafetensorsReader.open(new MemoryFileSource(dir[ADAPTER_WEIGHTS_NAME], ADAPTER_WEIGHTS_NAME));
  const { model, config } = options;
  const bias = config?.bias ?? 'none';
  const biases = model === undefined ? [] : prepareBiases(model, bias, options.trainable ?? false);
  const embeddingPath = model?.embeddingModule().path;
  const found = model === undefined ? undefined : loraEmbedding(model);
  const embedding = found?.adapterNames().includes(adapterName) === true ? found : undefined;
  const targeted = [...layers.keys(), ...(embedding === undefined ? [] : [embeddingPath as string])];
  const modelConfig: ModelConfig | undefined = model?.config;
  const auxiliary = options.auxiliary ?? { modulesToSave: new Map(), trainableTokens: new Map() };
  const trainable = options.trainable ?? false;
  const auxKeys = new Set<string>();
  for (const [path, m] of auxiliary.modulesToSave) {
    auxKeys.add(modulesToSaveKey(path, 'weight'));
    if (m instanceof ModulesToSaveLinear && m.original.bias !== undefined) auxKeys.add(modulesToSaveKey(path, 'bias'));
  }
  for (const path of auxiliary.trainableTokens.keys()) auxKeys.add(trainableTokensKey(path));
  try {
    const extra: { key: string; path: string; kind: AdapterTensorKind }[] = [];
    // In-memory key (as adapterTensorKey spells it) -> key in the file.
    const fileKey = new Map<string, string>();
    const keyOf = (path: string, kind: AdapterTensorKind): string =>
      fileKey.get(adapterTensorKey(path, kind)) ?? adapterTensorKey(path, kind);
    const skipped: string[] = [];
    for (const key of reader.keys()) {
      if (auxKeys.has(key)) continue;
      const parsed = parseAdapterTensorKey(key);
      if (parsed === undefined) {
        throw new FileFormatError({
          file,
          field: key,
          message:
            'not a LoRA tensor (expected base_model.model.<module>.lora_A.weight, .lora_B.weight, .lora_magnitude_vector, .base_layer.bias / .bias with `bias`, or .base_layer.weight of an adapted embed_tokens / lm_head), nor a `modules_to_save` / `trainable_token_indices` tensor of the adapter config.',
        });
      }
      const { kind } = parsed;
      const modulePath = modelConfig === undefined ? parsed.modulePath : transformersName(modelConfig, parsed.modulePath);
      if (modelConfig !== undefined && isNonTextModule(modelConfig, modulePath)) {
        skipped.push(key);
        continue;
      }
      fileKey.set(adapterTensorKey(modulePath, kind), key);
      if (kind === 'base_layer.bias' || kind === 'bias' || kind === 'base_layer.weight') {
        extra.push({ key, path: modulePath, kind });
        continue;
      }
      const layer = layers.get(modulePath);
      const isEmbedding = kind === 'lora_embedding_A' || kind === 'lora_embedding_B';
      if (
        isEmbedding
          ? embedding === undefined || modulePath !== embeddingPath
          : layer === undefined || (kind === 'lora_magnitude_vector' && layer.weights(adapterName).magnitude === undefined)
      ) {
        throw new FileFormatError({
          file,
          field: key,
          message: `the adapter config does not target module ${modulePath} with this tensor (targeted: ${[...targeted].join(', ')}).${layoutHint(modulePath, layers, modelConfig)}`,
        });
      }
    }
    if (skipped.length > 0) {
      (options.onWarning ?? console.warn)(
        `${file}: skipped ${skipped.length} adapter tensor(s) of the vision tower / multi_modal_projector (e.g. ${skipped[0]}); @lora runs the text decoder of ${modelConfig?.architecture ?? 'the model'} only, and they do not change text-only outputs.`,
      );
    }
    const readChecked = async (key: string, shape: number[], what: string): Promise<HostTensor> => {
      if (!reader.has(key)) throw new FileFormatError({ file, field: key, message: `missing tensor for ${what}.` });
      const found = reader.shape(key);
      if (found.length !== shape.length || found.some((d, i) => d !== shape[i])) {
        throw new FileFormatError({
          file,
          field: key,
          message: `shape [${found.join(', ')}] does not match the model: expected [${shape.join(', ')}] (${what}). Was the adapter trained on another base model?`,
        });
      }
      const tensor = await reader.get(key);
      if (tensor.dtype !== 'float32')
        throw new FileFormatError({ file, field: key, message: `dtype ${tensor.dtype}: expected a floating-point tensor.` });
      return tensor;
    };
    for (const [path, layer] of layers) {
      const { r } = layer.rank(adapterName);
      const dora = layer.weights(adapterName).magnitude !== undefined;
      const what = `targeted module ${path}, r = ${r}, in = ${layer.inFeatures}, out = ${layer.outFeatures}`;
      const a = await readChecked(keyOf(path, 'lora_A'), [r, layer.inFeatures], what);
      const b = await readChecked(keyOf(path, 'lora_B'), [layer.outFeatures, r], what);
      const m = dora ? await readChecked(keyOf(path, 'lora_magnitude_vector'), [layer.outFeatures], what) : undefined;
      layer.assignFromTorch(adapterName, {
        a: a.data as Float32Array,
        b: b.data as Float32Array,
        ...(m === undefined ? {} : { magnitude: m.data as Float32Array }),
      });
    }
    if (embedding !== undefined) {
      const path = embeddingPath as string;
      const { r } = embedding.rank(adapterName);
      const what = `targeted embedding ${path}, r = ${r}, num_embeddings = ${embedding.numEmbeddings}, embedding_dim = ${embedding.embeddingDim}`;
      const a = await readChecked(keyOf(path, 'lora_embedding_A'), [r, embedding.numEmbeddings], what);
      const b = await readChecked(keyOf(path, 'lora_embedding_B'), [embedding.embeddingDim, r], what);
      embedding.assignFromTorch(adapterName, { a: a.data as Float32Array, b: b.data as Float32Array });
    }
    // Trained biases: every one the config's `bias` saves must be there (PEFT loads them into the model).
    const biasValues: [tf.Variable<tf.Rank.R1>, Float32Array][] = [];
    for (const { path, kind, variable } of biases) {
      const key = keyOf(path, kind);
      const t = await readChecked(key, [variable.shape[0]], `bias of ${path} (\`bias\` "${bias}")`);
      biasValues.push([variable, t.data as Float32Array]);
    }
    for (const { key, path, kind } of extra) {
      if (kind === 'base_layer.weight') {
        const layer = path === embeddingPath ? embedding : layers.get(path);
        if (layer === undefined || !EMBEDDING_LAYER_NAMES.includes(path.split('.').at(-1) as string)) {
          throw new FileFormatError({
            file,
            field: key,
            message: `a base weight is only expected for an adapted embed_tokens / lm_head (adapted: ${targeted.join(', ')}).`,
          });
        }
        const shape = layer instanceof LoraEmbedding ? [layer.numEmbeddings, layer.embeddingDim] : [layer.outFeatures, layer.inFeatures];
        const t = await readChecked(key, shape, `base weight of ${path}`);
        await loadEmbeddingBase(layer, path, t.data as Float32Array, model, { file, key }, options.onWarning ?? defaultWarn);
        continue;
      }
      if (!biases.some((x) => keyOf(x.path, x.kind) === key)) {
        throw new FileFormatError({
          file,
          field: key,
          message: `a bias tensor, but the adapter config has \`bias\` "${bias}"${model === undefined ? ' (or no model was given to load it into)' : ''} and the model has no bias trained under this key.`,
        });
      }
    }
    tf.tidy(() => {
      for (const [variable, data] of biasValues) variable.assign(tf.tensor1d(data));
    });
    for (const [path, m] of auxiliary.modulesToSave) {
      const what = `modules_to_save module ${path}`;
      if (m instanceof ModulesToSaveLinear) {
        const weight = (await readChecked(modulesToSaveKey(path, 'weight'), [m.outFeatures, m.inFeatures], what)).data as Float32Array;
        const bias =
          m.original.bias === undefined
            ? undefined
            : ((await readChecked(modulesToSaveKey(path, 'bias'), [m.outFeatures], what)).data as Float32Array);
        m.assignFromTorch(adapterName, bias === undefined ? { weight } : { weight, bias }, { trainable });
      } else {
        const weight = (await readChecked(modulesToSaveKey(path, 'weight'), [m.numEmbeddings, m.embeddingDim], what)).data as Float32Array;
        m.assignFromTorch(adapterName, weight, { trainable });
      }
    }
    for (const [path, m] of auxiliary.trainableTokens) {
      const k = m.tokenIndices(adapterName).length;
      const what = `the ${k} trainable tokens of ${path}`;
      m.assignDelta(adapterName, (await readChecked(trainableTokensKey(path), [k, m.embeddingDim], what)).data as Float32Array);
    }
  } finally {
    await reader.close();
  }
}

const defaultWarn = (message: string): void => console.warn(`@lora/peft: ${message}`);

/**
 * The base weight PEFT saved with an adapted `embed_tokens` / `lm_head` (torch layout: the head
 * `[out, in]`, the table `[num_embeddings, embedding_dim]`). PEFT loads it into the base layer.
 * Equal to ours (the usual case): nothing to do. Different: it replaces the base weight, as in
 * PEFT — for a tied model the shared table, so the input embedding and the head both change (with a
 * warning saying so). A base that cannot take a dense weight (NF4) is an error, never skipped.
 */
async function loadEmbeddingBase(
  layer: LoraLinear | LoraEmbedding,
  path: string,
  torchWeight: Float32Array,
  model: CausalLM | undefined,
  where: { file: string; key: string },
  warn: (message: string) => void,
): Promise<void> {
  const isTable = layer instanceof LoraEmbedding;
  // Our dense weight in torch's layout: the table as is, a linear's [in, out] transposed.
  const ours = tf.tidy(() => (isTable ? layer.base.denseWeight() : tf.transpose(layer.base.denseWeight())));
  const current = (await ours.data()) as Float32Array;
  ours.dispose();
  if (current.length === torchWeight.length && current.every((v, i) => v === torchWeight[i])) return;
  const [rows, cols] = isTable ? [layer.numEmbeddings, layer.embeddingDim] : [layer.outFeatures, layer.inFeatures];
  if (model?.config.tieWordEmbeddings === true) {
    retieTable(model, torchWeight, rows, cols, where);
    warn(
      `${where.file}: the base weight saved for ${path} differs from the model's; loaded, as PEFT does, into the table embed_tokens and lm_head share (tie_word_embeddings), so both change.`,
    );
    return;
  }
  if (isTable || layer.base instanceof Linear) {
    const weight = tf.tensor2d(torchWeight, [rows, cols]);
    if (isTable) layer.setBaseWeight(weight);
    else {
      layer.setBaseWeight(tf.transpose(weight) as tf.Tensor2D);
      weight.dispose();
    }
    return;
  }
  throw new FileFormatError({
    file: where.file,
    field: where.key,
    message: `the base weight saved for ${path} differs from the model's, whose base layer (${layer.base.constructor.name}) cannot take a dense weight. Load the adapter on the base model it was trained from.`,
  });
}

/**
 * Replaces the table a tied `lm_head` and `embed_tokens` share with `torchTable` (`[vocab, hidden]`):
 * a new dense head (inside its LoRA wrapper, if any) and an embedding reading the head's weight.
 */
function retieTable(model: CausalLM, torchTable: Float32Array, vocab: number, hidden: number, where: { file: string; key: string }): void {
  const headSlot = model.lmHeadModule();
  const embeddingSlot = model.embeddingModule();
  const head = headSlot.get();
  const headBase = head instanceof LoraLinear ? head.base : head;
  const embedding = embeddingSlot.get();
  const embeddingBase = embedding instanceof LoraEmbedding ? embedding.base : embedding;
  if (!(headBase instanceof Linear) || !(embeddingBase instanceof Embedding) || embeddingBase.layout !== 'hidden-major') {
    throw new FileFormatError({
      file: where.file,
      field: where.key,
      message: `the saved base weight differs from the model's, and the tied lm_head (${headBase.constructor.name}) / embed_tokens cannot take a dense table. Load the adapter on the base model it was trained from.`,
    });
  }
  const weight = tf.tidy(() => tf.transpose(tf.tensor2d(torchTable, [vocab, hidden])) as tf.Tensor2D);
  let newHead: Linear;
  if (head instanceof LoraLinear) {
    head.setBaseWeight(weight);
    newHead = head.base as Linear;
  } else {
    newHead = new Linear(weight, { name: 'lm_head' });
    headSlot.set(newHead);
    head.dispose();
  }
  const table = new Embedding(newHead.weight, 'hidden-major', { scale: embeddingBase.scale, ownsTable: false });
  if (embedding instanceof LoraEmbedding) embedding.replaceBase(table);
  else embeddingSlot.set(table);
  embeddingBase.dispose(); // leaves the (old, already freed) table to the head that owned it
}

/** Why a module path matched no layer, when the adapter was written for the other Gemma 3 class. */
function layoutHint(modulePath: string, layers: ReadonlyMap<string, LoraLinear>, config: ModelConfig | undefined): string {
  const first = layers.keys().next().value ?? '';
  if (modulePath.startsWith('model.layers.') && first.startsWith('model.language_model.')) {
    return ` HINT: the keys use the text-only layout (model.layers.*, e.g. Gemma3ForCausalLM) but the base model is ${config?.architecture ?? 'multimodal'}, whose decoder modules PEFT names model.language_model.layers.*; load the adapter on the text-only checkpoint, or rename its keys.`;
  }
  if (modulePath.startsWith('model.language_model.') && first.startsWith('model.layers.')) {
    return ' HINT: the keys use the Gemma3ForConditionalGeneration layout (model.language_model.*) but the base model is text-only; load the adapter on the multimodal checkpoint, or rename its keys.';
  }
  return '';
}
