// Bounded, seeded fuzzing harness shared by the `*.fuzz.test.ts` files (run by `pnpm fuzz`, not by
// `pnpm test`). Each target draws its inputs with fast-check from a fixed seed, runs every case and
// sorts the outcome: accepted (parsed), rejected (a clear @lora error: typed, naming the file or
// field), crashed (anything else: a TypeError, RangeError, a bare Error, an unnamed file) or hung
// (a case that has not settled after `caseTimeoutMs`, a bound far above any real case: inputs are a
// few KB). The counts go to stdout and, when LORA_FUZZ_REPORT names a file, one JSON line per
// target for tools/fuzz/run.mjs to total.
import { appendFileSync } from 'node:fs';
import fc from 'fast-check';

/** What a case did. */
export type CaseResult = 'accepted' | 'rejected';

/** One fuzz target: how to draw inputs and what to run on each. */
export interface FuzzTarget<T> {
  /** Short name printed in the report (`safetensors`, `gguf`, `config.json`, …). */
  readonly name: string;
  /** Input generator. */
  readonly arbitrary: fc.Arbitrary<T>;
  /** Cases at scale 1 (multiplied by LORA_FUZZ_SCALE). */
  readonly runs: number;
  /** fast-check seed: the same seed draws the same inputs. */
  readonly seed: number;
  /** Runs one case; throwing means the input was refused. */
  run(input: T, index: number): Promise<CaseResult | undefined>;
  /** Whether a thrown error is a clear refusal (typed @lora error naming the file / field). */
  isClearError(error: unknown, input: T): boolean;
  /** Short description of an input for the failure list. */
  describe?(input: T): string;
  /** A case not settled after this long is counted as hung (default 30 s). */
  readonly caseTimeoutMs?: number;
}

/** Counts of one target. */
export interface FuzzReport {
  target: string;
  cases: number;
  accepted: number;
  rejected: number;
  crashed: number;
  hung: number;
  seconds: number;
  /** The first crashes and hangs: case index, input description, error. */
  failures: { index: number; input: string; error: string }[];
}

/** LORA_FUZZ_SCALE (default 1): multiplies every target's case count. */
export function fuzzScale(): number {
  const raw = process.env.LORA_FUZZ_SCALE;
  const scale = raw === undefined || raw === '' ? 1 : Number(raw);
  if (!Number.isFinite(scale) || scale <= 0) throw new Error(`LORA_FUZZ_SCALE must be a positive number, got "${raw}"`);
  return scale;
}

function describeError(error: unknown): string {
  if (error instanceof Error) return `${error.name}: ${error.message}`.slice(0, 400);
  return String(error).slice(0, 400);
}

/** Runs every case of `target` and returns (and reports) the counts. Never throws for a bad case. */
export async function runFuzz<T>(target: FuzzTarget<T>): Promise<FuzzReport> {
  const cases = Math.max(1, Math.round(target.runs * fuzzScale()));
  const inputs = fc.sample(target.arbitrary, { numRuns: cases, seed: target.seed });
  const report: FuzzReport = { target: target.name, cases, accepted: 0, rejected: 0, crashed: 0, hung: 0, seconds: 0, failures: [] };
  const timeoutMs = target.caseTimeoutMs ?? 30_000;
  const started = performance.now();
  const describe = (input: T) => (target.describe?.(input) ?? JSON.stringify(input) ?? String(input)).slice(0, 300);
  for (const [index, input] of inputs.entries()) {
    let timer: NodeJS.Timeout | undefined;
    const hang = new Promise<'hung'>((resolve) => {
      timer = setTimeout(() => resolve('hung'), timeoutMs);
    });
    try {
      const result = await Promise.race([target.run(input, index), hang]);
      if (result === 'hung') {
        report.hung++;
        report.failures.push({ index, input: describe(input), error: `no result after ${timeoutMs} ms` });
      } else if (result === 'rejected') report.rejected++;
      else report.accepted++;
    } catch (error) {
      if (target.isClearError(error, input)) report.rejected++;
      else {
        report.crashed++;
        if (report.failures.length < 20) report.failures.push({ index, input: describe(input), error: describeError(error) });
      }
    } finally {
      clearTimeout(timer);
    }
  }
  report.seconds = Math.round((performance.now() - started) / 100) / 10;
  console.log(
    `fuzz ${target.name}: ${report.cases} cases in ${report.seconds} s — accepted ${report.accepted}, rejected ${report.rejected} (clear errors), crashed ${report.crashed}, hung ${report.hung}`,
  );
  for (const f of report.failures.slice(0, 5)) console.log(`  case ${f.index}: ${f.error}\n    input: ${f.input}`);
  const file = process.env.LORA_FUZZ_REPORT;
  if (file !== undefined && file !== '') appendFileSync(file, `${JSON.stringify(report)}\n`);
  return report;
}

