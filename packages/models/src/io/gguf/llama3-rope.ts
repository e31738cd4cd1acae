// llama.cpp's converter does not store Llama 3 ("llama3") rope scaling parameters in the metadata:
// it stores the per-frequency divisors it derives from them as the tensor `rope_freqs.weight`
// (`LlamaModel.generate_extra_tensors` in convert_hf_to_gguf.py). This recovers `factor`,
// `low_freq_factor`, `high_freq_factor` and `original_max_position_embeddings` from those divisors,
// and accepts the result only if it reproduces every divisor.

const f = Math.fround;

/** Hugging Face `rope_scaling` of type `llama3`. */
export interface Llama3RopeScaling {
  readonly rope_type: 'llama3';
  readonly factor: number;
  readonly low_freq_factor: number;
  readonly high_freq_factor: number;
  readonly original_max_position_embeddings: number;
}

/** The divisors llama.cpp's converter writes for these parameters (float32, as torch computes them). */
export function llama3RopeDivisors(theta: number, headDim: number, s: Llama3RopeScaling): Float32Array {
  const half = headDim / 2;
  const out = new Float32Array(half);
  const old = s.original_max_position_embeddings;
  const lowWavelen = old / s.low_freq_factor;
  const highWavelen = old / s.high_freq_factor;
  for (let i = 0; i < half; i++) {
    const freq = f(1 / f(Math.pow(theta, f(f(2 * i) / headDim))));
    const wavelen = f(f(2 * Math.PI) / freq);
    if (wavelen < highWavelen) out[i] = 1;
    else if (wavelen > lowWavelen) out[i] = s.factor;
    else {
      const smooth = f(f(f(old / wavelen) - s.low_freq_factor) / (s.high_freq_factor - s.low_freq_factor));
      out[i] = f(1 / f(f(f(1 - smooth) / s.factor) + smooth));
    }
  }
  return out;
}

function reproduces(divisors: Float32Array, theta: number, headDim: number, s: Llama3RopeScaling): boolean {
  const again = llama3RopeDivisors(theta, headDim, s);
  return divisors.every((d, i) => Math.abs(d - again[i]!) <= 1e-5 * Math.abs(d));
}

/** Rounds to 6 significant digits (the regression's float noise). */
function tidy(x: number): number {
  return Number(x.toPrecision(6));
}

/**
 * Finds `llama3` rope scaling parameters that reproduce `divisors` (`rope_freqs.weight`) for
 * `theta` and `headDim`, or `undefined` when none of the candidates does. Candidates: the Llama 3
 * defaults `low_freq_factor` 1, `high_freq_factor` 4 with the original context length solved from
 * each interpolated frequency, 8192, and a line fitted through the interpolated frequencies.
 * Only the ratios `L/low` and `L/high` affect the frequencies, so `low_freq_factor` 1 loses nothing.
 *
 * @example
 * ```ts
 * recoverLlama3RopeScaling(ropeFreqs, 500000, 64); // { rope_type: 'llama3', factor: 32, low_freq_factor: 1, … }
 * ```
 */
export function recoverLlama3RopeScaling(divisors: Float32Array, theta: number, headDim: number): Llama3RopeScaling | undefined {
  if (divisors.length !== headDim / 2 || divisors.length === 0) return undefined;
  const factor = Math.max(...divisors);
  if (!(factor > 1)) return undefined;
  const points: { x: number; s: number }[] = [];
  for (let i = 0; i < divisors.length; i++) {
    const d = divisors[i]!;
    if (d === 1 || d === factor) continue;
    const freq = f(1 / f(Math.pow(theta, f(f(2 * i) / headDim))));
    const wavelen = f(f(2 * Math.PI) / freq);
    // 1/d = (1 - s)/factor + s
    points.push({ x: 1 / wavelen, s: (1 / d - 1 / factor) / (1 - 1 / factor) });
  }
  const candidates: Llama3RopeScaling[] = [];
  const add = (low: number, high: number, old: number) => {
    if (Number.isFinite(old) && old > 0 && high > low && low > 0) {
      candidates.push({
        rope_type: 'llama3',
        factor,
        low_freq_factor: low,
        high_freq_factor: high,
        original_max_position_embeddings: Math.round(old),
      });
    }
  };
  // s = (L·x − low)/(high − low); with low 1 and high 4: L = (3s + 1)/x
  for (const p of points) add(1, 4, (3 * p.s + 1) / p.x);
  add(1, 4, 8192);
  if (points.length >= 2) {
    // least squares s = A·x + B, A = L/(high − low), B = −low/(high − low); low = 1
    const n = points.length;
    const mx = points.reduce((a, p) => a + p.x, 0) / n;
    const ms = points.reduce((a, p) => a + p.s, 0) / n;
    const sxx = points.reduce((a, p) => a + (p.x - mx) ** 2, 0);
    const A = points.reduce((a, p) => a + (p.x - mx) * (p.s - ms), 0) / sxx;
    const B = ms - A * mx;
    if (B < 0) {
      const high = tidy(1 - 1 / B);
      add(1, high, A * (high - 1));
    }
  }
  return candidates.find((c) => reproduces(divisors, theta, headDim, c));
}
