import { readFileSync, readdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AssetNotFoundError } from '@lora/core';
import { readJsonl, largestRemainder } from '@lora/data/internal';
import { parse } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { splitF1Questions, writeF1Splits, F1_SPLIT_FRACTIONS } from './dataset.js';
import { loadF1Db, type F1Db } from './f1db.js';
import {
  F1_CATEGORIES,
  F1QuestionSchema,
  generateF1Questions,
  seasonConstructorIds,
  seasonDriverIds,
  type F1Question,
} from './questions.js';
import { renderF1Text, toMultipleChoiceRecord } from './render.js';
import { MultipleChoiceRecordSchema } from '@lora/data';

// Real F1DB YAML from ../shared (never copied into the repo).
const assets = process.env.LORA_ASSETS_DIR;
const skipReason = 'skipped: LORA_ASSETS_DIR is unset (point it at ../shared to run)';
if (assets === undefined) console.warn(`[f1 questions] ${skipReason}`);
const f1dbDir = assets === undefined ? '' : join(assets, 'data', 'f1db');

describe('loadF1Db errors', () => {
  it('names the folders it looked in when there is no F1DB data', async () => {
    const empty = mkdtempSync(join(tmpdir(), 'f1db-'));
    try {
      await expect(loadF1Db(empty)).rejects.toSatisfy(
        (e: unknown) => AssetNotFoundError.isInstance(e) && String(e).includes(join(empty, 'src', 'data')),
      );
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });
});

describe.skipIf(assets === undefined)(`F1 questions from F1DB${assets === undefined ? ` (${skipReason})` : ''}`, () => {
  let db: F1Db;
  let questions: F1Question[];
  let tmp: string;
  beforeAll(async () => {
    db = await loadF1Db(f1dbDir);
    questions = generateF1Questions(db, { seed: 7 });
    tmp = mkdtempSync(join(tmpdir(), 'f1-'));
  });
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));

  const seasonOf = (year: number | undefined) => {
    const season = db.seasons.find((s) => s.year === year);
    if (season === undefined) throw new Error(`no season ${year}`);
    return season;
  };
  const raceOf = (q: F1Question) => {
    const key = q.id.split(':')[2] as string;
    const race = seasonOf(q.season).races.find((r) => `${String(r.round).padStart(2, '0')}-${r.grandPrixId}` === key);
    if (race === undefined) throw new Error(`no race for ${q.id}`);
    return race;
  };
  const driverNames = (ids: Iterable<string>) => new Set([...ids].map((id) => db.drivers.get(id)?.name ?? id));
  const constructorNames = (ids: Iterable<string>) => new Set([...ids].map((id) => db.constructors.get(id)?.name ?? id));

  it('loads every season of the snapshot and marks only finished ones complete', () => {
    expect(db.seasons[0]?.year).toBe(1950);
    const newest = db.seasons[db.seasons.length - 1];
    expect(newest?.complete).toBe(false);
    expect(db.seasons.filter((s) => s.complete).length).toBe(db.seasons.length - 1);
    expect(db.drivers.size).toBe(readdirSync(join(db.root, 'drivers')).length);
  });

  it('is deterministic in the seed', () => {
    expect(generateF1Questions(db, { seed: 7 })).toEqual(questions);
    const other = generateF1Questions(db, { seed: 8 });
    expect(other.map((q) => q.id)).toEqual(questions.map((q) => q.id));
    expect(other.map((q) => q.options)).not.toEqual(questions.map((q) => q.options));
  });

  it('gives every question 4 distinct options that validate, and unique ids and texts', () => {
    for (const q of questions) expect(F1QuestionSchema.safeParse(q).success).toBe(true);
    expect(new Set(questions.map((q) => q.id)).size).toBe(questions.length);
    expect(new Set(questions.map((q) => q.question.toLowerCase())).size).toBe(questions.length);
  });

  it('draws distractors of the same kind and season, never equal to the answer', () => {
    for (const q of questions) {
      const answer = q.options[q.answer] as string;
      const distractors = q.options.filter((_, i) => i !== q.answer);
      expect(distractors).not.toContain(answer);
      const season = q.season === undefined ? undefined : seasonOf(q.season);
      let allowed: Set<string>;
      switch (q.category) {
        case 'race_winner':
        case 'pole_position':
        case 'drivers_champion':
          allowed = driverNames(seasonDriverIds(season!));
          break;
        case 'race_winning_constructor':
        case 'constructors_champion':
          allowed = constructorNames(seasonConstructorIds(season!));
          break;
        case 'race_circuit':
          allowed = new Set(season!.races.map((r) => db.circuits.get(r.circuitId)?.fullName ?? ''));
          break;
        case 'circuit_country':
          allowed = new Set([...db.countries.values()].map((c) => c.name));
          break;
        case 'driver_nationality':
          allowed = new Set([...db.countries.values()].flatMap((c) => c.demonym ?? []));
          break;
      }
      for (const d of [answer, ...distractors]) expect(allowed.has(d), `${q.id}: "${d}" is not of the same kind/season`).toBe(true);
    }
  });

  it('prefers drivers of the same race for race winners (top-10 finishers)', () => {
    for (const q of questions.filter((x) => x.category === 'race_winner').slice(0, 300)) {
      const race = raceOf(q);
      const finishers = driverNames((race.results ?? []).map((r) => r.driverId));
      for (const option of q.options) expect(finishers.has(option)).toBe(true);
    }
  });

  it('balances the correct position within each category (counts differ by at most 1)', () => {
    for (const category of F1_CATEGORIES) {
      const counts = [0, 0, 0, 0];
      for (const q of questions.filter((x) => x.category === category)) counts[q.answer] = (counts[q.answer] as number) + 1;
      expect(Math.max(...counts) - Math.min(...counts), `${category}: ${counts.join('/')}`).toBeLessThanOrEqual(1);
    }
  });

  it('covers every category with the expected number of facts', () => {
    const count = (c: string) => questions.filter((q) => q.category === c).length;
    const finished = db.seasons.filter((s) => s.complete);
    const racesRun = db.seasons.flatMap((s) => s.races).filter((r) => (r.results ?? []).length > 0);
    expect(count('drivers_champion')).toBe(finished.length);
    expect(count('constructors_champion')).toBe(finished.filter((s) => s.constructorStandings.length > 0).length);
    expect(count('race_circuit')).toBe(racesRun.length);
    const soleWinner = racesRun.filter((r) => (r.results ?? []).filter((x) => x.position === 1).length === 1);
    expect(count('race_winner')).toBe(soleWinner.length);
    expect(count('race_winning_constructor')).toBe(soleWinner.length);
    expect(count('pole_position')).toBeGreaterThan(racesRun.length * 0.95);
    expect(count('circuit_country')).toBe(new Set(db.seasons.flatMap((s) => s.races).map((r) => r.circuitId)).size);
    expect(count('driver_nationality')).toBeGreaterThan(800);
  });

  it('states facts that the YAML files confirm', () => {
    const readYamlRaw = (...parts: string[]) => parse(readFileSync(join(db.root, ...parts), 'utf8')) as Record<string, unknown>[];
    const raceDirs = (year: number) => readdirSync(join(db.root, 'seasons', String(year), 'races')).sort();
    const byId = new Map(questions.map((q) => [q.id, q]));
    const answerOf = (id: string) => {
      const q = byId.get(id);
      if (q === undefined) throw new Error(`missing question ${id}`);
      return q.options[q.answer];
    };
    expect(answerOf('drivers_champion:2023')).toBe('Max Verstappen');
    expect(answerOf('constructors_champion:2023')).toBe('Red Bull');
    expect(answerOf('race_winner:2023:01-bahrain')).toBe('Max Verstappen');
    expect(answerOf('race_circuit:2023:01-bahrain')).toBe('Bahrain International Circuit');
    expect(answerOf('circuit_country:monza')).toBe('Italy');
    expect(answerOf('driver_nationality:max-verstappen')).toBe('Dutch');
    // Every 25th race-winner and pole question against the raw race-results.yml.
    const sample = questions.filter((q) => q.category === 'race_winner' || q.category === 'pole_position').filter((_, i) => i % 25 === 0);
    for (const q of sample) {
      const key = q.id.split(':')[2] as string;
      const dir = raceDirs(q.season as number).find(
        (d) => d.replace(/^\d+-/, '') === key.replace(/^\d+-/, '') && d.startsWith(key.slice(0, 2)),
      );
      const rows = readYamlRaw('seasons', String(q.season), 'races', dir as string, 'race-results.yml');
      const row = rows.find((r) => (q.category === 'race_winner' ? r.position === 1 : r.gridPosition === 1));
      const drivers = parse(readFileSync(join(db.root, 'drivers', `${String(row?.driverId)}.yml`), 'utf8')) as { name: string };
      expect(q.options[q.answer], q.id).toBe(drivers.name);
    }
    // Every season's champion against the raw driver-standings.yml.
    for (const q of questions.filter((x) => x.category === 'drivers_champion')) {
      const first = readYamlRaw('seasons', String(q.season), 'driver-standings.yml')[0];
      expect(q.options[q.answer]).toBe(db.drivers.get(String(first?.driverId))?.name);
    }
  });

  it('splits exactly per category and writes JSONL that reads back as multiple-choice records', async () => {
    const result = splitF1Questions(questions, { seed: 0 });
    for (const stratum of result.strata) {
      const [train, validation, test] = largestRemainder(stratum.total, Object.values(F1_SPLIT_FRACTIONS));
      expect(stratum.counts).toEqual({ train, validation, test });
    }
    expect(result.counts.train + result.counts.validation + result.counts.test).toBe(questions.length);
    const small = splitF1Questions(generateF1Questions(db, { seed: 1, maxPerCategory: 20 }), { seed: 0 });
    expect(small.counts).toEqual({ train: 128, validation: 16, test: 16 });
    await writeF1Splits(tmp, small);
    const rows: unknown[] = [];
    for await (const row of readJsonl(join(tmp, 'test.mc.jsonl'), { schema: MultipleChoiceRecordSchema })) rows.push(row);
    expect(rows).toEqual(small.splits.test.map((q) => ({ ...toMultipleChoiceRecord(q) })));
    const text = renderF1Text(small.splits.test[0] as F1Question);
    expect(text).toMatch(/^Question: .+\nA\) .+\nB\) .+\nC\) .+\nD\) .+\nAnswer: [ABCD]$/);
  });
});
