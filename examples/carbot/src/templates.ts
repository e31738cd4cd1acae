import type { CarbotLabel } from './catalog.js';

/**
 * One phrasing of a request. `text` holds slots in braces (`{window}`, `{level}`, `{seat}` …)
 * filled from the sampled arguments by the generator. `fixed` pins arguments the wording implies
 * ("close the window" → level 0); an array value means "one of these, drawn at random".
 */
export interface CommandTemplate {
  /** Stable id, `<intent>/<nn>`. */
  readonly id: string;
  /** The action this phrasing asks for. */
  readonly intent: CarbotLabel;
  /** The phrasing with `{slot}` placeholders. */
  readonly text: string;
  /** Arguments the phrasing implies. */
  readonly fixed?: Readonly<Record<string, unknown>>;
  /** A statement rather than a command ("I'm cold…"): takes no "could you" prefix. */
  readonly statement?: boolean;
}

type Spec = string | { text: string; fixed?: Record<string, unknown>; statement?: boolean };

const raw: Record<CarbotLabel, Spec[]> = {
  'car.window.set_level': [
    'set {window} to level {level}',
    'put {window} at level {level}',
    '{window} to level {level}',
    'move {window} to position {level}',
    'open {window} to level {level}',
    'adjust {window} to {level}',
    'window level {level} for {window}',
    { text: "I'd like {window} at level {level}", statement: true },
    { text: 'close {window}', fixed: { level: 0 } },
    { text: 'shut {window}', fixed: { level: 0 } },
    { text: 'roll up {window}', fixed: { level: 0 } },
    { text: 'open {window} all the way', fixed: { level: 3 } },
    { text: 'roll down {window} completely', fixed: { level: 3 } },
    { text: 'crack {window} open a little', fixed: { level: 1 } },
    { text: "it's stuffy, open {window} fully", fixed: { level: 3 }, statement: true },
  ],
  'car.window.switch': [
    { text: 'lock {switches}', fixed: { on: false } },
    { text: 'disable {switches}', fixed: { on: false } },
    { text: 'deactivate {switches}', fixed: { on: false } },
    { text: 'unlock {switches}', fixed: { on: true } },
    { text: 'enable {switches}', fixed: { on: true } },
    { text: 'turn {switches} back on', fixed: { on: true } },
    { text: 'child lock {switches}', fixed: { on: false, reason: 'child_lock', target: ['rear', 'rear_left', 'rear_right'] } },
    {
      text: 'turn on the child lock for {switches}',
      fixed: { on: false, reason: 'child_lock', target: ['rear', 'rear_left', 'rear_right'] },
    },
    {
      text: 'the kids are in the back, lock {switches}',
      fixed: { on: false, reason: 'child_lock', target: ['rear', 'rear_left', 'rear_right'] },
      statement: true,
    },
  ],
  'car.sunroof.set_level': [
    'set {sunroof} to level {level}',
    'open {sunroof} to level {level}',
    '{sunroof} to {level}',
    'move {sunroof} to position {level}',
    { text: 'close {sunroof}', fixed: { level: 0 } },
    { text: 'shut {sunroof}', fixed: { level: 0 } },
    { text: 'open {sunroof} all the way', fixed: { level: 3 } },
    { text: 'crack {sunroof} open', fixed: { level: 1 } },
    { text: 'I want {sunroof} at level {level}', statement: true },
  ],
  'car.media.set_volume': [
    'set the volume to {level}',
    'volume {level}',
    'turn the volume to {level}',
    'change the volume to level {level}',
    'make it volume {level}',
    'vol {level}',
    'put the sound at {level}',
    'set the audio level to {level}',
    { text: 'I want the volume at {level}', statement: true },
    { text: 'turn the volume all the way down', fixed: { level: 0 } },
    { text: 'max volume', fixed: { level: 15 } },
    { text: 'crank the volume all the way up', fixed: { level: 15 } },
  ],
  'car.media.set_mute': [
    { text: 'mute the audio', fixed: { on: true } },
    { text: 'mute', fixed: { on: true } },
    { text: 'silence the speakers', fixed: { on: true } },
    { text: 'mute the radio', fixed: { on: true } },
    { text: "I'm taking a call, mute the music", fixed: { on: true }, statement: true },
    { text: 'unmute', fixed: { on: false } },
    { text: 'unmute the audio', fixed: { on: false } },
    { text: 'turn the sound back on', fixed: { on: false } },
    { text: 'cancel mute', fixed: { on: false } },
  ],
  'car.media.command': ['{media}', 'go ahead and {media}', { text: 'I want you to {media}', statement: true }, 'media: {media}'],
  'car.seat.set_thermal': [
    'set {seat} {feature} to level {level}',
    'turn {seat} {feature} to {level}',
    '{feature} on {seat} at level {level}',
    'put {seat} {feature} on level {level}',
    'change {seat} {feature} to {level}',
    { text: 'turn off {seat} {feature}', fixed: { level: 0 } },
    { text: 'max {feature} on {seat}', fixed: { level: 3 } },
    { text: 'warm up {seat} to level {level}', fixed: { feature: 'heat', level: [1, 2, 3] } },
    { text: 'cool {seat} at level {level}', fixed: { feature: 'vent', level: [1, 2, 3] } },
    { text: "I'm freezing, heat {seat} to {level}", fixed: { feature: 'heat', level: [1, 2, 3] }, statement: true },
  ],
  'car.steering_wheel.set_heater': [
    { text: 'turn on the steering wheel heater', fixed: { on: true } },
    { text: 'heat the steering wheel', fixed: { on: true } },
    { text: 'warm up the wheel', fixed: { on: true } },
    { text: 'switch on the heated steering wheel', fixed: { on: true } },
    { text: 'my hands are cold, turn on the wheel heating', fixed: { on: true }, statement: true },
    { text: 'turn off the steering wheel heater', fixed: { on: false } },
    { text: 'stop heating the steering wheel', fixed: { on: false } },
    { text: 'switch off the heated wheel', fixed: { on: false } },
    { text: 'steering wheel heat {onoff}' },
  ],
  'car.lights.set': [
    { text: 'turn on the headlights', fixed: { mode: 'on', high_beam: false } },
    { text: 'lights on', fixed: { mode: 'on', high_beam: false } },
    { text: 'switch the headlights on', fixed: { mode: 'on', high_beam: false } },
    { text: 'dip the headlights to low beam', fixed: { mode: 'on', high_beam: false } },
    { text: 'turn on the high beams', fixed: { mode: 'on', high_beam: true } },
    { text: 'high beams on', fixed: { mode: 'on', high_beam: true } },
    { text: 'full beam', fixed: { mode: 'on', high_beam: true } },
    { text: 'turn off the lights', fixed: { mode: 'off', high_beam: false } },
    { text: 'headlights off', fixed: { mode: 'off', high_beam: false } },
    { text: 'switch the lights off', fixed: { mode: 'off', high_beam: false } },
    { text: 'set the lights to auto', fixed: { mode: 'auto', high_beam: false } },
    { text: 'put the headlights on automatic', fixed: { mode: 'auto', high_beam: false } },
    { text: 'auto lights with high beams', fixed: { mode: 'auto', high_beam: true } },
  ],
  'car.wipers.set': [
    { text: 'set the wipers to auto level {level}', fixed: { mode: 'auto' } },
    { text: 'wipers on auto, sensitivity {level}', fixed: { mode: 'auto' } },
    { text: 'auto wipers at {level}', fixed: { mode: 'auto' } },
    { text: 'turn on the automatic wipers at level {level}', fixed: { mode: 'auto' } },
    { text: "it's starting to rain, wipers to auto {level}", fixed: { mode: 'auto' }, statement: true },
    { text: 'turn off the wipers', fixed: { mode: 'off' } },
    { text: 'wipers off', fixed: { mode: 'off' } },
    { text: 'stop the windshield wipers', fixed: { mode: 'off' } },
  ],
  'car.acc.set_main': [
    { text: 'turn on adaptive cruise control', fixed: { on: true } },
    { text: 'enable ACC', fixed: { on: true } },
    { text: 'activate the cruise control', fixed: { on: true } },
    { text: 'switch on adaptive cruise', fixed: { on: true } },
    { text: 'turn off adaptive cruise control', fixed: { on: false } },
    { text: 'disable ACC', fixed: { on: false } },
    { text: 'switch the cruise control off', fixed: { on: false } },
    { text: 'adaptive cruise {onoff}' },
  ],
  'car.acc.command': [
    { text: 'cancel cruise control', fixed: { cmd: 'cancel' } },
    { text: 'cancel the cruise', fixed: { cmd: 'cancel' } },
    { text: 'disengage the cruise for now', fixed: { cmd: 'cancel' } },
    { text: 'hold the cruise speed', fixed: { cmd: 'hold' } },
    { text: 'keep this speed', fixed: { cmd: 'hold' } },
    { text: 'cruise: hold', fixed: { cmd: 'hold' } },
    { text: 'resume cruise control', fixed: { cmd: 'resume' } },
    { text: 'resume the cruise', fixed: { cmd: 'resume' } },
    { text: 'go back to my cruise speed', fixed: { cmd: 'resume' } },
  ],
  'car.acc.set_headway_level': [
    'set the following distance to {level}',
    'headway level {level}',
    'set the ACC gap to {level}',
    'following distance setting {level}',
    'cruise distance to level {level}',
    { text: 'maximum following distance', fixed: { level: 3 } },
    { text: 'shortest following gap', fixed: { level: 1 } },
  ],
  'car.lks.set_main': [
    { text: 'turn on lane keeping assist', fixed: { on: true } },
    { text: 'enable lane keep', fixed: { on: true } },
    { text: 'activate LKA', fixed: { on: true } },
    { text: 'switch lane keeping off', fixed: { on: false } },
    { text: 'disable lane assist', fixed: { on: false } },
    { text: 'turn off the lane keeping system', fixed: { on: false } },
    { text: 'lane keeping {onoff}' },
  ],
  'car.lks.set_assist_level': [
    'set lane keeping assist to level {level}',
    'lane assist strength {level}',
    'LKA sensitivity {level}',
    'change the lane keeping level to {level}',
    'steering assist level {level}',
  ],
  none: [
    "what's the weather like tomorrow",
    'navigate to the nearest gas station',
    'call mom',
    'set the temperature to {temperature} degrees',
    'lock the doors',
    'open the trunk',
    'tell me a joke',
    'how far is it to the airport',
    'turn on the massage function',
    'honk the horn',
    'what time is it',
    'read my messages',
    'turn on the rear defroster',
    'find a parking spot nearby',
    'how much fuel is left',
    'book a table for two tonight',
  ],
};

