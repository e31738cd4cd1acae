import { createRequire } from 'node:module';
const require = createRequire('/work/main/packages/models/package.json');
const tf = require('@tensorflow/tfjs-node');
const m = { exports: {} };
process.dlopen(m, process.argv[2] ?? '/work/scratch/op/lora_ops.node');
const { GgufWeightSource } = await import('/work/main/packages/models/dist/io/gguf/gguf-weight-source.js');
const { dequantizeGgml } = await import('/work/main/packages/models/dist/io/gguf/dequantize.js');
const { openFileSource } = await import('/work/main/packages/models/dist/io/file-source.js');
const file = '/work/shared/models/SmolLM2-135M-Instruct/SmolLM2-135M-Instruct.Q4_1.gguf';
const ws = await GgufWeightSource.open(file);
const b = tf.backend();
const run = (name, inputs, attrs) => {
  const outs = b.binding.executeOp(name, attrs, b.getInputTensorIds(inputs), 1);
  return tf.engine().makeTensorFromTensorInfo(b.createOutputTensor(outs[0]));
};
const src = await openFileSource(file);
for (const gname of ['blk.0.ffn_gate.weight', 'blk.0.ffn_down.weight', 'token_embd.weight']) {
  const t = ws.gguf.tensors.find((x) => x.name === gname);
  const [K, N] = t.dims;
  const bytes = await src.read(t.offset, t.byteLength);
  const rowBytes = t.byteLength / N; const words = Math.ceil(rowBytes / 4);
  const padded = new Uint8Array(N * words * 4);
  for (let r = 0; r < N; r++) padded.set(bytes.subarray(r * rowBytes, (r + 1) * rowBytes), r * words * 4);
  const blocks = tf.tensor2d(new Int32Array(padded.buffer), [N, words], 'int32');
  const attrs = [{ name: 'ggml_type', type: b.binding.TF_ATTR_INT, value: t.type }, { name: 'k', type: b.binding.TF_ATTR_INT, value: K }];
  const ref = dequantizeGgml(bytes, t.type, K * N, { file, tensor: gname });
  const w = run('LoraGgmlDequantize', [blocks], attrs);
  const wd = w.dataSync();
  let diff = 0; for (let i = 0; i < ref.length; i++) if (wd[i] !== ref[i]) diff++;
  const wT = tf.tensor2d(ref, [N, K]);
  for (const M of [1, 8, 40]) {
    const x = tf.randomNormal([M, K]);
    const y = run('LoraGgmlMatMul', [x, blocks], attrs);
    const yr = tf.matMul(x, wT, false, true);
    const err = tf.max(tf.abs(tf.sub(y, yr))).dataSync()[0], scale = tf.max(tf.abs(yr)).dataSync()[0];
    // timing
    const reps = M === 1 ? 200 : 50;
    let t0 = performance.now();
    for (let i = 0; i < reps; i++) { const z = run('LoraGgmlMatMul', [x, blocks], attrs); z.dataSync(); z.dispose(); }
    const tq = (performance.now() - t0) / reps;
    t0 = performance.now();
    for (let i = 0; i < reps; i++) { const z = tf.matMul(x, wT, false, true); z.dataSync(); z.dispose(); }
    const tf32 = (performance.now() - t0) / reps;
    console.log(`${gname} type ${t.type} [${N},${K}] M=${M}: dequant mismatches ${diff}, max|err| ${err.toExponential(2)} of ${scale.toFixed(2)}; ggml ${(tq*1000).toFixed(0)} µs vs f32 matMul ${(tf32*1000).toFixed(0)} µs`);
  }
}
