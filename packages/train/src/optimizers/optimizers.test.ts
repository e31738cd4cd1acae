import { readFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs';
import { compareArrays, expectTensorsClose, setupTestBackend } from '@lora/models/test';
import { beforeAll, describe, expect, it } from 'vitest';
import { Adam, AdamW } from './adamw.js';
import { AdamW8bit } from './adamw-8bit.js';
import type { Optimizer } from './optimizer.js';
import { SGD } from './sgd.js';

// fixtures/train/optimizers.json: torch.optim.AdamW / Adam / SGD and bitsandbytes AdamW8bit
// (tools/parity/train/make_train_fixtures.py).
interface Case {
  kind: 'adamw' | 'adam' | 'sgd';
  options: {
    betas: [number, number] | null;
    eps?: number;
    weight_decay: number;
    momentum?: number;
    dampening?: number;
    nesterov?: boolean;
  };
  shapes: Record<string, number[]>;
  lrs: number[];
  init: Record<string, number[]>;
  grads: Record<string, number[]>[];
  params: Record<string, number[]>[];
}
const fixture = JSON.parse(readFileSync(new URL('../../../../fixtures/train/optimizers.json', import.meta.url), 'utf8')) as {
  cases: Case[];
  adamw8bit: {
    lr: number;
    betas: [number, number];
    eps: number;
    weight_decay: number;
    init: number[];
    grads: number[][];
    steps: { param: number[]; state1: number[]; state2: number[]; absmax1: number[]; absmax2: number[] }[];
  };
};

beforeAll(async () => {
  await setupTestBackend();
});

function build(c: Case, variables: tf.Variable[]): Optimizer {
  const o = c.options;
  if (c.kind === 'sgd')
    return new SGD(variables, {
      momentum: o.momentum ?? 0,
      dampening: o.dampening ?? 0,
      nesterov: o.nesterov ?? false,
      weightDecay: o.weight_decay,
    });
  const options = { betas: o.betas as [number, number], eps: o.eps ?? 1e-8, weightDecay: o.weight_decay };
  return c.kind === 'adamw' ? new AdamW(variables, options) : new Adam(variables, options);
}

describe('optimizers match torch.optim', () => {
  fixture.cases.forEach((c, index) => {
    it(`${c.kind} #${index} ${JSON.stringify(c.options)}`, async () => {
      const variables = Object.entries(c.shapes).map(([name, shape]) =>
        tf.variable(tf.tensor(c.init[name] as number[], shape), true, `opt${index}.${name}`),
      );
      const optimizer = build(c, variables);
      const start = tf.memory().numTensors;
      let worst = 0;
      for (const [s, step] of c.grads.entries()) {
        const grads = Object.fromEntries(
          variables.map((v) => [v.name, tf.tensor(step[v.name.split('.')[1] as string] as number[], v.shape)]),
        );
        await optimizer.applyGradients(grads, c.lrs[s] as number);
        tf.dispose(Object.values(grads));
        for (const v of variables) {
          const expected = c.params[s]?.[v.name.split('.')[1] as string] as number[];
          worst = Math.max(worst, (await expectTensorsClose(v, expected, { rtol: 1e-6, atol: 1e-7 })).maxRel);
        }
        // Slots are created on the first step; afterwards the tensor count stays fixed.
        if (s === 0) expect(tf.memory().numTensors).toBeGreaterThanOrEqual(start);
      }
      const after = tf.memory().numTensors;
      expect(optimizer.step).toBe(c.grads.length);
      // The state round-trips through host arrays.
      const state = await optimizer.getState();
      const copy = build(c, variables);
      copy.setState(state);
      expect(await copy.getState()).toEqual(state);
      copy.dispose();
      expect(tf.memory().numTensors).toBe(after);
      optimizer.dispose();
      tf.dispose(variables);
      expect(worst).toBeLessThan(1e-6);
    });
  });
});

describe('AdamW rounding', () => {
  it("rounds every operation once in float32, in torch's order (native LoraAdamStep on tensorflow, tfjs ops elsewhere)", async () => {
    const f = Math.fround;
    const n = 333;
    const init = Array.from({ length: n }, (_, i) => f(Math.sin(i) * 0.5));
    const p = tf.variable(tf.tensor2d(init, [9, 37]), true, 'rounding.w');
    const optimizer = new AdamW([p], { weightDecay: 0.1 });
    // The same update in JavaScript, with Math.fround after every operation.
    const ref = { p: init.slice(), m: new Array<number>(n).fill(0), v: new Array<number>(n).fill(0) };
    for (let step = 1; step <= 3; step++) {
      const lr = 1e-3 * step;
      const g = Array.from({ length: n }, (_, i) => f(Math.cos(i * step) * 0.01 * (i % 7)));
      const grad = tf.tensor2d(g, [9, 37]);
      optimizer.applyGradients({ [p.name]: grad }, lr);
      grad.dispose();
      const [omb1, b2, omb2] = [f(1 - 0.9), f(0.999), f(1 - 0.999)];
      const bias2 = f(Math.sqrt(1 - 0.999 ** step));
      const [eps, negStep, decay] = [f(1e-8), f(-(lr / (1 - 0.9 ** step))), f(1 - lr * 0.1)];
      for (let i = 0; i < n; i++) {
        const gi = g[i] as number;
        const m = f((ref.m[i] as number) + f(f(gi - (ref.m[i] as number)) * omb1));
        const v = f(f((ref.v[i] as number) * b2) + f(f(gi * gi) * omb2));
        const denom = f(f(f(Math.sqrt(v)) / bias2) + eps);
        ref.p[i] = f(f((ref.p[i] as number) * decay) + f(f(m / denom) * negStep));
        ref.m[i] = m;
        ref.v[i] = v;
      }
      expect(Array.from(await p.data())).toEqual(ref.p);
    }
    optimizer.dispose();
    p.dispose();
  });
});

describe('8-bit blockwise AdamW (bitsandbytes scheme)', () => {
  it('follows bnb.optim.AdamW8bit over 5 steps and stores 2 bytes per value', async () => {
    const fx = fixture.adamw8bit;
    const p = tf.variable(tf.tensor2d(fx.init, [24, 25]), true, 'adamw8bit.p');
    const optimizer = new AdamW8bit([p], { betas: fx.betas, eps: fx.eps, weightDecay: fx.weight_decay, minSize: 0 });
    for (const [s, step] of fx.steps.entries()) {
      const grads = { [p.name]: tf.tensor2d(fx.grads[s] as number[], [24, 25]) };
      await optimizer.applyGradients(grads, fx.lr);
      tf.dispose(Object.values(grads));
      const report = compareArrays(await p.data(), step.param);
      const state = (await optimizer.getState()).tensors;
      const codes1 = state[`${p.name}.state1`]?.data as Uint8Array;
      const codes2 = state[`${p.name}.state2`]?.data as Uint8Array;
      const mismatched1 = step.state1.filter((q, i) => q !== codes1[i]).length;
      const mismatched2 = step.state2.filter((q, i) => q !== codes2[i]).length;
      expect({ step: s + 1, mismatched1, mismatched2 }).toEqual({ step: s + 1, mismatched1: 0, mismatched2: 0 });
      expect(Array.from(state[`${p.name}.absmax1`]?.data ?? [])).toEqual(step.absmax1.map(Math.fround));
      // absmax2 is max v of the float32 update, which may end 1 ulp from torch's addcmul.
      expect(compareArrays(state[`${p.name}.absmax2`]?.data as Float32Array, step.absmax2).maxRel).toBeLessThan(1e-6);
      expect(report.maxRel).toBeLessThan(1e-6);
    }
    // 600 values: 2 × 600 code bytes + 2 × 3 absmax floats + one block of scratch per moment.
    expect(optimizer.stateBytes()).toEqual({ tensor: 0, host: 1200 + 24 + 2 * 4 * 256 });
    optimizer.dispose();
    p.dispose();
  });

  it('saves state memory against float32 AdamW (tf.memory)', async () => {
    const shapes: [number, number][] = [
      [256, 256],
      [256, 64],
      [64, 256],
    ];
    const make = (tag: string): tf.Variable[] => shapes.map((s, i) => tf.variable(tf.randomNormal(s), true, `${tag}.${i}`));
    const measure = async (variables: tf.Variable[], optimizer: Optimizer): Promise<{ tensorBytes: number; host: number }> => {
      const before = tf.memory().numBytes;
      const grads = Object.fromEntries(variables.map((v) => [v.name, tf.randomNormal(v.shape)]));
      await optimizer.applyGradients(grads, 1e-3);
      tf.dispose(Object.values(grads));
      const tensorBytes = tf.memory().numBytes - before;
      return { tensorBytes, host: optimizer.stateBytes().host };
    };
    const a = make('fp32');
    const b = make('int8');
    const fp32 = await measure(a, new AdamW(a));
    const int8 = await measure(b, new AdamW8bit(b));
    const params = shapes.reduce((n, [r, c]) => n + r * c, 0);
    expect(fp32.tensorBytes).toBe(8 * params);
    expect(int8.tensorBytes).toBe(0);
    const total8 = int8.tensorBytes + int8.host;
    console.log(
      `optimizer state for ${params} params: float32 AdamW ${fp32.tensorBytes} B (tf.memory), 8-bit ${total8} B (host) → ${(fp32.tensorBytes / total8).toFixed(2)}× smaller`,
    );
    expect(total8).toBeLessThan(fp32.tensorBytes / 2);
    tf.dispose([...a, ...b]);
  });
});
