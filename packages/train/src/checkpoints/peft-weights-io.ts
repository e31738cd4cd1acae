import type { PeftModel } from '@lora/peft';
import { loadAdapterWeights } from '@lora/peft/internal';
import type { WeightsIO } from './checkpoint-io.js';

/**
 * {@link WeightsIO} of a LoRA/DoRA run: checkpoints hold the active adapter as a PEFT folder
 * (`adapter_config.json` + `adapter_model.safetensors`, loadable with `PeftModel.from_pretrained`),
 * and resume assigns it back into the live adapter variables (exact: float32 and transposes),
 * `modulesToSave` copies and trainable token rows included.
 *
 * LoRA dropout draws from each layer's own generator, which checkpoints do not hold yet: with
 * `loraDropout > 0` a resumed run is statistically, not bitwise, identical.
 */
export function peftWeightsIO(model: PeftModel): WeightsIO {
  return {
    save: (dir) => model.saveAdapter(dir),
    // With the model and config: trained biases (`bias`), an embed_tokens adapter, modules_to_save
    // copies and trainable token rows resume too.
    load: (dir) =>
      loadAdapterWeights(dir, model.loraLayers(), model.activeAdapter, {
        model,
        config: model.peftConfig(),
        trainable: !model.peftConfig().inferenceMode,
        auxiliary: model.auxiliaryLayers(model.activeAdapter),
      }),
  };
}