/** Replaces up to 8 bytes, truncates, or inserts bytes, at positions below `length`: the byte-level mutations of binary targets. */
export function byteMutation(length: number): fc.Arbitrary<(bytes: Uint8Array) => Uint8Array> {
  const position = fc.nat({ max: Math.max(0, length - 1) });
  return fc.oneof(
    fc.array(fc.tuple(position, fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 8 }).map((edits) => (bytes: Uint8Array) => {
      const out = bytes.slice();
      for (const [p, v] of edits) out[p] = v;
      return out;
    }),
    fc.nat({ max: length }).map((cut) => (bytes: Uint8Array) => bytes.slice(0, cut)),
    fc.tuple(position, fc.uint8Array({ minLength: 1, maxLength: 64 })).map(([at, extra]) => (bytes: Uint8Array) => {
      const p = Math.min(at, bytes.length);
      const out = new Uint8Array(bytes.length + extra.length);
      out.set(bytes.subarray(0, p));
      out.set(extra, p);
      out.set(bytes.subarray(p), p + extra.length);
      return out;
    }),
  );
}

/** Values that break naive validation: extremes, wrong types, near-misses. */
export const hostileValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom(0, -1, 1, 0.5, 1.5, 1e9, 1e12, 1e308, -1e308, 2 ** 53, 2 ** 31, 2 ** 32, Number.MAX_SAFE_INTEGER + 2, 1e-300),
  // biome-ignore lint/suspicious/noTemplateCurlyInString: a recipe's `${VAR}` reference to an unset variable, on purpose.
  fc.constantFrom('', ' ', '0', '1e12', 'NaN', 'Infinity', '-1', 'true', 'null', '../../x', '/dev/zero', '\u0000', '${UNSET_FUZZ_VAR}'),
  fc.constantFrom(null, true, false, [], {}, [1, 2], { a: 1 }),
  fc.double(),
  fc.integer(),
  fc.string({ maxLength: 20 }),
  fc.jsonValue({ maxDepth: 3 }),
);

/** A path into a JSON value: the key/index at each level. */
type JsonPath = (string | number)[];

function paths(value: unknown, prefix: JsonPath = [], out: JsonPath[] = []): JsonPath[] {
  out.push(prefix);
  if (Array.isArray(value)) value.forEach((v, i) => paths(v, [...prefix, i], out));
  else if (value !== null && typeof value === 'object') for (const [k, v] of Object.entries(value)) paths(v, [...prefix, k], out);
  return out;
}

/** One structural edit of a JSON value: replace, delete or add at a random path. */
export interface JsonEdit {
  readonly op: 'replace' | 'delete' | 'add';
  readonly pick: number;
  readonly key: string;
  readonly value: unknown;
}

/** Up to `max` structural edits. */
export function jsonEdits(max = 3): fc.Arbitrary<JsonEdit[]> {
  return fc.array(
    fc.record({
      op: fc.constantFrom('replace', 'replace', 'delete', 'add'),
      pick: fc.nat(),
      key: fc.oneof(fc.constantFrom('__proto__', 'constructor', 'model_type', 'type', 'rope_scaling'), fc.string({ maxLength: 12 })),
      value: hostileValue,
    }) as fc.Arbitrary<JsonEdit>,
    { minLength: 1, maxLength: max },
  );
}

/** Applies `edits` to a deep copy of `value` (JSON round trip). */
export function applyJsonEdits(value: unknown, edits: readonly JsonEdit[]): unknown {
  let root = JSON.parse(JSON.stringify(value)) as unknown;
  for (const { value: shared, ...edit } of edits) {
    // A fresh copy per use: fast-check hands out shared constants, which must never be mutated or nested in themselves.
    const value = structuredClone(shared);
    const all = paths(root);
    const path = all[edit.pick % all.length]!;
    if (path.length === 0) {
      if (edit.op === 'replace') root = value;
      continue;
    }
    let parent = root as Record<string | number, unknown>;
    for (const k of path.slice(0, -1)) parent = parent[k] as Record<string | number, unknown>;
    const last = path[path.length - 1]!;
    if (edit.op === 'replace') parent[last] = value;
    else if (edit.op === 'delete') {
      if (Array.isArray(parent)) parent.splice(Number(last), 1);
      else delete parent[last];
    } else {
      const target = parent[last];
      if (Array.isArray(target)) target.push(value);
      else if (target !== null && typeof target === 'object')
        Object.defineProperty(target, edit.key, { value, enumerable: true, writable: true, configurable: true });
      else parent[last] = value;
    }
  }
  return root;
}
