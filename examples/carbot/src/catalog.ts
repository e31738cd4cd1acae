import { z } from 'zod';

/*
 * The CarBot action catalog: 15 in-car actions plus `none` (the request is out of scope).
 *
 * An action is the JSON object `{"name": <action name>, "args": {…}}`. `name` is one of
 * {@link CARBOT_INTENTS} (or `"none"`), `args` is an object with exactly the arguments the action
 * takes (no extra keys; all listed arguments are required unless marked optional below):
 *
 * | name | args |
 * |---|---|
 * | `car.window.set_level` | `target`: driver · passenger · rear_left · rear_right · all; `level`: 0–3 (0 closed, 3 fully open) |
 * | `car.window.switch` | `target`: driver · passenger · rear_left · rear_right · rear · all; `on`: boolean (switches enabled); `reason?`: child_lock |
 * | `car.sunroof.set_level` | `level`: 0–3 |
 * | `car.media.set_volume` | `level`: 0–15 |
 * | `car.media.set_mute` | `on`: boolean (true = muted) |
 * | `car.media.command` | `cmd`: play · pause · stop · next · previous |
 * | `car.seat.set_thermal` | `seat`: driver · passenger; `feature`: heat · vent; `level`: 0–3 (0 off) |
 * | `car.steering_wheel.set_heater` | `on`: boolean |
 * | `car.lights.set` | `mode`: on · off · auto; `high_beam`: boolean |
 * | `car.wipers.set` | `mode`: auto with `level` 1–3, or off with no `level` |
 * | `car.acc.set_main` | `on`: boolean |
 * | `car.acc.command` | `cmd`: cancel · hold · resume |
 * | `car.acc.set_headway_level` | `level`: 1–3 |
 * | `car.lks.set_main` | `on`: boolean |
 * | `car.lks.set_assist_level` | `level`: 1–3 |
 * | `none` | `{}` — nothing to do (out-of-scope request) |
 *
 * Levels are integers. Serialised answers write `name` first and the arguments in the order of
 * this table (see formatAction).
 */

const level = (min: number, max: number) => z.int().min(min).max(max);

/** Window positions of `car.window.set_level`. */
export const WINDOW_TARGETS = ['driver', 'passenger', 'rear_left', 'rear_right', 'all'] as const;
/** Window-switch positions of `car.window.switch` (the window targets plus `rear`). */
export const WINDOW_SWITCH_TARGETS = ['driver', 'passenger', 'rear_left', 'rear_right', 'rear', 'all'] as const;
/** Media commands of `car.media.command`. */
export const MEDIA_COMMANDS = ['play', 'pause', 'stop', 'next', 'previous'] as const;
/** Seats of `car.seat.set_thermal`. */
export const SEATS = ['driver', 'passenger'] as const;
/** Thermal features of `car.seat.set_thermal`. */
export const SEAT_FEATURES = ['heat', 'vent'] as const;
/** Light modes of `car.lights.set`. */
export const LIGHT_MODES = ['on', 'off', 'auto'] as const;
/** Adaptive-cruise commands of `car.acc.command`. */
export const ACC_COMMANDS = ['cancel', 'hold', 'resume'] as const;

const action = <N extends string, A extends z.ZodType>(name: N, args: A) => z.strictObject({ name: z.literal(name), args });

/** zod schemas of every action, keyed by action name. */
export const ACTION_SCHEMAS = {
  'car.window.set_level': action('car.window.set_level', z.strictObject({ target: z.enum(WINDOW_TARGETS), level: level(0, 3) })),
  'car.window.switch': action(
    'car.window.switch',
    z.strictObject({ target: z.enum(WINDOW_SWITCH_TARGETS), on: z.boolean(), reason: z.literal('child_lock').optional() }),
  ),
  'car.sunroof.set_level': action('car.sunroof.set_level', z.strictObject({ level: level(0, 3) })),
  'car.media.set_volume': action('car.media.set_volume', z.strictObject({ level: level(0, 15) })),
  'car.media.set_mute': action('car.media.set_mute', z.strictObject({ on: z.boolean() })),
  'car.media.command': action('car.media.command', z.strictObject({ cmd: z.enum(MEDIA_COMMANDS) })),
  'car.seat.set_thermal': action(
    'car.seat.set_thermal',
    z.strictObject({ seat: z.enum(SEATS), feature: z.enum(SEAT_FEATURES), level: level(0, 3) }),
  ),
  'car.steering_wheel.set_heater': action('car.steering_wheel.set_heater', z.strictObject({ on: z.boolean() })),
  'car.lights.set': action('car.lights.set', z.strictObject({ mode: z.enum(LIGHT_MODES), high_beam: z.boolean() })),
  'car.wipers.set': action(
    'car.wipers.set',
    z.discriminatedUnion('mode', [
      z.strictObject({ mode: z.literal('auto'), level: level(1, 3) }),
      z.strictObject({ mode: z.literal('off') }),
    ]),
  ),
  'car.acc.set_main': action('car.acc.set_main', z.strictObject({ on: z.boolean() })),
  'car.acc.command': action('car.acc.command', z.strictObject({ cmd: z.enum(ACC_COMMANDS) })),
  'car.acc.set_headway_level': action('car.acc.set_headway_level', z.strictObject({ level: level(1, 3) })),
  'car.lks.set_main': action('car.lks.set_main', z.strictObject({ on: z.boolean() })),
  'car.lks.set_assist_level': action('car.lks.set_assist_level', z.strictObject({ level: level(1, 3) })),
} as const;

