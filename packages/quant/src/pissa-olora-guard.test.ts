// PiSSA / OLoRA initialisation rewrites the base to the residual W − s·B·A; PEFT refuses it on a
// quantized base, and so does @lora/peft: this checks it against the real NF4 layer.
import { Rng } from '@lora/core';
import { setupTestBackend } from '@lora/models/test';
import { LoraLinear } from '@lora/peft';
import { beforeAll, describe, expect, it } from 'vitest';
import { Nf4Linear } from './nf4-linear.js';

beforeAll(async () => {
  await setupTestBackend();
});

describe('PiSSA / OLoRA on an NF4 base', () => {
  it('is refused with a clear error and leaves the quantized base untouched', async () => {
    const [out, inF] = [16, 64];
    const rng = new Rng(9);
    const w = Float32Array.from({ length: out * inF }, () => 0.1 * rng.normal());
    const nf4 = Nf4Linear.quantize(w, out, inF, { blocksize: 64 });
    const before = (await nf4.quantState()).packed.slice();
    const layer = new LoraLinear(nf4);
    for (const init of ['pissa', 'olora'] as const) {
      expect(() =>
        layer.addAdapter('q', {
          r: 4,
          loraAlpha: 8,
          loraDropout: 0,
          initLoraWeights: init,
          useRslora: false,
          useDora: false,
          rng: new Rng(7),
          trainable: true,
        }),
      ).toThrow(new RegExp(`"${init}" rewrites the base weight.*quantized.*quantize the residual model`));
    }
    expect(layer.base).toBe(nf4);
    expect(Array.from((await nf4.quantState()).packed)).toEqual(Array.from(before));
    layer.dispose();
  });
});
