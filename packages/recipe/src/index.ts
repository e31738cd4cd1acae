/**
 * The composition layer of @lora, above data, models, quant, peft, train and eval: the typed
 * recipe (YAML) schema and its loader, {@link prepareModel} (backend → model → 4-bit base →
 * adapter → tokenizer → chat template, written once for the CLI, the examples and your scripts),
 * the split encoding and validation loss training uses, {@link trainRecipe}, a recipe run end to end,
 * and {@link compareAdapter}, the base-vs-adapter report the examples write after training.
 *
 * @example
 * ```ts
 * import { loadRecipe, prepareModel, trainRecipe, validationLoss } from '@lora/recipe';
 * const loaded = await loadRecipe('examples/carbot/recipes/smoke.yaml');
 * const { model, tokenizer } = await trainRecipe(loaded, { output: 'runs/carbot' });
 * console.log(await validationLoss(loaded.recipe, tokenizer, model));
 * ```
 *
 * @packageDocumentation
 */
export { loadRecipe, RecipeSchema, type Recipe, type LoadedRecipe } from './recipe.js';
export {
  prepareModel,
  recipeChatTemplate,
  chatRenderer,
  type ModelSpec,
  type PreparedModel,
} from './prepare.js';
export { validationLoss, type SplitReport } from './split.js';
export { trainRecipe, type TrainRecipeResult } from './train-recipe.js';
export {
  compareAdapter,
  type PipelineOptions,
  type CompareAdapterResult,
  type CompareContext,
  type TrainingSummary,
} from './compare.js';
