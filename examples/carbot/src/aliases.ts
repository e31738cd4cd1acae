import { CarbotActionSchema, isCarbotIntent, NONE_ACTION, type CarbotAction } from './catalog.js';
import { wordToNumber } from './text-noise.js';

/** Alternative action names → catalog names (after lower-casing and adding a missing `car.` prefix). */
export const NAME_ALIASES: Readonly<Record<string, string>> = {
  'car.window.set': 'car.window.set_level',
  'car.window.level': 'car.window.set_level',
  'car.windows.set_level': 'car.window.set_level',
  'car.window.set_switch': 'car.window.switch',
  'car.window.lock': 'car.window.switch',
  'car.sunroof.set': 'car.sunroof.set_level',
  'car.media.volume': 'car.media.set_volume',
  'car.media.set_vol': 'car.media.set_volume',
  'car.volume.set': 'car.media.set_volume',
  'car.media.mute': 'car.media.set_mute',
  'car.media.cmd': 'car.media.command',
  'car.seat.thermal': 'car.seat.set_thermal',
  'car.seat.set_heat': 'car.seat.set_thermal',
  'car.steering_wheel.heater': 'car.steering_wheel.set_heater',
  'car.steeringwheel.set_heater': 'car.steering_wheel.set_heater',
  'car.lights.set_mode': 'car.lights.set',
  'car.headlights.set': 'car.lights.set',
  'car.wipers.set_mode': 'car.wipers.set',
  'car.acc.main': 'car.acc.set_main',
  'car.acc.set_headway': 'car.acc.set_headway_level',
  'car.acc.headway': 'car.acc.set_headway_level',
  'car.lks.main': 'car.lks.set_main',
  'car.lks.set_level': 'car.lks.set_assist_level',
  'car.lks.assist_level': 'car.lks.set_assist_level',
  'car.none': NONE_ACTION,
  no_action: NONE_ACTION,
  noop: NONE_ACTION,
  null: NONE_ACTION,
};

/** Alternative argument keys → catalog keys. */
export const KEY_ALIASES: Readonly<Record<string, string>> = {
  position: 'target',
  window: 'target',
  side: 'target',
  which: 'target',
  location: 'target',
  vol: 'level',
  volume: 'level',
  value: 'level',
  sensitivity: 'level',
  speed: 'level',
  strength: 'level',
  distance: 'level',
  headway: 'level',
  state: 'on',
  enabled: 'on',
  enable: 'on',
  active: 'on',
  muted: 'on',
  mute: 'on',
  command: 'cmd',
  action: 'cmd',
  seat_position: 'seat',
  type: 'feature',
  function: 'feature',
  highbeam: 'high_beam',
  high_beams: 'high_beam',
  highbeams: 'high_beam',
  high: 'high_beam',
};

/** Alternative argument values → catalog values, per key (compared lower-case with `_` for spaces and dashes). */
export const VALUE_ALIASES: Readonly<Record<string, Readonly<Record<string, string>>>> = {
  target: {
    front_left: 'driver',
    frontleft: 'driver',
    left_front: 'driver',
    fl: 'driver',
    driver_side: 'driver',
    drivers: 'driver',
    "driver's": 'driver',
    front_right: 'passenger',
    frontright: 'passenger',
    right_front: 'passenger',
    fr: 'passenger',
    passenger_side: 'passenger',
    front_passenger: 'passenger',
    back_left: 'rear_left',
    left_rear: 'rear_left',
    rl: 'rear_left',
    rearleft: 'rear_left',
    back_right: 'rear_right',
    right_rear: 'rear_right',
    rr: 'rear_right',
    rearright: 'rear_right',
    back: 'rear',
    rears: 'rear',
    both_rear: 'rear',
    rear_windows: 'rear',
    everything: 'all',
    all_windows: 'all',
    every: 'all',
    both: 'all',
  },
  seat: { front_left: 'driver', driver_side: 'driver', drivers: 'driver', front_right: 'passenger', passenger_side: 'passenger' },
  feature: {
    heating: 'heat',
    heater: 'heat',
    warm: 'heat',
    warmer: 'heat',
    ventilation: 'vent',
    ventilate: 'vent',
    cooling: 'vent',
    cool: 'vent',
    cooler: 'vent',
    fan: 'vent',
  },
  cmd: {
    skip: 'next',
    next_track: 'next',
    forward: 'next',
    prev: 'previous',
    back: 'previous',
    previous_track: 'previous',
    last: 'previous',
    start: 'play',
    unpause: 'play',
    halt: 'stop',
    canceled: 'cancel',
    cancelled: 'cancel',
    off: 'cancel',
    keep: 'hold',
    set: 'hold',
    continue: 'resume',
    res: 'resume',
  },
  mode: { automatic: 'auto', true: 'on', false: 'off', enabled: 'on', disabled: 'off' },
  reason: { child_lock: 'child_lock', childlock: 'child_lock', child: 'child_lock', kids: 'child_lock', child_safety: 'child_lock' },
};

