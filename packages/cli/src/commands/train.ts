import type { Command } from 'commander';
import type { CliIo } from '../io.js';
import { ExitCode } from '../exit-code.js';
import { type BackendChoice, backendOption, integer } from '../options.js';

/** Parsed options of `lora train`. */
export interface TrainCliOptions {
  /** Output folder (overrides the recipe's `output`). */
  output?: string;
  /** Continue from the output folder's latest checkpoint. */
  resume: boolean;
  /** Delete the run already in the output folder first. */
  overwrite: boolean;
  /** Stop after N optimizer steps (overrides `training.maxSteps`). */
  maxSteps?: number;
  /** tfjs backend (overrides the recipe's `backend`). */
  backend?: BackendChoice;
}

/**
 * Registers `lora train <recipe.yaml>`: trains as the recipe says and writes
 * `adapter_config.json`, `adapter_model.safetensors`, `trainer_state.json`, `train_log.jsonl`,
 * `loss.svg` / `lr.svg` and checkpoints to the output folder. A folder that already holds a run is
 * refused unless `--resume` (continue it) or `--overwrite` (delete it first); a folder another
 * training is writing is refused, naming its pid. The first Ctrl-C / SIGTERM finishes the step,
 * saves a checkpoint, prints how to resume and exits 130 / 143; a second one exits at once.
 *
 * @example
 * ```sh
 * lora train examples/carbot/recipes/smoke.yaml --output runs/carbot --max-steps 50
 * lora train examples/carbot/recipes/smoke.yaml --output runs/carbot --resume
 * ```
 */
export function registerTrain(program: Command, io: CliIo): void {
  program
    .command('train')
    .description('Fine-tune a model (LoRA, DoRA, QLoRA or full) as a recipe YAML says.')
    .argument('<recipe>', 'recipe file (.yaml / .json)')
    .option('-o, --output <dir>', "output folder (default: the recipe's `output`, else runs/<name>)")
    .option('--resume', 'continue from the latest checkpoint in the output folder', false)
    .option('--overwrite', 'delete the run already in the output folder (adapter, log, checkpoints, eval/) and start over', false)
    .option('--max-steps <n>', 'stop after this many optimizer steps', integer(1))
    .addOption(backendOption('', "the recipe's `backend`, else LORA_BACKEND or automatic"))
    .action(async (file: string, options: TrainCliOptions) => {
      const { loadRecipe, trainRecipe } = await import('@lora/recipe');
      const loaded = await loadRecipe(file, io.env);
      const recipe = options.backend === undefined ? loaded : { ...loaded, recipe: { ...loaded.recipe, backend: options.backend } };
      const { result, output, model } = await trainRecipe(recipe, {
        ...(options.output === undefined ? {} : { output: options.output }),
        resume: options.resume,
        overwrite: options.overwrite,
        ...(options.maxSteps === undefined ? {} : { maxSteps: options.maxSteps }),
        env: io.env,
        log: (line) => io.writeErr(`${line}\n`),
      });
      model.dispose();
      io.writeOut(
        `${JSON.stringify({ output, steps: result.step, stopReason: result.stopReason, firstLoss: result.losses[0], lastLoss: result.losses.at(-1), lastEval: result.lastEval ?? null })}\n`,
      );
      if (result.stopReason === 'signal') {
        const signal = result.signal ?? 'SIGINT';
        io.writeErr(
          `[lora] stopped by ${signal} after step ${result.step}; checkpoint ${result.lastCheckpoint ?? '(none)'}.\n` +
            `[lora] resume with: lora train ${file} --output ${output} --resume${options.maxSteps === undefined ? '' : ` --max-steps ${options.maxSteps}`}\n`,
        );
        throw new ExitCode(signal === 'SIGTERM' ? 143 : 130);
      }
      if (result.stopReason === 'non_finite')
        throw new (await import('@lora/core')).LoraError(`training stopped on a non-finite value at step ${result.step}.`);
    });
}
