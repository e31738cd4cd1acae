import { InvalidArgumentError } from '@lora/core';
import { choosePreset } from '@lora/recipe/internal';
import { z } from 'zod';

/** Preset names. */
export const GSM8K_PRESET_NAMES = ['simple', 'medium', 'strong'] as const;

/** A preset name. */
export type Gsm8kPresetName = (typeof GSM8K_PRESET_NAMES)[number];

/**
 * A GSM8K recipe preset: prompt shots plus the training fields the recipe maps onto
 * `@lora/train` (names follow PEFT / HF TrainingArguments).
 */
export const Gsm8kPresetSchema = z.strictObject({
  /** Preset name. */
  name: z.enum(GSM8K_PRESET_NAMES),
  /** Few-shot examples in evaluation prompts, taken in order from the fixed pool. */
  fewShotK: z.number().int().min(0).max(8),
  /** Training epochs. */
  epochs: z.number().positive(),
  /** Peak learning rate. */
  learningRate: z.number().positive(),
  /** Linear warmup as a fraction of all steps. */
  warmupRatio: z.number().min(0).max(1),
  /** Examples per optimizer step before accumulation. */
  batchSize: z.number().int().positive(),
  /** Micro-batches accumulated per optimizer step. */
  gradientAccumulationSteps: z.number().int().positive(),
  /** Tokens per example (prompt + answer) after truncation. */
  maxSeqLength: z.number().int().positive(),
  /** LoRA rank, alpha and dropout. */
  lora: z.strictObject({
    r: z.number().int().positive(),
    loraAlpha: z.number().positive(),
    loraDropout: z.number().min(0).max(1),
    targetModules: z.union([z.array(z.string()), z.literal('all-linear')]),
  }),
  /** Load the base in NF4 with double quantization (QLoRA). */
  quantize4bit: z.boolean(),
  /** Evaluate and keep a checkpoint this often (optimizer steps); the sweep keeps the best by accuracy, then safety. */
  evalEverySteps: z.number().int().positive(),
  /** Greedy generation limit for answers. */
  maxNewTokens: z.number().int().positive(),
});

/** A preset. */
export type Gsm8kPreset = z.output<typeof Gsm8kPresetSchema>;

/** The three presets: more shots, epochs and capacity from simple to strong. */
export const GSM8K_PRESETS: Readonly<Record<Gsm8kPresetName, Gsm8kPreset>> = {
  simple: {
    name: 'simple',
    fewShotK: 3,
    epochs: 1,
    learningRate: 2e-4,
    warmupRatio: 0.03,
    batchSize: 4,
    gradientAccumulationSteps: 4,
    maxSeqLength: 512,
    lora: { r: 8, loraAlpha: 16, loraDropout: 0.05, targetModules: ['q_proj', 'v_proj'] },
    quantize4bit: true,
    evalEverySteps: 200,
    maxNewTokens: 256,
  },
  medium: {
    name: 'medium',
    fewShotK: 5,
    epochs: 2,
    learningRate: 2e-4,
    warmupRatio: 0.03,
    batchSize: 4,
    gradientAccumulationSteps: 4,
    maxSeqLength: 768,
    lora: { r: 16, loraAlpha: 32, loraDropout: 0.05, targetModules: 'all-linear' },
    quantize4bit: true,
    evalEverySteps: 200,
    maxNewTokens: 320,
  },
  strong: {
    name: 'strong',
    fewShotK: 8,
    epochs: 3,
    learningRate: 1e-4,
    warmupRatio: 0.05,
    batchSize: 4,
    gradientAccumulationSteps: 8,
    maxSeqLength: 1024,
    lora: { r: 32, loraAlpha: 64, loraDropout: 0.05, targetModules: 'all-linear' },
    quantize4bit: true,
    evalEverySteps: 100,
    maxNewTokens: 384,
  },
};

/** A preset by name, with overrides validated against {@link Gsm8kPresetSchema}. */
export function resolveGsm8kPreset(name: string, overrides: Partial<Gsm8kPreset> = {}): Gsm8kPreset {
  const merged = { ...choosePreset(GSM8K_PRESETS, name, name), ...overrides };
  const result = Gsm8kPresetSchema.safeParse(merged);
  if (!result.success) {
    throw new InvalidArgumentError({
      argument: 'preset',
      message: result.error.issues.map((i) => `\`${i.path.join('.')}\`: ${i.message}`).join('; '),
    });
  }
  return result.data;
}
