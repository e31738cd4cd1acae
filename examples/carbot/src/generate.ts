import { InvalidArgumentError, Rng } from '@lora/core';
import type { ChatMessage } from '@lora/data';
import {
  ACC_COMMANDS,
  CARBOT_LABELS,
  CarbotActionSchema,
  LIGHT_MODES,
  MEDIA_COMMANDS,
  NONE_ACTION,
  SEAT_FEATURES,
  SEATS,
  WINDOW_SWITCH_TARGETS,
  WINDOW_TARGETS,
  formatAction,
  type CarbotAction,
  type CarbotLabel,
} from './catalog.js';
import { SLOT_PHRASES, TEMPLATES, type CommandTemplate } from './templates.js';
import { addTypos, numberToWord } from './text-noise.js';

/**
 * Default system prompt of generated conversations: the seed project's prompt, which names the
 * answer format and no catalog (short enough for small models).
 */
export const CARBOT_SYSTEM_PROMPT =
  'You are CarBot, an in-vehicle assistant. Always output two parts: <ACTION>{...}</ACTION> and <SAY>...</SAY>.';

/**
 * One generated example, as written to JSONL (one object per line). `messages` is the chat in
 * the Hugging Face layout; every other key is metadata (the `@lora/data` readers keep them as
 * `Example.metadata`, and `stratifiedSplit(…, { stratifyBy: 'intent' })` reads `intent`).
 */
export interface CarbotExample {
  /** `[system?, user, assistant]`; the assistant content is `<ACTION>{json}</ACTION>\n<SAY>…</SAY>`. */
  readonly messages: ChatMessage[];
  /** `carbot-<seed>-<index>`, unique within a generated set. */
  readonly id: string;
  /** The action name (`none` for out-of-scope requests). */
  readonly intent: CarbotLabel;
  /** Gold arguments (`{}` for `none`). */
  readonly args: Record<string, unknown>;
  /** Id of the phrasing template, e.g. `car.window.set_level/03`. */
  readonly template_id: string;
  /** At least one typo was added to the user text. */
  readonly has_typo: boolean;
  /** Numbers in the user text are written as words ("level two"). */
  readonly numbers_as_words: boolean;
  /** A politeness formula was added ("could you…", "…please"). */
  readonly polite: boolean;
  /** A filler clause was added ("hey carbot, …", "…, we're almost home"). */
  readonly noise: boolean;
}

/** Options of {@link generateCarbotExamples}. */
export interface GenerateOptions {
  /** Number of examples. Intents are balanced: each of the 16 labels gets ⌊n/16⌋ or one more. */
  n: number;
  /** Seed; the same seed and options give the same examples. */
  seed: number;
  /** System message; `null` for none. Default {@link CARBOT_SYSTEM_PROMPT}. */
  system?: string | null;
  /** Probability of typos in the user text. Default 0.25. */
  typoRate?: number;
  /** Probability of numbers written as words. Default 0.3. */
  wordsRate?: number;
  /** Probability of a politeness formula. Default 0.35. */
  politeRate?: number;
  /** Probability of a filler clause. Default 0.25. */
  noiseRate?: number;
}

const POLITE_PREFIX = ['please ', 'could you ', 'can you ', 'would you ', 'could you please ', 'can you please ', 'kindly '];
const POLITE_SUFFIX = [' please', ', please', ' thanks', ', thank you', " if you don't mind", ', cheers'];
const NOISE_PREFIX = ['hey carbot, ', 'ok carbot ', 'um, ', 'so, ', 'right, ', 'hi there, ', 'quick one: '];
const NOISE_SUFFIX = [
  ", we're almost home",
  ', long drive today',
  ' while I am driving',
  ' before we hit the highway',
  ' real quick',
  ", I'm running late",
];
const NONE_SAY = "Sorry, I can't do that from the car controls.";

