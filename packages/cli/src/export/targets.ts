import { FileFormatError } from '@lora/core';
import { type LoraConfigOptions, loraConfig } from '@lora/peft';
import { loraConfigToJson } from '@lora/peft/internal';
import type { Recipe } from '@lora/recipe';
import type { TrainingArgs } from '@lora/train';
import type { ExportedRecordKind } from './export-data.js';

/** Where the exported files point and what the recipe's data became; the targets render it. */
export interface ExportPlan {
  /** The recipe file (for messages). */
  file: string;
  recipe: Recipe;
  training: TrainingArgs;
  /** Hugging Face model folder (absolute, or `model` relative to the export folder once converted). */
  model: string;
  /** Whether `model` is relative to the export folder. */
  modelInExport: boolean;
  /** Tokenizer folder, when not the model's. */
  tokenizer?: string;
  /** The chat template to install on the tokenizer (generation blocks / BOS added), or none: the tokenizer's own. */
  chatTemplate?: string;
  /** Record shape of the converted data. */
  kind: ExportedRecordKind;
  /** Whether `data/validation.jsonl` was written. */
  validation: boolean;
  /** Approximations, listed in the exported file's header. */
  notes: string[];
}

/** A recipe field the target cannot express: an error naming the recipe file and field. */
function unsupported(plan: ExportPlan, field: string, target: string, why: string): FileFormatError {
  return new FileFormatError({ file: plan.file, field, message: `has no ${target} equivalent: ${why}` });
}

/** PEFT `LoraConfig` keyword arguments of the recipe's adapter (PEFT's own names, as in `adapter_config.json`). */
export function loraKwargs(adapter: LoraConfigOptions): Record<string, unknown> {
  const json = loraConfigToJson(loraConfig(adapter, { onWarning: () => {} }));
  const kwargs: Record<string, unknown> = { ...json, task_type: 'CAUSAL_LM' };
  // Bookkeeping of the saved file, not settings of the adapter.
  for (const key of ['peft_type', 'peft_version', 'auto_mapping', 'base_model_name_or_path', 'inference_mode', 'revision']) {
    delete kwargs[key];
  }
  return kwargs;
}

/** {@link loraKwargs} less the keys at PEFT's defaults (r, alpha, dropout and targets always kept): the readable form. */
function changedLoraKwargs(adapter: LoraConfigOptions): Record<string, unknown> {
  const all = loraKwargs(adapter);
  const defaults = loraKwargs({});
  const keep = new Set(['r', 'lora_alpha', 'lora_dropout', 'target_modules', 'task_type']);
  return Object.fromEntries(Object.entries(all).filter(([k, v]) => keep.has(k) || JSON.stringify(v) !== JSON.stringify(defaults[k])));
}

/** Notes and errors shared by both targets (fields that mean nothing to a PyTorch trainer). */
function commonNotes(plan: ExportPlan, target: string): void {
  const { recipe, training } = plan;
  if (recipe.backend !== undefined)
    plan.notes.push(`backend: ${recipe.backend} is a tfjs setting; ignored (the target picks its devices).`);
  if (recipe.evaluation !== undefined) plan.notes.push('evaluation: not exported; run `lora eval` on the trained adapter.');
  if (!training.shuffle) throw unsupported(plan, 'training.shuffle', target, 'its trainer always shuffles the training data.');
  plan.notes.push(`seed: ${training.seed} seeds the target's own shuffling and dropout; the batches and their order differ from @lora's.`);
  if (training.onNonFinite === 'skip') {
    plan.notes.push('training.onNonFinite: skip has no equivalent; the target neither stops nor skips on a NaN loss.');
  } else plan.notes.push('training.onNonFinite: stop has no equivalent; the target does not stop on a NaN loss.');
  if (recipe.data.packing) {
    plan.notes.push(
      'data.packing: the target packs best-fit too, but its rows and (without flash attention) cross-example attention differ.',
    );
  }
  if (training.optimizer === 'adamw8bit') {
    plan.notes.push('training.optimizer: adamw8bit → bitsandbytes AdamW8bit (same idea; its block-wise quantization differs).');
  }
}