const TRUE = new Set(['true', 'on', 'yes', 'enabled', 'enable', 'active', '1']);
const FALSE = new Set(['false', 'off', 'no', 'disabled', 'disable', 'inactive', '0']);
const BOOLEAN_KEYS = new Set(['on', 'high_beam']);
const NUMBER_KEYS = new Set(['level']);

/**
 * Maps a loosely written action onto the catalog's names: lower-cases the name and adds a missing
 * `car.` prefix (`window.set_level` → `car.window.set_level`), renames known aliases of names,
 * argument keys (`position` → `target`, `vol` → `level`) and values (`front_left` → `driver`,
 * `back_left` → `rear_left`, `"two"`/`"2"` → 2, `"on"`/`"yes"` → true). Never invents arguments:
 * the result may still fail the schema. Used on model output before scoring (optional) and in chat.
 *
 * @example
 * ```ts
 * normalizeAction({ name: 'window.set_level', args: { position: 'front_left', level: 'two' } });
 * // { name: 'car.window.set_level', args: { target: 'driver', level: 2 } }
 * ```
 */
export function normalizeAction(action: unknown): { name: string; args: Record<string, unknown> } | undefined {
  if (action === null || typeof action !== 'object' || Array.isArray(action)) return undefined;
  const record = action as Record<string, unknown>;
  const rawName = record.name ?? record.action ?? record.intent;
  if (typeof rawName !== 'string') return undefined;
  const name = normalizeName(rawName);
  const rawArgs = record.args ?? record.arguments ?? record.parameters ?? {};
  const args: Record<string, unknown> = {};
  if (rawArgs !== null && typeof rawArgs === 'object' && !Array.isArray(rawArgs)) {
    for (const [rawKey, rawValue] of Object.entries(rawArgs as Record<string, unknown>)) {
      const lower = token(rawKey);
      const key =
        isCarbotIntent(name) && lower === 'mode' && name !== 'car.lights.set' && name !== 'car.wipers.set'
          ? 'on'
          : (KEY_ALIASES[lower] ?? lower);
      args[key] = normalizeValue(key, rawValue);
    }
  }
  return { name, args };
}

/** Lower-cases an action name, adds `car.` when missing and applies {@link NAME_ALIASES}. */
export function normalizeName(raw: string): string {
  let name = raw
    .trim()
    .toLowerCase()
    .replace(/[\s-]+/g, '_');
  if (NAME_ALIASES[name] !== undefined) return NAME_ALIASES[name] as string;
  if (name !== NONE_ACTION && !name.startsWith('car.')) name = `car.${name}`;
  return NAME_ALIASES[name] ?? name;
}

function normalizeValue(key: string, value: unknown): unknown {
  if (BOOLEAN_KEYS.has(key)) {
    if (typeof value === 'boolean') return value;
    const t = typeof value === 'number' ? String(value) : typeof value === 'string' ? token(value) : undefined;
    if (t !== undefined && TRUE.has(t)) return true;
    if (t !== undefined && FALSE.has(t)) return false;
    return value;
  }
  if (NUMBER_KEYS.has(key) && typeof value === 'string') {
    const t = value
      .trim()
      .toLowerCase()
      .replace(/^level\s+/, '');
    if (/^-?\d+(\.0+)?$/.test(t)) return Number(t);
    return wordToNumber(t) ?? value;
  }
  if (typeof value === 'string') {
    const t = token(value);
    return VALUE_ALIASES[key]?.[t] ?? t;
  }
  return value;
}

function token(text: string): string {
  return text
    .trim()
    .toLowerCase()
    .replace(/[\s-]+/g, '_');
}

/** Options of {@link parseCarbotAnswer}. */
export interface ParseAnswerOptions {
  /**
   * `strict` (default): the whole text must be `<ACTION>{json}</ACTION>\n<SAY>…</SAY>` (outer
   * whitespace allowed) and the JSON must match the schema as written. `lenient`: take the first
   * `<ACTION>` block anywhere (closing tag optional), or else the first `{…}` object in the text,
   * apply {@link normalizeAction}, and take `<SAY>` if present.
   */
  mode?: 'strict' | 'lenient';
}