/**
 * Generates `n` CarBot conversations, deterministically from `seed`. Each user request is one
 * template (dozens per action) with arguments drawn at random, then optionally: numbers written
 * as words, a politeness formula, a filler clause, capitalisation, punctuation and 1–2 typos
 * (keyboard-neighbour substitutions or dropped letters). User texts are unique (compared
 * case-insensitively), so a split cannot leak a request into two sets. About 1/16 of the requests
 * are out of scope and answered with the `none` action.
 *
 * @example
 * ```ts
 * const examples = generateCarbotExamples({ n: 2000, seed: 42 });
 * examples[0].messages.at(-1)?.content; // '<ACTION>{"name":"car.media.set_volume","args":{"level":7}}</ACTION>\n<SAY>Volume set to 7.</SAY>'
 * ```
 */
export function generateCarbotExamples(options: GenerateOptions): CarbotExample[] {
  const { n, seed } = options;
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError({ argument: 'n', message: `must be a positive integer, got ${n}` });
  if (!Number.isInteger(seed)) throw new InvalidArgumentError({ argument: 'seed', message: `must be an integer, got ${seed}` });
  const rates = {
    typo: rate(options.typoRate, 0.25, 'typoRate'),
    words: rate(options.wordsRate, 0.3, 'wordsRate'),
    polite: rate(options.politeRate, 0.35, 'politeRate'),
    noise: rate(options.noiseRate, 0.25, 'noiseRate'),
  };
  const system = options.system === undefined ? CARBOT_SYSTEM_PROMPT : options.system;
  const rng = new Rng(seed);
  const labels = rng.shuffle(Array.from({ length: n }, (_, i) => CARBOT_LABELS[i % CARBOT_LABELS.length] as CarbotLabel));
  const seen = new Set<string>();
  const width = String(n - 1).length;
  return labels.map((intent, index) => {
    for (let attempt = 0; attempt < 500; attempt++) {
      const example = generateOne(rng, intent, rates);
      const key = example.user.toLowerCase();
      if (seen.has(key)) continue;
      seen.add(key);
      const messages: ChatMessage[] = [
        ...(system === null ? [] : [{ role: 'system' as const, content: system }]),
        { role: 'user', content: example.user },
        { role: 'assistant', content: formatCarbotAnswer(example.action, carbotSay(example.action)) },
      ];
      return {
        messages,
        id: `carbot-${seed}-${String(index).padStart(width, '0')}`,
        intent,
        args: example.action.args as Record<string, unknown>,
        template_id: example.template.id,
        has_typo: example.hasTypo,
        numbers_as_words: example.words,
        polite: example.polite,
        noise: example.noise,
      };
    }
    throw new InvalidArgumentError({
      argument: 'n',
      message: `could not find a new unique request for \`${intent}\` after 500 tries (${seen.size} made); ask for fewer examples`,
    });
  });
}

/** The assistant answer: `<ACTION>{compact json}</ACTION>\n<SAY>{say}</SAY>`. */
export function formatCarbotAnswer(
  action: { readonly name: string; readonly args: Readonly<Record<string, unknown>> },
  say: string,
): string {
  return `<ACTION>${formatAction(action)}</ACTION>\n<SAY>${say}</SAY>`;
}

interface Rates {
  typo: number;
  words: number;
  polite: number;
  noise: number;
}

interface Drawn {
  user: string;
  action: CarbotAction;
  template: CommandTemplate;
  hasTypo: boolean;
  words: boolean;
  polite: boolean;
  noise: boolean;
}