function optimizerName(plan: ExportPlan, target: string): { optim: string; optimArgs?: string } {
  const { training } = plan;
  switch (training.optimizer) {
    case 'adamw':
      return { optim: 'adamw_torch' };
    case 'adamw8bit':
      return { optim: 'adamw_bnb_8bit' };
    case 'adam':
      if (training.weightDecay !== 0) {
        throw unsupported(plan, 'training.optimizer', target, 'adam with weightDecay (coupled L2) is not offered; use adamw.');
      }
      return { optim: 'adamw_torch' };
    case 'sgd':
      return training.momentum === 0 ? { optim: 'sgd' } : { optim: 'sgd', optimArgs: `momentum=${training.momentum}` };
  }
}

/** `SFTConfig` keyword arguments (without `output_dir`). */
function sftArgs(plan: ExportPlan): Record<string, unknown> {
  const { recipe, training } = plan;
  const { optim, optimArgs } = optimizerName(plan, 'TRL');
  const evalEvery = plan.validation && training.evalSteps > 0;
  const args: Record<string, unknown> = {
    max_steps: training.maxSteps,
    per_device_train_batch_size: recipe.data.batchSize,
    per_device_eval_batch_size: recipe.data.batchSize,
    gradient_accumulation_steps: training.gradientAccumulationSteps,
    learning_rate: training.learningRate,
    lr_scheduler_type: training.lrScheduler,
    warmup_steps: training.warmup,
    optim,
    ...(optimArgs === undefined ? {} : { optim_args: optimArgs }),
    weight_decay: training.weightDecay,
    adam_beta1: training.adamBeta1,
    adam_beta2: training.adamBeta2,
    adam_epsilon: training.adamEpsilon,
    max_grad_norm: training.maxGradNorm,
    logging_steps: training.loggingSteps,
    seed: training.seed,
    gradient_checkpointing: training.gradientCheckpointing,
    eval_strategy: evalEvery ? 'steps' : 'no',
    ...(evalEvery ? { eval_steps: training.evalSteps } : {}),
    save_strategy: training.saveSteps > 0 ? 'steps' : 'no',
    ...(training.saveSteps > 0 ? { save_steps: training.saveSteps } : {}),
    save_total_limit: training.saveTotalLimit === 0 ? null : training.saveTotalLimit,
    max_length: recipe.data.maxLength,
    truncation_mode: recipe.data.truncation === 'right' ? 'keep_start' : 'keep_end',
    packing: recipe.data.packing,
    assistant_only_loss: plan.kind === 'messages' && recipe.data.mask === 'assistant',
    completion_only_loss: plan.kind.endsWith('prompt-completion') && recipe.data.mask !== 'all',
    dataset_text_field: 'text',
    report_to: 'none',
    bf16: false,
    fp16: false,
  };
  if (recipe.data.truncation === 'left') plan.notes.push('data.truncation: left → truncation_mode "keep_end" (deprecated in TRL).');
  if (training.earlyStoppingPatience > 0) {
    if (!evalEvery) {
      throw unsupported(plan, 'training.earlyStoppingPatience', 'TRL', 'early stopping needs data.validation and training.evalSteps > 0.');
    }
    Object.assign(args, {
      metric_for_best_model: training.metricForBestModel,
      greater_is_better: training.greaterIsBetter,
      load_best_model_at_end: true,
      save_strategy: 'steps',
      save_steps: training.evalSteps,
    });
    plan.notes.push('training.earlyStoppingPatience: EarlyStoppingCallback with load_best_model_at_end (checkpoints every evalSteps).');
  } else if (evalEvery) {
    Object.assign(args, { metric_for_best_model: training.metricForBestModel, greater_is_better: training.greaterIsBetter });
  }
  if (plan.validation && training.evalSteps === 0) plan.notes.push('training.evalSteps: 0 → one evaluation after training.');
  if (training.saveSteps === 0) plan.notes.push('training.saveSteps: 0 → no checkpoints; the adapter is saved at the end.');
  return args;
}

