// W7 (bench/README.md): greedy decode of SmolLM2-135M-Instruct, 64 new tokens, batch 1 and batch 8 —
// the fixed prompts and the plain helpers of `node bench/decode.mjs --only smollm2` and of
// `node bench/run.mjs --only W7`. Only plain arithmetic here (no tfjs, no node:), so it is testable alone.

/**
 * CarBot-like requests, each rendered with SmolLM2's chat template (its default system prompt, the
 * generation prompt appended): 39 tokens each, so batch 8 needs no padding on any side. Batch 1 is
 * the first one.
 */
export const W7_QUESTIONS = [
  "Can you open the driver's window halfway?",
  'Turn on the seat heating for the passenger.',
  'How much range is left in the battery?',
  'Play some relaxing jazz at a low volume.',
  'Call my sister and put it on speaker.',
  'Lower the volume of the music a little.',
  'Turn off the lane keeping assist for now.',
  'Turn the fan speed down to level two.',
];

/** The messages of question `i`: one user turn (the template adds SmolLM2's default system prompt). */
export function w7Messages(i) {
  return [{ role: 'user', content: W7_QUESTIONS[i] }];
}

/** Throws unless every prompt has the same, non-zero length; returns it. */
export function samePromptLength(prompts) {
  const length = prompts[0]?.length ?? 0;
  const lengths = prompts.map((p) => p.length);
  if (length === 0 || lengths.some((n) => n !== length)) {
    throw new Error(`W7 needs prompts of one length (no padding), got lengths ${lengths.join(', ')}`);
  }
  return length;
}

/** How many leading tokens two sequences share (0 when the first differs). */
export function leadingAgreement(a, b) {
  const n = Math.min(a.length, b.length);
  let i = 0;
  while (i < n && a[i] === b[i]) i++;
  return i;
}

/** `leadingAgreement` of each row of two batches; null when either side is missing. */
export function rowsAgreement(ours, theirs) {
  if (!ours || !theirs) return null;
  return ours.map((row, i) => (theirs[i] === undefined ? 0 : leadingAgreement(row, theirs[i])));
}

const ratio = (a, b) => (typeof a === 'number' && typeof b === 'number' && b > 0 ? a / b : null);

/**
 * The bench rows (`run.mjs` / `repeat.mjs` shape) of one W7 result JSON: per batch, @lora against
 * transformers (`W7 SmolLM2 decode b1`), then against the llama.cpp anchor (`W7 SmolLM2 b1 vs
 * llama.cpp`) where it ran. `ratio` = @lora ÷ reference tok/s; `cpuTimeRatio` the same per CPU-second.
 */
export function w7Rows(result) {
  const rows = [];
  for (const b of result.batches) {
    const tf = b.transformers ?? null;
    const cpp = b.llamaCpp ?? null;
    rows.push({
      workload: `W7 SmolLM2 decode b${b.batch}`,
      ours: b.lora.tokensPerS,
      reference: tf?.tokens_per_s ?? null,
      referenceThreads: result.reference?.threads ?? null,
      unit: 'tok/s',
      ratio: ratio(b.lora.tokensPerS, tf?.tokens_per_s),
      cpuTimeRatio: ratio(b.lora.cpuTokensPerS, tf?.cpu_tokens_per_s),
      mfu: null,
    });
    if (cpp !== null) {
      rows.push({
        workload: `W7 SmolLM2 b${b.batch} vs llama.cpp`,
        ours: b.lora.tokensPerS,
        reference: cpp.tokens_per_s,
        referenceThreads: result.llamaCpp?.threads ?? null,
        unit: 'tok/s',
        ratio: ratio(b.lora.tokensPerS, cpp.tokens_per_s),
        cpuTimeRatio: ratio(b.lora.cpuTokensPerS, cpp.cpu_tokens_per_s),
        mfu: null,
      });
    }
  }
  return rows;
}