function generateOne(rng: Rng, intent: CarbotLabel, rates: Rates): Drawn {
  const templates = TEMPLATES[intent];
  const template = pick(rng, templates);
  const args = sampleArgs(rng, intent);
  for (const [key, value] of Object.entries(template.fixed ?? {})) args[key] = Array.isArray(value) ? pick(rng, value) : value;
  if (intent === 'car.wipers.set' && args.mode === 'off') delete args.level;
  if (intent === 'car.window.switch' && args.reason === undefined) delete args.reason;
  const action = CarbotActionSchema.parse({ name: intent, args });

  const words = rng.next() < rates.words;
  let usedNumber = false;
  let body = template.text.replace(/\{(\w+)\}/g, (_, slot: string) => {
    const phrase = slotPhrase(rng, slot, args, words);
    if (slot === 'level' || slot === 'temperature') usedNumber = true;
    return phrase;
  });
  const polite = rng.next() < rates.polite;
  const noise = rng.next() < rates.noise;
  let question = false;
  let politeSuffix = '';
  if (polite) {
    if (!template.statement && rng.next() < 0.6) {
      const prefix = pick(rng, POLITE_PREFIX);
      question = /you /.test(prefix);
      body = prefix + body;
    } else {
      politeSuffix = pick(rng, POLITE_SUFFIX);
    }
  }
  if (noise) body = rng.next() < 0.5 ? pick(rng, NOISE_PREFIX) + body : body + pick(rng, NOISE_SUFFIX);
  body += politeSuffix;
  if (rng.next() < 0.5) body = body.charAt(0).toUpperCase() + body.slice(1);
  if (question) body += rng.next() < 0.7 ? '?' : '';
  else if (rng.next() < 0.3) body += pick(rng, ['.', '!']);
  let hasTypo = false;
  if (rng.next() < rates.typo) {
    const result = addTypos(body, rng, rng.next() < 0.3 ? 2 : 1);
    body = result.text;
    hasTypo = result.typos.length > 0;
  }
  return { user: body, action, template, hasTypo, words: words && usedNumber, polite, noise };
}

function sampleArgs(rng: Rng, intent: CarbotLabel): Record<string, unknown> {
  const int = (min: number, max: number) => min + rng.nextInt(max - min + 1);
  const bool = () => rng.next() < 0.5;
  switch (intent) {
    case 'car.window.set_level':
      return { target: pick(rng, WINDOW_TARGETS), level: int(0, 3) };
    case 'car.window.switch':
      return { target: pick(rng, WINDOW_SWITCH_TARGETS), on: bool() };
    case 'car.sunroof.set_level':
      return { level: int(0, 3) };
    case 'car.media.set_volume':
      return { level: int(0, 15) };
    case 'car.media.command':
      return { cmd: pick(rng, MEDIA_COMMANDS) };
    case 'car.seat.set_thermal':
      return { seat: pick(rng, SEATS), feature: pick(rng, SEAT_FEATURES), level: int(0, 3) };
    case 'car.lights.set':
      return { mode: pick(rng, LIGHT_MODES), high_beam: false };
    case 'car.wipers.set':
      return { mode: 'auto', level: int(1, 3) };
    case 'car.acc.command':
      return { cmd: pick(rng, ACC_COMMANDS) };
    case 'car.acc.set_headway_level':
    case 'car.lks.set_assist_level':
      return { level: int(1, 3) };
    case 'car.media.set_mute':
    case 'car.steering_wheel.set_heater':
    case 'car.acc.set_main':
    case 'car.lks.set_main':
      return { on: bool() };
    case NONE_ACTION:
      return {};
  }
}

function slotPhrase(rng: Rng, slot: string, args: Record<string, unknown>, words: boolean): string {
  const number = (value: number) => (words ? numberToWord(value) : String(value));
  switch (slot) {
    case 'level':
      return number(args.level as number);
    case 'temperature':
      return number(16 + rng.nextInt(12));
    case 'window':
      return pick(rng, SLOT_PHRASES.window[args.target as keyof typeof SLOT_PHRASES.window]);
    case 'switches':
      return pick(rng, SLOT_PHRASES.switches[args.target as keyof typeof SLOT_PHRASES.switches]);
    case 'seat':
      return pick(rng, SLOT_PHRASES.seat[args.seat as keyof typeof SLOT_PHRASES.seat]);
    case 'feature':
      return pick(rng, SLOT_PHRASES.feature[args.feature as keyof typeof SLOT_PHRASES.feature]);
    case 'media':
      return pick(rng, SLOT_PHRASES.media[args.cmd as keyof typeof SLOT_PHRASES.media]);
    case 'sunroof':
      return pick(rng, SLOT_PHRASES.sunroof);
    case 'onoff':
      return args.on === true ? 'on' : 'off';
    default:
      throw new InvalidArgumentError({ argument: 'template', message: `unknown slot {${slot}}` });
  }
}