/** `BitsAndBytesConfig` keyword arguments of the recipe's `quantization`, or undefined. */
function bnbKwargs(plan: ExportPlan): Record<string, unknown> | undefined {
  const q = plan.recipe.quantization;
  if (q === undefined) return undefined;
  if (q.blocksize !== 64) throw unsupported(plan, 'quantization.blocksize', 'bitsandbytes', 'its 4-bit blocksize is fixed at 64.');
  return {
    load_in_4bit: true,
    bnb_4bit_quant_type: q.type,
    bnb_4bit_use_double_quant: q.doubleQuant,
    // bitsandbytes keeps lm_head in float unless the list is given: keep it there too, as @lora does.
    ...(q.skip.length === 0 ? {} : { llm_int8_skip_modules: [...q.skip, 'lm_head'] }),
  };
}

/** A Python expression for a JSON value (`json.loads` of a string literal: no true/null spelling issues). */
function py(value: unknown): string {
  return `json.loads(${JSON.stringify(JSON.stringify(value))})`;
}

function header(plan: ExportPlan, comment: string, run: string[]): string {
  const lines = [
    `Exported by \`lora export-recipe\` from ${plan.file} (recipe "${plan.recipe.name}").`,
    ...run,
    '',
    'Approximations (everything else maps one to one):',
    ...plan.notes.map((n) => `  - ${n}`),
  ];
  return lines.map((l) => (l === '' ? comment : `${comment} ${l}`)).join('\n');
}

/** The TRL script (`train_trl.py`): SFTTrainer + LoraConfig (+ BitsAndBytesConfig) on `data/*.jsonl`. */
export function trlScript(plan: ExportPlan): string {
  commonNotes(plan, 'TRL');
  const lora = plan.recipe.adapter === 'none' ? undefined : changedLoraKwargs(plan.recipe.adapter);
  if (lora === undefined) plan.notes.push('adapter: none → full fine-tuning of every parameter (@lora trains the linears only).');
  const args = sftArgs(plan);
  const bnb = bnbKwargs(plan);
  const model = plan.modelInExport ? `os.path.join(HERE, ${JSON.stringify(plan.model)})` : JSON.stringify(plan.model);
  const tokenizer = plan.tokenizer === undefined ? 'MODEL' : JSON.stringify(plan.tokenizer);
  const head = header(plan, '#', [
    'Train (one GPU, or a cluster through accelerate / DeepSpeed):',
    '  python train_trl.py --output-dir runs/adapter',
    '  accelerate launch --config_file <your accelerate/deepspeed config> train_trl.py --output-dir runs/adapter',
    'then bring the PEFT adapter back: lora eval <recipe> --adapter runs/adapter',
  ]);
  return `#!/usr/bin/env python3
${head}
import argparse
import json
import os

import torch
from datasets import load_dataset
from peft import LoraConfig
from transformers import AutoModelForCausalLM, AutoTokenizer, BitsAndBytesConfig, EarlyStoppingCallback
from trl import SFTConfig, SFTTrainer

HERE = os.path.dirname(os.path.abspath(__file__))
MODEL = ${model}
TOKENIZER = ${tokenizer}
CHAT_TEMPLATE = ${plan.chatTemplate === undefined ? 'None' : JSON.stringify(plan.chatTemplate)}
ADD_BOS = ${plan.recipe.data.addBos === undefined ? 'None' : plan.recipe.data.addBos ? 'True' : 'False'}
LORA = ${lora === undefined ? 'None' : py(lora)}
BNB = ${bnb === undefined ? 'None' : py(bnb)}
SFT = ${py(args)}
EARLY_STOPPING = ${plan.training.earlyStoppingPatience > 0 ? py({ early_stopping_patience: plan.training.earlyStoppingPatience, early_stopping_threshold: plan.training.earlyStoppingThreshold }) : 'None'}
VALIDATION = ${plan.validation ? 'True' : 'False'}


def main():
    parser = argparse.ArgumentParser(description="Train the exported recipe with TRL.")
    parser.add_argument("--output-dir", default=os.path.join(HERE, "output"), help="where the adapter and checkpoints go")
    parser.add_argument("--max-steps", type=int, help="override training.maxSteps")
    cli = parser.parse_args()

    tokenizer = AutoTokenizer.from_pretrained(TOKENIZER)
    if CHAT_TEMPLATE is not None:
        tokenizer.chat_template = CHAT_TEMPLATE
    if ADD_BOS is not None:
        tokenizer.add_bos_token = ADD_BOS
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token

    model_kwargs = {"dtype": torch.float32}
    if BNB is not None:
        model_kwargs["quantization_config"] = BitsAndBytesConfig(**BNB, bnb_4bit_compute_dtype=torch.float32)
    model = AutoModelForCausalLM.from_pretrained(MODEL, **model_kwargs)

    files = {"train": os.path.join(HERE, "data", "train.jsonl")}
    if VALIDATION:
        files["validation"] = os.path.join(HERE, "data", "validation.jsonl")
    data = load_dataset("json", data_files=files)

    sft = dict(SFT)
    if cli.max_steps is not None:
        sft["max_steps"] = cli.max_steps
    trainer = SFTTrainer(
        model=model,
        args=SFTConfig(output_dir=cli.output_dir, **sft),
        train_dataset=data["train"],
        eval_dataset=data["validation"] if VALIDATION else None,
        processing_class=tokenizer,
        peft_config=LoraConfig(**LORA) if LORA is not None else None,
        callbacks=[EarlyStoppingCallback(**EARLY_STOPPING)] if EARLY_STOPPING is not None else None,
    )
    trainer.train()
    if VALIDATION and SFT["eval_strategy"] == "no":
        print(json.dumps(trainer.evaluate()))
    trainer.save_model(cli.output_dir)
    print(json.dumps({"output": cli.output_dir, "losses": [e["loss"] for e in trainer.state.log_history if "loss" in e]}))


if __name__ == "__main__":
    main()
`;
}

