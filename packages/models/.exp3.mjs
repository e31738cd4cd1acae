const tf = await import('@tensorflow/tfjs');
await import('@tensorflow/tfjs-backend-wasm');
const which = process.argv[2];
if (which === 'tensorflow') await import('@tensorflow/tfjs-node');
await tf.setBackend(which); await tf.ready();
const N = 512 * 1376; // one MLP matrix
const reps = Number(process.argv[3] ?? 20);
const map = Array.from({ length: 16 }, (_, i) => i / 16 - 0.3);
const t3 = new Float32Array(4096 * 3); for (let i = 0; i < 4096; i++) { t3[3*i]=map[i&15]; t3[3*i+1]=map[(i>>4)&15]; t3[3*i+2]=map[i>>8]; }
const T3 = tf.tensor2d(t3, [4096, 3]);
const t4 = new Float32Array(65536 * 4); for (let i = 0; i < 65536; i++) for (let j = 0; j < 4; j++) t4[4*i+j] = map[(i >> (4*j)) & 15];
const T4 = tf.tensor2d(t4, [65536, 4]);
const t2 = new Float32Array(256 * 2); for (let i = 0; i < 256; i++) { t2[2*i] = map[i&15]; t2[2*i+1] = map[i>>4]; }
const T2 = tf.tensor2d(t2, [256, 2]);
const w24 = tf.tensor1d(Int32Array.from({ length: N / 6 }, () => Math.floor(Math.random() * 2 ** 24)), 'int32');
const w32 = tf.tensor1d(Int32Array.from({ length: N / 8 }, () => (Math.random() * 2 ** 32) | 0), 'int32');
const gnd = (table, idx) => which === 'cpu' ? tf.gather(table, idx.reshape([-1])) : tf.gatherND(table, idx.reshape([-1, 1]));
const c16 = tf.scalar(65536, 'int32'), c15 = tf.scalar(32768, 'int32');
const c24 = tf.scalar(2 ** 24, 'int32'), c8 = tf.scalar(256, 'int32'), c7 = tf.scalar(128, 'int32');
const variants = {
  V0: () => { const f = tf.cast(w24, 'float32'); const h = tf.floor(tf.mul(f, 1/4096)); const l = tf.sub(f, tf.mul(h, 4096)); return gnd(T3, tf.cast(tf.stack([l, h], 1), 'int32')); },
  V2f: () => { const Lf = tf.mul(tf.cast(tf.mul(w32, c16), 'float32'), 1/65536); const L = tf.cast(Lf, 'int32'); const H = tf.cast(tf.mul(tf.cast(tf.sub(w32, L), 'float32'), 1/65536), 'int32'); return gnd(T4, tf.add(tf.concat([L, H]), c15)); },
  V3a: () => { const Lf = tf.mul(tf.cast(tf.mul(w32, c16), 'float32'), 1/65536); const L = tf.cast(Lf, 'int32'); const Hf = tf.mul(tf.cast(tf.sub(w32, L), 'float32'), 1/65536); const J = tf.concat([Lf, Hf]); const hb = tf.floor(tf.mul(J, 1/256)); const lb = tf.sub(J, tf.mul(hb, 256)); return gnd(T2, tf.cast(tf.concat([lb, tf.add(hb, 128)]), 'int32')); },
  //V3b: () => { const J = tf.floorDiv(tf.mul(w32, c16), c16); const Jh = tf.floorDiv(tf.sub(w32, J), c16); const K = tf.concat([J, Jh]); const lb = tf.floorDiv(tf.mul(K, c24), c24); const hb = tf.floorDiv(tf.sub(K, lb), c8); return gnd(T2, tf.add(tf.concat([lb, hb]), c7)); },
  //V3c: () => { const K = tf.concat([tf.mul(w32, c16), w32]); const m = tf.mul(K, c8); return gnd(T2, tf.add(tf.concat([tf.floorDiv(tf.mul(K, c24), c24), tf.floorDiv(tf.sub(K, m), c8)]), c7)); },
};
for (const fn of Object.values(variants)) for (let i = 0; i < 3; i++) tf.tidy(() => fn().dataSync());
const best = {};
for (let round = 0; round < reps; round++) for (const [name, fn] of Object.entries(variants)) {
  const t0 = performance.now(); const r = tf.tidy(fn); r.dataSync(); r.dispose();
  best[name] = Math.min(best[name] ?? 1e9, performance.now() - t0);
}
console.log(which, JSON.stringify(Object.fromEntries(Object.entries(best).map(([k, v]) => [k, +v.toFixed(2)]))));
