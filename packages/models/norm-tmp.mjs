import * as tf from '@tensorflow/tfjs';
import { selectBackend } from './dist/index.js';
process.env.LORA_BACKEND='tensorflow';
await selectBackend();
console.log(tf.getBackend());
const x = tf.randomNormal([2048,64]), w = tf.randomUniform([64]), dy = tf.randomNormal([2048,64]);
const g = tf.randomNormal([2048,172]), u = tf.randomNormal([2048,172]);
const fns = {
  native: () => tf.engine().runKernel('LoraRmsNorm', {x, scale: w}, {eps: 1e-5}),
  nativeGrad: () => tf.engine().runKernel('LoraRmsNormGrad', {x, scale: w, dy}, {eps: 1e-5}),
  tfjs: () => tf.tidy(() => tf.mul(tf.mul(x, tf.rsqrt(tf.add(tf.mean(tf.square(x), -1, true), 1e-5))), w)),
  silu: () => tf.engine().runKernel('LoraSiluMul', {g, u}),
  siluGrad: () => tf.engine().runKernel('LoraSiluMulGrad', {g, u, dy: g}),
  sigmoid: () => tf.sigmoid(g),
  add: () => tf.add(x, dy),
};
for (const [name, f] of Object.entries(fns)) {
  for (let i=0;i<20;i++) tf.dispose(f());
  const t0=performance.now(); for (let i=0;i<200;i++) tf.dispose(f()); console.log(name, ((performance.now()-t0)/200*1000).toFixed(1),'us');
}