/**
 * A value in YAML flow style (JSON syntax), with numbers that YAML 1.1 readers (PyYAML, which
 * axolotl uses) take as numbers: `1e-8` is a string there, `1.0e-8` a float.
 */
function yamlValue(value: unknown): string {
  if (typeof value === 'number') {
    const text = JSON.stringify(value);
    return /e/i.test(text) && !text.includes('.') ? text.replace(/e/i, '.0e') : text;
  }
  if (Array.isArray(value)) return `[${value.map(yamlValue).join(', ')}]`;
  if (value !== null && typeof value === 'object') {
    return `{${Object.entries(value)
      .map(([k, v]) => `${JSON.stringify(k)}: ${yamlValue(v)}`)
      .join(', ')}}`;
  }
  return JSON.stringify(value);
}

/** Axolotl YAML (`axolotl.yaml`): values in flow style (see {@link yamlValue}). */
export function axolotlYaml(plan: ExportPlan): string {
  commonNotes(plan, 'axolotl');
  const { recipe, training } = plan;
  if (recipe.adapter === 'none') throw unsupported(plan, 'adapter', 'axolotl', 'export full fine-tuning with --to trl.');
  if (plan.kind === 'prompt-completion') {
    throw unsupported(plan, 'data.format', 'axolotl', 'prompt/completion pairs have no plain axolotl dataset type; export with --to trl.');
  }
  const lora = loraKwargs(recipe.adapter);
  const defaults = loraKwargs({});
  const mapped: Record<string, string> = {
    r: 'lora_r',
    lora_alpha: 'lora_alpha',
    lora_dropout: 'lora_dropout',
    use_dora: 'peft_use_dora',
    use_rslora: 'peft_use_rslora',
    modules_to_save: 'lora_modules_to_save',
  };
  const out: [string, unknown][] = [['base_model', plan.modelInExport ? `./${plan.model}` : plan.model]];
  if (plan.tokenizer !== undefined) out.push(['tokenizer_config', plan.tokenizer]);
  out.push(['adapter', recipe.quantization === undefined ? 'lora' : 'qlora']);
  if (recipe.quantization !== undefined) {
    const q = recipe.quantization;
    if (q.type !== 'nf4') throw unsupported(plan, 'quantization.type', 'axolotl', 'qlora loads nf4 only.');
    if (q.blocksize !== 64) throw unsupported(plan, 'quantization.blocksize', 'axolotl', 'the 4-bit blocksize is fixed at 64.');
    if (!q.doubleQuant) throw unsupported(plan, 'quantization.doubleQuant', 'axolotl', 'qlora always double-quantizes.');
    if (q.skip.length > 0) throw unsupported(plan, 'quantization.skip', 'axolotl', 'it has no list of modules kept in float.');
    out.push(['load_in_4bit', true]);
  }
  for (const [key, value] of Object.entries(lora)) {
    if (key === 'target_modules') {
      if (value === 'all-linear') out.push(['lora_target_linear', true]);
      else out.push(['lora_target_modules', value]);
    } else if (key in mapped) {
      const always = key === 'r' || key === 'lora_alpha' || key === 'lora_dropout';
      if (always || (value !== null && value !== false)) out.push([mapped[key] as string, value]);
    } else if (key !== 'task_type' && JSON.stringify(value) !== JSON.stringify(defaults[key])) {
      const camel = key.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
      throw unsupported(plan, `adapter.${camel}`, 'axolotl', `axolotl has no key for PEFT's ${key}; export with --to trl.`);
    }
  }
  const dataset = (path: string): Record<string, unknown> =>
    plan.kind === 'text'
      ? { path, ds_type: 'json', type: 'completion', field: 'text' }
      : {
          path,
          ds_type: 'json',
          type: 'chat_template',
          field_messages: 'messages',
          ...(plan.chatTemplate === undefined
            ? { chat_template: 'tokenizer_default' }
            : { chat_template: 'jinja', chat_template_jinja: plan.chatTemplate }),
          roles_to_train: recipe.data.mask === 'all' ? ['system', 'user', 'assistant', 'tool'] : ['assistant'],
          ...(recipe.data.mask === 'completion' ? { message_field_training: 'training' } : {}),
        };
  out.push(['datasets', [dataset('data/train.jsonl')]]);
  if (plan.validation) out.push(['test_datasets', [{ ...dataset('data/validation.jsonl'), split: 'train' }]]);
  out.push(['val_set_size', 0]);
  if (recipe.data.truncation === 'left') throw unsupported(plan, 'data.truncation', 'axolotl', 'it truncates on the right only.');
  const { optim, optimArgs } = optimizerName(plan, 'axolotl');
  if (optimArgs !== undefined) throw unsupported(plan, 'training.momentum', 'axolotl', 'it has no SGD momentum key.');
  out.push(
    ['sequence_len', recipe.data.maxLength],
    ['sample_packing', recipe.data.packing],
    ['micro_batch_size', recipe.data.batchSize],
    ['gradient_accumulation_steps', training.gradientAccumulationSteps],
    ['max_steps', training.maxSteps],
    ['learning_rate', training.learningRate],
    ['lr_scheduler', training.lrScheduler],
    training.warmup < 1 ? ['warmup_ratio', training.warmup] : ['warmup_steps', training.warmup],
    ['optimizer', optim],
    ['weight_decay', training.weightDecay],
    ['adam_beta1', training.adamBeta1],
    ['adam_beta2', training.adamBeta2],
    ['adam_epsilon', training.adamEpsilon],
    ['max_grad_norm', training.maxGradNorm],
    ['logging_steps', training.loggingSteps],
    ['seed', training.seed],
    ['gradient_checkpointing', training.gradientCheckpointing],
  );
  if (plan.validation && training.evalSteps > 0) out.push(['eval_steps', training.evalSteps]);
  if (training.saveSteps > 0) out.push(['save_steps', training.saveSteps]);
  if (training.saveTotalLimit > 0) out.push(['save_total_limit', training.saveTotalLimit]);
  if (training.earlyStoppingPatience > 0) out.push(['early_stopping_patience', training.earlyStoppingPatience]);
  if (recipe.data.addBos !== undefined) {
    plan.notes.push(`data.addBos: ${recipe.data.addBos} → follows the chat template / tokenizer (bos_token in the template).`);
  }
  out.push(['bf16', false], ['fp16', false], ['output_dir', './output']);
  const head = header(plan, '#', [
    'Train from this folder (paths are relative to it):',
    '  axolotl train axolotl.yaml',
    'then bring the PEFT adapter back: lora eval <recipe> --adapter output',
  ]);
  return `${head}\n${out.map(([k, v]) => `${k}: ${yamlValue(v)}`).join('\n')}\n`;
}