/** Name of an in-scope action. */
export type CarbotIntent = keyof typeof ACTION_SCHEMAS;

/** The 15 in-scope action names, in catalog order. */
export const CARBOT_INTENTS = Object.keys(ACTION_SCHEMAS) as CarbotIntent[];

/** Name of the no-action answer given to out-of-scope requests. */
export const NONE_ACTION = 'none';

/** Every intent a generated example can have: the 15 actions and `none`. */
export type CarbotLabel = CarbotIntent | typeof NONE_ACTION;

/** Every label, catalog order, `none` last. */
export const CARBOT_LABELS: readonly CarbotLabel[] = [...CARBOT_INTENTS, NONE_ACTION];

/** The no-action answer `{"name":"none","args":{}}`. */
export const NoneActionSchema = z.strictObject({ name: z.literal(NONE_ACTION), args: z.strictObject({}) });

/** Any valid CarBot action JSON, `none` included. Discriminated on `name`. */
export const CarbotActionSchema = z.discriminatedUnion('name', [
  ...(Object.values(ACTION_SCHEMAS) as [(typeof ACTION_SCHEMAS)[CarbotIntent], ...(typeof ACTION_SCHEMAS)[CarbotIntent][]]),
  NoneActionSchema,
]);

/** A valid CarBot action (`name` + `args`). */
export type CarbotAction = z.output<typeof CarbotActionSchema>;

/** A valid action of one name. */
export type CarbotActionOf<N extends CarbotLabel> = Extract<CarbotAction, { name: N }>;

/** `$id` of {@link carbotJsonSchema}. */
export const CARBOT_JSON_SCHEMA_ID = 'https://lora.dev/schemas/carbot-action.json';

/**
 * The JSON Schema (draft 2020-12) of a CarBot action, generated from {@link CarbotActionSchema}
 * with zod's `toJSONSchema`: a `oneOf` of one closed object per action (`name` a `const`,
 * `additionalProperties: false`). Use it with any JSON Schema validator or for constrained decoding.
 */
export function carbotJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(CarbotActionSchema, { target: 'draft-2020-12' }) as Record<string, unknown>;
  return {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    $id: CARBOT_JSON_SCHEMA_ID,
    title: 'CarBot action',
    description: 'One in-car action {"name", "args"}; "none" when the request is out of scope.',
    ...Object.fromEntries(Object.entries(schema).filter(([k]) => k !== '$schema')),
  };
}

const ARG_ORDER = ['target', 'seat', 'feature', 'mode', 'level', 'on', 'high_beam', 'cmd', 'reason'];

/**
 * Serialises an action as compact JSON with `name` first and arguments in catalog order, e.g.
 * `{"name":"car.window.set_level","args":{"target":"driver","level":2}}`. The same action always
 * gives the same text, so exact-match scoring on text is meaningful.
 */
export function formatAction(action: { readonly name: string; readonly args: Readonly<Record<string, unknown>> }): string {
  const keys = Object.keys(action.args).sort((a, b) => rank(a) - rank(b) || (a < b ? -1 : a > b ? 1 : 0));
  const args = Object.fromEntries(keys.map((k) => [k, action.args[k]]));
  return JSON.stringify({ name: action.name, args });
}

function rank(key: string): number {
  const i = ARG_ORDER.indexOf(key);
  return i === -1 ? ARG_ORDER.length : i;
}

/** True when `name` is an in-scope action name. */
export function isCarbotIntent(name: string): name is CarbotIntent {
  return Object.hasOwn(ACTION_SCHEMAS, name);
}
