import { describe, expect, it } from 'vitest';
import { normalizeAction, normalizeName, parseCarbotAnswer, firstJsonObject } from './aliases.js';

describe('normalizeAction', () => {
  it.each([
    [
      { name: 'window.set_level', args: { position: 'front_left', level: 'two' } },
      { name: 'car.window.set_level', args: { target: 'driver', level: 2 } },
    ],
    [
      { name: 'car.window.set_level', args: { target: 'front right', level: '3' } },
      { name: 'car.window.set_level', args: { target: 'passenger', level: 3 } },
    ],
    [
      { name: 'car.window.set_level', args: { window: 'Back-Left', level: 0 } },
      { name: 'car.window.set_level', args: { target: 'rear_left', level: 0 } },
    ],
    [
      { name: 'car.window.set_level', args: { side: 'back_right', level: 1 } },
      { name: 'car.window.set_level', args: { target: 'rear_right', level: 1 } },
    ],
    [
      { name: 'car.window.switch', args: { target: 'back', on: 'off', reason: 'child lock' } },
      { name: 'car.window.switch', args: { target: 'rear', on: false, reason: 'child_lock' } },
    ],
    [
      { name: 'car.media.volume', args: { vol: 'eleven' } },
      { name: 'car.media.set_volume', args: { level: 11 } },
    ],
    [
      { name: 'CAR.MEDIA.SET_MUTE', args: { state: 'yes' } },
      { name: 'car.media.set_mute', args: { on: true } },
    ],
    [
      { name: 'car.media.command', args: { command: 'skip' } },
      { name: 'car.media.command', args: { cmd: 'next' } },
    ],
    [
      { name: 'car.seat.set_thermal', args: { seat: 'front_left', type: 'heating', level: 'level 2' } },
      { name: 'car.seat.set_thermal', args: { seat: 'driver', feature: 'heat', level: 2 } },
    ],
    [
      { name: 'car.lights.set', args: { mode: 'automatic', highbeam: 'false' } },
      { name: 'car.lights.set', args: { mode: 'auto', high_beam: false } },
    ],
    [
      { name: 'car.acc.set_main', args: { mode: 'on' } },
      { name: 'car.acc.set_main', args: { on: true } },
    ],
    [
      { name: 'car.lks.set_level', args: { strength: 2 } },
      { name: 'car.lks.set_assist_level', args: { level: 2 } },
    ],
    [
      { action: 'none', arguments: {} },
      { name: 'none', args: {} },
    ],
  ])('%j', (input, expected) => {
    expect(normalizeAction(input)).toEqual(expected);
  });

  it('leaves unknown values for the schema to reject and rejects non-actions', () => {
    expect(normalizeAction({ name: 'car.window.set_level', args: { target: 'roof', level: 9 } })).toEqual({
      name: 'car.window.set_level',
      args: { target: 'roof', level: 9 },
    });
    expect(normalizeAction([1])).toBeUndefined();
    expect(normalizeAction({ args: {} })).toBeUndefined();
    expect(normalizeName('none')).toBe('none');
    expect(normalizeName('lks.main')).toBe('car.lks.set_main');
  });
});

describe('parseCarbotAnswer', () => {
  const good = '<ACTION>{"name":"car.media.set_volume","args":{"level":7}}</ACTION>\n<SAY>Volume set to 7.</SAY>';

  it('accepts the exact format in strict mode', () => {
    expect(parseCarbotAnswer(good)).toEqual({
      action: { name: 'car.media.set_volume', args: { level: 7 } },
      json: { name: 'car.media.set_volume', args: { level: 7 } },
      say: 'Volume set to 7.',
      errors: [],
      repairs: [],
    });
    expect(parseCarbotAnswer(`  ${good}\n`).action).toBeDefined();
  });

  it('rejects layout, JSON and schema errors in strict mode', () => {
    expect(parseCarbotAnswer(good.replace('\n', ' ')).errors[0]).toMatch(/not `<ACTION>/);
    expect(parseCarbotAnswer(good.replace('"level":7}}', '"level":7}')).errors[0]).toMatch(/not valid JSON/);
    const aliased = parseCarbotAnswer('<ACTION>{"name":"car.media.set_volume","args":{"vol":7}}</ACTION>\n<SAY>ok</SAY>');
    expect(aliased.action).toBeUndefined();
    expect(aliased.json).toEqual({ name: 'car.media.set_volume', args: { vol: 7 } });
    expect(aliased.errors.join(' ')).toMatch(/args/);
  });

  it('repairs in lenient mode: aliases, missing tags, surrounding text, bare JSON', () => {
    const aliased = parseCarbotAnswer('Sure! <ACTION>{"name":"media.set_volume","args":{"vol":"seven"}}</ACTION> <SAY>Done', {
      mode: 'lenient',
    });
    expect(aliased.action).toEqual({ name: 'car.media.set_volume', args: { level: 7 } });
    expect(aliased.say).toBe('Done');
    expect(aliased.repairs.length).toBeGreaterThan(0);
    const unclosed = parseCarbotAnswer('<ACTION>{"name":"car.media.set_mute","args":{"on":true}}\n<SAY>Muted.</SAY>', { mode: 'lenient' });
    expect(unclosed.action).toEqual({ name: 'car.media.set_mute', args: { on: true } });
    const bare = parseCarbotAnswer('I will do {"name":"car.acc.command","args":{"cmd":"resume"}} now', { mode: 'lenient' });
    expect(bare.action).toEqual({ name: 'car.acc.command', args: { cmd: 'resume' } });
    const wrapped = parseCarbotAnswer('<ACTION>json: {"name":"none","args":{}}</ACTION>', { mode: 'lenient' });
    expect(wrapped.action).toEqual({ name: 'none', args: {} });
    expect(parseCarbotAnswer('no idea', { mode: 'lenient' }).errors[0]).toMatch(/no ACTION block/);
    const invalid = parseCarbotAnswer('<ACTION>{"name":"car.media.set_volume","args":{"level":99}}</ACTION>', { mode: 'lenient' });
    expect(invalid.action).toBeUndefined();
    expect(invalid.errors.join(' ')).toMatch(/level/);
  });

  it('finds balanced JSON objects, ignoring braces in strings', () => {
    expect(firstJsonObject('x {"a":"}{","b":{"c":1}} y')).toBe('{"a":"}{","b":{"c":1}}');
    expect(firstJsonObject('{"a":')).toBeUndefined();
  });
});