/** Every phrasing template, grouped by intent (15 actions + `none`). */
export const TEMPLATES: Readonly<Record<CarbotLabel, readonly CommandTemplate[]>> = Object.fromEntries(
  Object.entries(raw).map(([intent, specs]) => [
    intent,
    specs.map((spec, i): CommandTemplate => {
      const s = typeof spec === 'string' ? { text: spec } : spec;
      return { id: `${intent}/${String(i).padStart(2, '0')}`, intent: intent as CarbotLabel, ...s };
    }),
  ]),
) as Record<CarbotLabel, CommandTemplate[]>;

/** Phrases of each slot value (the generator picks one at random). */
export const SLOT_PHRASES = {
  window: {
    driver: ['the driver window', "the driver's window", 'the front left window', 'my window', 'the driver side window'],
    passenger: ['the passenger window', 'the front right window', 'the passenger side window', 'the front passenger window'],
    rear_left: ['the rear left window', 'the back left window', 'the left rear window', 'the window behind the driver'],
    rear_right: ['the rear right window', 'the back right window', 'the right rear window', 'the window behind the passenger'],
    all: ['all the windows', 'all windows', 'every window', 'all four windows'],
  },
  switches: {
    driver: ["the driver's window switch", 'the front left window button', 'the driver window switch'],
    passenger: ['the passenger window switch', 'the front right window button', 'the passenger side window switch'],
    rear_left: ['the rear left window switch', 'the back left window button', 'the left rear window switch'],
    rear_right: ['the rear right window switch', 'the back right window button', 'the right rear window switch'],
    rear: ['the rear window switches', 'the back window buttons', 'both rear window switches'],
    all: ['all the window switches', 'every window button', 'all window switches'],
  },
  seat: {
    driver: ['my seat', 'the driver seat', "the driver's seat"],
    passenger: ['the passenger seat', 'the front passenger seat', "my passenger's seat"],
  },
  feature: {
    heat: ['heating', 'heater', 'heat', 'warmer'],
    vent: ['ventilation', 'cooling', 'fan', 'cooler'],
  },
  media: {
    play: ['play the music', 'resume playback', 'start the music', 'play'],
    pause: ['pause the music', 'pause playback', 'pause'],
    stop: ['stop the music', 'stop playing', 'stop playback'],
    next: ['skip this song', 'next track', 'play the next song', 'skip'],
    previous: ['go back a song', 'previous track', 'play the previous song', 'last song again'],
  },
  sunroof: ['the sunroof', 'the moonroof', 'the roof'],
  onoff: { true: ['on'], false: ['off'] },
} as const;
