import type { Rng } from '@lora/core';
import { Matrix, QrDecomposition, SingularValueDecomposition } from 'ml-matrix';

/** LoRA factors in PEFT's torch layouts (row-major float64): `lora_A` `[r, in]`, `lora_B` `[out, r]`. */
export interface LoraFactors {
  /** `lora_A`, `[r, in]`. */
  readonly loraA: Float64Array;
  /** `lora_B`, `[out, r]`. */
  readonly loraB: Float64Array;
}

/** A row-major `[rows, cols]` float64 matrix as an ml-matrix {@link Matrix}. */
function toMatrix(data: ArrayLike<number>, rows: number, cols: number): Matrix {
  const m = new Matrix(rows, cols);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) m.set(i, j, data[i * cols + j] as number);
  return m;
}

function toFloat64(m: Matrix): Float64Array {
  const out = new Float64Array(m.rows * m.columns);
  for (let i = 0; i < m.rows; i++) for (let j = 0; j < m.columns; j++) out[i * m.columns + j] = m.get(i, j);
  return out;
}

/** The first `k` columns of `m`. */
const leftColumns = (m: Matrix, k: number): Matrix => m.subMatrix(0, m.rows - 1, 0, k - 1);

/** Reduced QR of a tall (`rows ≥ cols`) matrix: `Q` `[rows, cols]`. */
function thinQ(x: Matrix): Matrix {
  return leftColumns(new QrDecomposition(x).orthogonalMatrix, x.columns);
}

/**
 * Reduced QR `W = Q R` of any `[m, n]` matrix (as `torch.linalg.qr`, mode "reduced"): `Q` `[m, k]`,
 * `R` `[k, n]`, `k = min(m, n)`. A wide matrix is factored through its leading square block, as
 * Householder QR does (`R = Qᵀ W`).
 */
function reducedQr(w: Matrix): { q: Matrix; r: Matrix } {
  if (w.rows >= w.columns) {
    const qr = new QrDecomposition(w);
    return { q: leftColumns(qr.orthogonalMatrix, w.columns), r: qr.upperTriangularMatrix };
  }
  const q = new QrDecomposition(leftColumns(w, w.rows)).orthogonalMatrix;
  return { q, r: q.transpose().mmul(w) };
}

/** Rank-`r` singular triplets of `w` (`w ≈ U diag(s) Vᵀ`), exact. */
function exactSvd(w: Matrix, r: number): { u: Matrix; s: number[]; v: Matrix } {
  const svd = new SingularValueDecomposition(w, { autoTranspose: true });
  return { u: leftColumns(svd.leftSingularVectors, r), s: svd.diagonal.slice(0, r), v: leftColumns(svd.rightSingularVectors, r) };
}

/**
 * Randomized rank-`q` SVD (Halko et al. 2009, Algorithm 5.1, as `torch.svd_lowrank`): a Gaussian
 * sketch from `rng`, `niter` subspace iterations with re-orthonormalisation, then an exact SVD of
 * the projected `[q, n]` matrix.
 */
function randomizedSvd(w: Matrix, q: number, niter: number, rng: Rng): { u: Matrix; s: number[]; v: Matrix } {
  const wide = w.rows < w.columns;
  const a = wide ? w.transpose() : w; // tall
  const sketch = new Matrix(a.columns, q);
  for (let i = 0; i < a.columns; i++) for (let j = 0; j < q; j++) sketch.set(i, j, rng.normal());
  let basis = thinQ(a.mmul(sketch));
  const at = a.transpose();
  for (let it = 0; it < niter; it++) {
    basis = thinQ(at.mmul(basis));
    basis = thinQ(a.mmul(basis));
  }
  const small = new SingularValueDecomposition(basis.transpose().mmul(a), { autoTranspose: true });
  const u = basis.mmul(leftColumns(small.leftSingularVectors, q));
  const v = leftColumns(small.rightSingularVectors, q);
  const s = small.diagonal.slice(0, q);
  return wide ? { u: v, s, v: u } : { u, s, v };
}

/**
 * PiSSA factors of a base weight (PEFT `pissa_init`): with `W ≈ U diag(S) Vᵀ` (rank `r`),
 * `lora_A = diag(√(S/s)) Vᵀ` and `lora_B = U diag(√(S/s))`, so `s · B A` is the rank-`r` truncation
 * of `W`. Exact SVD when `niter` is undefined (`"pissa"`), else the randomized SVD with `niter`
 * subspace iterations drawing its sketch from `rng` (`"pissa_niter_<n>"`).
 *
 * @param weight - the base weight, torch layout `[out, in]`, row-major.
 */
export function pissaFactors(
  weight: ArrayLike<number>,
  shape: { out: number; in: number },
  r: number,
  scaling: number,
  niter?: { niter: number; rng: Rng },
): LoraFactors {
  const w = toMatrix(weight, shape.out, shape.in);
  const { u, s, v } = niter === undefined ? exactSvd(w, r) : randomizedSvd(w, r, niter.niter, niter.rng);
  const root = s.map((x) => Math.sqrt(x / scaling));
  const a = v.transpose(); // [r, in]
  const b = u.clone(); // [out, r]
  for (let k = 0; k < r; k++) {
    const f = root[k] as number;
    for (let j = 0; j < a.columns; j++) a.set(k, j, a.get(k, j) * f);
    for (let i = 0; i < b.rows; i++) b.set(i, k, b.get(i, k) * f);
  }
  return { loraA: toFloat64(a), loraB: toFloat64(b) };
}

/**
 * OLoRA factors of a base weight (PEFT `olora_init`): with the reduced QR `W = Q R`,
 * `lora_A = R[:r]` and `lora_B = Q[:, :r]`.
 *
 * @param weight - the base weight, torch layout `[out, in]`, row-major.
 */
export function oloraFactors(weight: ArrayLike<number>, shape: { out: number; in: number }, r: number): LoraFactors {
  const { q, r: upper } = reducedQr(toMatrix(weight, shape.out, shape.in));
  return { loraA: toFloat64(upper.subMatrix(0, r - 1, 0, upper.columns - 1)), loraB: toFloat64(leftColumns(q, r)) };
}