const WINDOW_NAMES: Record<string, string> = {
  driver: 'the driver window',
  passenger: 'the passenger window',
  rear_left: 'the rear left window',
  rear_right: 'the rear right window',
  rear: 'the rear windows',
  all: 'all windows',
};

/**
 * The short confirmation said after an action, e.g. "Volume set to 7." or "Closing the driver
 * window."; a fixed apology for `none`. Numbers are digits.
 */
export function carbotSay(action: CarbotAction): string {
  const on = (value: boolean) => (value ? 'on' : 'off');
  switch (action.name) {
    case 'car.window.set_level': {
      const { target, level } = action.args;
      const what = WINDOW_NAMES[target] as string;
      if (level === 0) return `Closing ${what}.`;
      if (level === 3) return `Opening ${what} fully.`;
      return `Setting ${what} to level ${level}.`;
    }
    case 'car.window.switch': {
      const { target, on: enabled, reason } = action.args;
      const what = (WINDOW_NAMES[target] as string).replace(/window(s?)$/, 'window switch$1').replace(/switchs$/, 'switches');
      if (reason === 'child_lock') return `Child lock on for ${WINDOW_NAMES[target] as string}.`;
      return `${capitalize(what)} ${enabled ? 'enabled' : 'disabled'}.`;
    }
    case 'car.sunroof.set_level': {
      const { level } = action.args;
      if (level === 0) return 'Closing the sunroof.';
      if (level === 3) return 'Opening the sunroof fully.';
      return `Setting the sunroof to level ${level}.`;
    }
    case 'car.media.set_volume':
      return `Volume set to ${action.args.level}.`;
    case 'car.media.set_mute':
      return action.args.on ? 'Audio muted.' : 'Audio unmuted.';
    case 'car.media.command':
      return {
        play: 'Playing.',
        pause: 'Paused.',
        stop: 'Stopped.',
        next: 'Skipping to the next track.',
        previous: 'Going back to the previous track.',
      }[action.args.cmd];
    case 'car.seat.set_thermal': {
      const { seat, feature, level } = action.args;
      const what = `${seat} seat ${feature === 'heat' ? 'heating' : 'ventilation'}`;
      return level === 0 ? `Turning off the ${what}.` : `${capitalize(what)} set to level ${level}.`;
    }
    case 'car.steering_wheel.set_heater':
      return `Steering wheel heater ${on(action.args.on)}.`;
    case 'car.lights.set': {
      const { mode, high_beam } = action.args;
      if (mode === 'off') return 'Headlights off.';
      if (mode === 'auto') return high_beam ? 'Headlights on auto, with high beams.' : 'Headlights on auto.';
      return high_beam ? 'High beams on.' : 'Headlights on.';
    }
    case 'car.wipers.set':
      return action.args.mode === 'off' ? 'Wipers off.' : `Wipers on auto, level ${action.args.level}.`;
    case 'car.acc.set_main':
      return `Adaptive cruise control ${on(action.args.on)}.`;
    case 'car.acc.command':
      return { cancel: 'Cruise control cancelled.', hold: 'Holding the current cruise speed.', resume: 'Resuming cruise control.' }[
        action.args.cmd
      ];
    case 'car.acc.set_headway_level':
      return `Following distance set to level ${action.args.level}.`;
    case 'car.lks.set_main':
      return `Lane keeping assist ${on(action.args.on)}.`;
    case 'car.lks.set_assist_level':
      return `Lane keeping assist set to level ${action.args.level}.`;
    case NONE_ACTION:
      return NONE_SAY;
  }
}

function capitalize(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

function pick<T>(rng: Rng, items: readonly T[]): T {
  return items[rng.nextInt(items.length)] as T;
}

function rate(value: number | undefined, fallback: number, name: string): number {
  const r = value ?? fallback;
  if (!(r >= 0 && r <= 1)) throw new InvalidArgumentError({ argument: name, message: `must be a probability in [0, 1], got ${r}` });
  return r;
}