/** Result of {@link parseCarbotAnswer}. */
export interface ParsedCarbotAnswer {
  /** The action, only when it matched the schema (after normalisation in lenient mode). */
  action?: CarbotAction;
  /** The parsed JSON even when it failed the schema (for json-valid vs schema-valid metrics). */
  json?: unknown;
  /** The `<SAY>` text, trimmed. */
  say?: string;
  /** Why the answer is not a valid action in this mode; empty when `action` is set. */
  errors: string[];
  /** Deviations from the exact format that lenient mode repaired. */
  repairs: string[];
}

const STRICT = /^\s*<ACTION>([\s\S]*?)<\/ACTION>\n<SAY>([\s\S]*?)<\/SAY>\s*$/;

/**
 * Extracts the action and the confirmation from a model answer.
 *
 * @example
 * ```ts
 * parseCarbotAnswer('<ACTION>{"name":"car.media.set_mute","args":{"on":true}}</ACTION>\n<SAY>Muted.</SAY>');
 * // { action: { name: 'car.media.set_mute', args: { on: true } }, say: 'Muted.', errors: [], repairs: [] }
 * ```
 */
export function parseCarbotAnswer(text: string, options: ParseAnswerOptions = {}): ParsedCarbotAnswer {
  return (options.mode ?? 'strict') === 'strict' ? parseStrict(text) : parseLenient(text);
}

function parseStrict(text: string): ParsedCarbotAnswer {
  const match = STRICT.exec(text);
  if (match === null) {
    return { errors: ['the answer is not `<ACTION>{json}</ACTION>\\n<SAY>…</SAY>`'], repairs: [] };
  }
  const say = (match[2] as string).trim();
  const json = tryJson(match[1] as string);
  if (!json.ok) return { say, errors: [`the ACTION block is not valid JSON: ${json.error}`], repairs: [] };
  return { ...checkSchema(json.value), json: json.value, say, repairs: [] };
}

function parseLenient(text: string): ParsedCarbotAnswer {
  const repairs: string[] = [];
  if (!STRICT.test(text)) repairs.push('the answer did not have the exact `<ACTION>…</ACTION>\\n<SAY>…</SAY>` layout');
  const sayMatch = /<SAY>([\s\S]*?)(?:<\/SAY>|$)/i.exec(text);
  const say = sayMatch === null ? undefined : (sayMatch[1] as string).trim();
  const actionMatch = /<ACTION>([\s\S]*?)(?:<\/ACTION>|<SAY>|$)/i.exec(text);
  const candidate = actionMatch !== null ? (actionMatch[1] as string) : firstJsonObject(text);
  if (candidate === undefined)
    return { ...(say === undefined ? {} : { say }), errors: ['no ACTION block and no JSON object in the answer'], repairs };
  if (actionMatch === null) repairs.push('no ACTION block: took the first JSON object');
  let json = tryJson(candidate);
  if (!json.ok) {
    const inner = firstJsonObject(candidate);
    if (inner !== undefined) {
      json = tryJson(inner);
      if (json.ok) repairs.push('took the JSON object inside the ACTION block');
    }
  }
  if (!json.ok) return { ...(say === undefined ? {} : { say }), errors: [`the ACTION block is not valid JSON: ${json.error}`], repairs };
  const normalized = normalizeAction(json.value);
  if (normalized === undefined)
    return { json: json.value, ...(say === undefined ? {} : { say }), errors: ['the JSON has no string `name`'], repairs };
  if (JSON.stringify(normalized) !== JSON.stringify(json.value)) repairs.push('normalised aliases of the name, keys or values');
  return { ...checkSchema(normalized), json: json.value, ...(say === undefined ? {} : { say }), repairs };
}

function checkSchema(value: unknown): { action?: CarbotAction; errors: string[] } {
  const result = CarbotActionSchema.safeParse(value);
  if (result.success) return { action: result.data, errors: [] };
  return { errors: result.error.issues.map((i) => `\`${i.path.join('.') || '<root>'}\`: ${i.message}`) };
}

function tryJson(text: string): { ok: true; value: unknown } | { ok: false; error: string } {
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch (error) {
    return { ok: false, error: (error as Error).message };
  }
}

/** The first balanced `{…}` in `text` (string-aware), or undefined. */
export function firstJsonObject(text: string): string | undefined {
  const start = text.indexOf('{');
  if (start === -1) return undefined;
  let depth = 0;
  let inString = false;
  for (let i = start; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if (c === '{') depth++;
    else if (c === '}' && --depth === 0) return text.slice(start, i + 1);
  }
  return undefined;
}
