import { normalizeAction, parseCarbotAnswer } from './aliases.js';

/** The gold action of a CarBot test row (`intent` + `args`). */
export interface GoldAction {
  readonly name: string;
  readonly args: Readonly<Record<string, unknown>>;
}

/**
 * The alias layer as an `@lora/eval` normalisation hook: an action-like object (`{name, args}`)
 * is mapped onto the catalog by {@link normalizeAction}; anything else passes through.
 */
export function carbotNormalizer(value: unknown): unknown {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return value;
  return normalizeAction(value) ?? value;
}

/** CarBot-parser metrics of one prediction set (fractions in [0, 1]). */
export interface CarbotParserMetrics {
  /** Action (name + args) equal to gold, answer read by the strict parser (exact layout, catalog schema as written). */
  actionEmStrict: number;
  /** The same with the lenient parser (first ACTION block or JSON object) and the alias layer. */
  actionEmLenient: number;
  /** Action name equal to gold, strict parser. */
  intentAccuracyStrict: number;
  /** Action name equal to gold, lenient parser with aliases. */
  intentAccuracyLenient: number;
  /**
   * The gold action name appears quoted (`"car.media.set_volume"`) anywhere in the answer: a
   * diagnostic that moves before the JSON is well-formed (tiny models), not a correctness metric.
   */
  nameMentioned: number;
  /** Per prediction id: 1/0 for the strict and lenient action EM. */
  perExample: Record<string, { action_em_strict: number; action_em_lenient: number }>;
}

const sameAction = (a: GoldAction | undefined, b: GoldAction): boolean =>
  a !== undefined && a.name === b.name && canonical(a.args) === canonical(b.args);

function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    return `{${Object.keys(value)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical((value as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(value);
}

/**
 * Scores predictions with the CarBot answer parser: exact match of the parsed action against the
 * gold action, strictly (exact `<ACTION>…</ACTION>\n<SAY>…</SAY>` layout, catalog schema as
 * written) and leniently (alias normalisation on), plus intent accuracy both ways.
 *
 * @example
 * ```ts
 * scoreCarbotPredictions([{ id: '1', prediction: '<ACTION>{"name":"car.media.set_mute","args":{"on":true}}</ACTION>\n<SAY>Muted.</SAY>',
 *   gold: { name: 'car.media.set_mute', args: { on: true } } }]).actionEmStrict; // 1
 * ```
 */
export function scoreCarbotPredictions(rows: readonly { id: string; prediction: string; gold: GoldAction }[]): CarbotParserMetrics {
  const perExample: CarbotParserMetrics['perExample'] = {};
  let emS = 0;
  let emL = 0;
  let inS = 0;
  let inL = 0;
  let mentioned = 0;
  for (const r of rows) {
    const strict = parseCarbotAnswer(r.prediction, { mode: 'strict' }).action;
    const lenient = parseCarbotAnswer(r.prediction, { mode: 'lenient' }).action;
    const s = sameAction(strict, r.gold) ? 1 : 0;
    const l = sameAction(lenient, r.gold) ? 1 : 0;
    emS += s;
    emL += l;
    inS += strict?.name === r.gold.name ? 1 : 0;
    inL += lenient?.name === r.gold.name ? 1 : 0;
    mentioned += r.prediction.includes(JSON.stringify(r.gold.name)) ? 1 : 0;
    perExample[r.id] = { action_em_strict: s, action_em_lenient: l };
  }
  const n = Math.max(rows.length, 1);
  return {
    actionEmStrict: emS / n,
    actionEmLenient: emL / n,
    intentAccuracyStrict: inS / n,
    intentAccuracyLenient: inL / n,
    nameMentioned: mentioned / n,
    perExample,
  };
}
