import { InvalidArgumentError, Rng } from '@lora/core';
import { z } from 'zod';
import type { F1Db, Race, Season } from './f1db.js';

/** Question categories, in generation order. */
export const F1_CATEGORIES = [
  'race_winner',
  'race_winning_constructor',
  'pole_position',
  'race_circuit',
  'drivers_champion',
  'constructors_champion',
  'circuit_country',
  'driver_nationality',
] as const;

/** A question category. */
export type F1Category = (typeof F1_CATEGORIES)[number];

/** Number of options of every question. */
export const F1_OPTION_COUNT = 4;

/**
 * A generated multiple-choice question: `id` is `<category>:<fact key>` (e.g.
 * `race_winner:2023:bahrain`), `answer` the 0-based index of the correct option, `season` the
 * year for season-bound facts.
 */
export const F1QuestionSchema = z
  .strictObject({
    id: z.string().min(1),
    question: z.string().min(1),
    options: z.array(z.string().min(1)).length(F1_OPTION_COUNT),
    answer: z
      .number()
      .int()
      .min(0)
      .max(F1_OPTION_COUNT - 1),
    category: z.enum(F1_CATEGORIES),
    season: z.number().int().optional(),
  })
  .superRefine((q, ctx) => {
    if (new Set(q.options).size !== q.options.length)
      ctx.addIssue({ code: 'custom', path: ['options'], message: '`options` must be distinct' });
  });

/** A generated question. */
export type F1Question = z.output<typeof F1QuestionSchema>;

/** Options of {@link generateF1Questions}. */
export interface GenerateF1Options {
  /** Seed of distractor sampling, subsampling and answer positions. */
  seed: number;
  /** Categories to generate (default: all of {@link F1_CATEGORIES}). */
  categories?: readonly F1Category[];
  /** Keep at most this many questions per category (seeded subsample; default: all). */
  maxPerCategory?: number;
}

/** A question before its options are ordered: the answer and a ranked pool of distractors. */
interface Draft {
  readonly id: string;
  readonly category: F1Category;
  readonly season?: number;
  readonly question: string;
  readonly answer: string;
  /** Most plausible distractors first; sampled before `fallback`. */
  readonly pool: readonly string[];
  /** Used only when `pool` has fewer than three usable distractors. */
  readonly fallback: readonly string[];
}

/**
 * Generates multiple-choice questions from F1DB facts, each with three distractors of the same
 * kind (other drivers of the same race or season, other constructors of the season, other circuits
 * of the same year, countries and nationalities of the same continent first). Questions whose text
 * would be ambiguous (two facts, same wording) are dropped; equal duplicates are kept once. The
 * correct option's position is balanced within each category (shuffled blocks of 0–3), and the
 * output is deterministic in `seed`.
 *
 * @example
 * ```ts
 * const questions = generateF1Questions(await loadF1Db(dir), { seed: 0 });
 * ```
 */
export function generateF1Questions(db: F1Db, options: GenerateF1Options): F1Question[] {
  const categories = options.categories ?? F1_CATEGORIES;
  for (const c of categories) {
    if (!(F1_CATEGORIES as readonly string[]).includes(c)) {
      throw new InvalidArgumentError({
        argument: 'categories',
        message: `unknown category "${c}"; use one of ${F1_CATEGORIES.join(', ')}`,
      });
    }
  }
  if (options.maxPerCategory !== undefined && !(Number.isInteger(options.maxPerCategory) && options.maxPerCategory > 0)) {
    throw new InvalidArgumentError({ argument: 'maxPerCategory', message: `must be a positive integer, got ${options.maxPerCategory}` });
  }
  const rng = new Rng(options.seed);
  const out: F1Question[] = [];
  for (const category of F1_CATEGORIES) {
    if (!categories.includes(category)) continue;
    let drafts = dedupe(draftsOf(db, category));
    if (options.maxPerCategory !== undefined && drafts.length > options.maxPerCategory) {
      const keep = new Set(rng.shuffle(drafts.map((_, i) => i)).slice(0, options.maxPerCategory));
      drafts = drafts.filter((_, i) => keep.has(i));
    }
    let block: number[] = [];
    for (const draft of drafts) {
      const distractors = pickDistractors(draft, rng);
      if (distractors === undefined) continue;
      if (block.length === 0) block = rng.shuffle([0, 1, 2, 3]);
      const answer = block.pop() as number;
      const optionsOut = [...distractors];
      optionsOut.splice(answer, 0, draft.answer);
      out.push({
        id: draft.id,
        question: draft.question,
        options: optionsOut,
        answer,
        category,
        ...(draft.season === undefined ? {} : { season: draft.season }),
      });
    }
  }
  return out;
}

function pickDistractors(draft: Draft, rng: Rng): string[] | undefined {
  const seen = new Set([draft.answer]);
  const take = (list: readonly string[], n: number): string[] => {
    const candidates = [...new Set(list)].filter((x) => !seen.has(x));
    const chosen = rng.shuffle(candidates).slice(0, n);
    for (const c of chosen) seen.add(c);
    return chosen;
  };
  const chosen = take(draft.pool, F1_OPTION_COUNT - 1);
  if (chosen.length < F1_OPTION_COUNT - 1) chosen.push(...take(draft.fallback, F1_OPTION_COUNT - 1 - chosen.length));
  return chosen.length === F1_OPTION_COUNT - 1 ? chosen : undefined;
}

/** Drops questions whose wording is shared by facts with different answers; keeps one of equal ones. */
function dedupe(drafts: readonly Draft[]): Draft[] {
  const byText = new Map<string, Draft[]>();
  for (const d of drafts) {
    const key = d.question.toLowerCase().replace(/\s+/g, ' ').trim();
    const group = byText.get(key);
    if (group === undefined) byText.set(key, [d]);
    else group.push(d);
  }
  const out: Draft[] = [];
  for (const group of byText.values()) {
    if (new Set(group.map((d) => d.answer)).size === 1) out.push(group[0] as Draft);
  }
  return out;
}

function draftsOf(db: F1Db, category: F1Category): Draft[] {
  switch (category) {
    case 'race_winner':
    case 'race_winning_constructor':
    case 'pole_position':
    case 'race_circuit':
      return db.seasons.flatMap((season) => season.races.flatMap((race) => raceDraft(db, season, race, category) ?? []));
    case 'drivers_champion':
    case 'constructors_champion':
      return db.seasons.flatMap((season) => championDraft(db, season, category) ?? []);
    case 'circuit_country':
      return circuitCountryDrafts(db);
    case 'driver_nationality':
      return nationalityDrafts(db);
  }
}

/** Display name of a driver id (the id itself if the table lacks it). */
function driverName(db: F1Db, id: string): string {
  return db.drivers.get(id)?.name ?? id;
}

function constructorName(db: F1Db, id: string): string {
  return db.constructors.get(id)?.name ?? id;
}

/** Drivers who took part in a season: standings plus every race entry. */
export function seasonDriverIds(season: Season): Set<string> {
  const ids = new Set(season.driverStandings.map((s) => s.driverId));
  for (const race of season.races) for (const r of race.results ?? []) ids.add(r.driverId);
  return ids;
}

/** Constructors who took part in a season: standings plus every race entry. */
export function seasonConstructorIds(season: Season): Set<string> {
  const ids = new Set(season.constructorStandings.map((s) => s.constructorId));
  for (const race of season.races) for (const r of race.results ?? []) ids.add(r.constructorId);
  return ids;
}

/** The title of a race as used in questions: "the 2023 Bahrain Grand Prix". */
export function raceTitle(db: F1Db, race: Race): string {
  return `the ${race.year} ${db.grandsPrix.get(race.grandPrixId)?.fullName ?? race.officialName}`;
}

function raceDraft(db: F1Db, season: Season, race: Race, category: F1Category): Draft | undefined {
  const results = race.results;
  if (results === undefined || results.length === 0) return undefined;
  const title = raceTitle(db, race);
  const key = `${race.year}:${String(race.round).padStart(2, '0')}-${race.grandPrixId}`;
  const base = { id: `${category}:${key}`, category, season: race.year };
  const winners = results.filter((r) => r.position === 1);
  const classified = results.filter((r) => typeof r.position === 'number').sort((a, b) => (a.position as number) - (b.position as number));
  if (category === 'race_circuit') {
    const circuit = db.circuits.get(race.circuitId);
    if (circuit === undefined) return undefined;
    const sameYear = season.races.map((r) => db.circuits.get(r.circuitId)?.fullName).filter((n): n is string => n !== undefined);
    const all = [...db.circuits.values()].map((c) => c.fullName);
    return { ...base, question: `Which circuit hosted ${title}?`, answer: circuit.fullName, pool: sameYear, fallback: all };
  }
  if (category === 'pole_position') {
    const pole = results.filter((r) => r.gridPosition === 1);
    if (pole.length !== 1) return undefined;
    const poleId = (pole[0] as (typeof pole)[number]).driverId;
    const front = results
      .filter((r) => typeof r.gridPosition === 'number' && r.gridPosition > 1 && r.gridPosition <= 10)
      .map((r) => driverName(db, r.driverId));
    const others = [...seasonDriverIds(season)].filter((d) => d !== poleId).map((d) => driverName(db, d));
    return { ...base, question: `Who started ${title} from pole position?`, answer: driverName(db, poleId), pool: front, fallback: others };
  }
  if (winners.length !== 1) return undefined; // shared drives of the 1950s: no single winner
  const winner = winners[0] as (typeof winners)[number];
  if (category === 'race_winner') {
    const coDrivers = new Set(results.filter((r) => r.position === 1).map((r) => r.driverId));
    const top = classified.filter((r) => !coDrivers.has(r.driverId) && (r.position as number) <= 10).map((r) => driverName(db, r.driverId));
    const others = [...seasonDriverIds(season)].filter((d) => !coDrivers.has(d)).map((d) => driverName(db, d));
    return { ...base, question: `Who won ${title}?`, answer: driverName(db, winner.driverId), pool: top, fallback: others };
  }
  // race_winning_constructor
  const others = [...seasonConstructorIds(season)].filter((c) => c !== winner.constructorId).map((c) => constructorName(db, c));
  return {
    ...base,
    question: `Which constructor won ${title}?`,
    answer: constructorName(db, winner.constructorId),
    pool: others,
    fallback: [],
  };
}

function championDraft(db: F1Db, season: Season, category: F1Category): Draft | undefined {
  if (!season.complete) return undefined;
  const base = { id: `${category}:${season.year}`, category, season: season.year };
  if (category === 'drivers_champion') {
    const champions = season.driverStandings.filter((s) => s.position === 1);
    if (champions.length !== 1) return undefined;
    const championId = (champions[0] as (typeof champions)[number]).driverId;
    const contenders = season.driverStandings
      .filter((s) => s.driverId !== championId && typeof s.position === 'number' && s.position <= 10)
      .map((s) => driverName(db, s.driverId));
    const others = [...seasonDriverIds(season)].filter((d) => d !== championId).map((d) => driverName(db, d));
    return {
      ...base,
      question: `Who won the ${season.year} Formula One World Drivers' Championship?`,
      answer: driverName(db, championId),
      pool: contenders,
      fallback: others,
    };
  }
  const champions = season.constructorStandings.filter((s) => s.position === 1);
  if (champions.length !== 1) return undefined;
  const championId = (champions[0] as (typeof champions)[number]).constructorId;
  const others = [...seasonConstructorIds(season)].filter((c) => c !== championId).map((c) => constructorName(db, c));
  return {
    ...base,
    question: `Which constructor won the ${season.year} Formula One World Constructors' Championship?`,
    answer: constructorName(db, championId),
    pool: season.constructorStandings.filter((s) => s.constructorId !== championId).map((s) => constructorName(db, s.constructorId)),
    fallback: others,
  };
}

function continentOf(db: F1Db, countryId: string): string | undefined {
  return db.countries.get(countryId)?.continentId;
}

/** Circuits that hosted a race in the loaded seasons. */
function usedCircuitIds(db: F1Db): Set<string> {
  return new Set(db.seasons.flatMap((s) => s.races.map((r) => r.circuitId)));
}

function circuitCountryDrafts(db: F1Db): Draft[] {
  const circuits = [...usedCircuitIds(db)].sort().flatMap((id) => db.circuits.get(id) ?? []);
  const countryName = (id: string): string | undefined => db.countries.get(id)?.name;
  const allCountries = [...new Set(circuits.map((c) => countryName(c.countryId)).filter((n): n is string => n !== undefined))];
  return circuits.flatMap((circuit) => {
    const answer = countryName(circuit.countryId);
    if (answer === undefined) return [];
    const continent = continentOf(db, circuit.countryId);
    const sameContinent = circuits
      .filter((c) => continentOf(db, c.countryId) === continent)
      .map((c) => countryName(c.countryId))
      .filter((n): n is string => n !== undefined);
    return [
      {
        id: `circuit_country:${circuit.id}`,
        category: 'circuit_country' as const,
        question: `In which country is the ${circuit.fullName} circuit?`,
        answer,
        pool: sameContinent,
        fallback: allCountries,
      },
    ];
  });
}

function nationalityDrafts(db: F1Db): Draft[] {
  const ids = new Set<string>();
  for (const season of db.seasons) for (const id of seasonDriverIds(season)) ids.add(id);
  const drivers = [...ids].sort().flatMap((id) => db.drivers.get(id) ?? []);
  const demonym = (countryId: string): string | undefined => db.countries.get(countryId)?.demonym;
  const all = [...new Set(drivers.map((d) => demonym(d.nationalityCountryId)).filter((n): n is string => n !== undefined))];
  const byContinent = new Map<string | undefined, string[]>();
  for (const d of drivers) {
    const dem = demonym(d.nationalityCountryId);
    if (dem === undefined) continue;
    const continent = continentOf(db, d.nationalityCountryId);
    const list = byContinent.get(continent) ?? [];
    if (!list.includes(dem)) list.push(dem);
    byContinent.set(continent, list);
  }
  return drivers.flatMap((driver) => {
    const answer = demonym(driver.nationalityCountryId);
    if (answer === undefined) return [];
    return [
      {
        id: `driver_nationality:${driver.id}`,
        category: 'driver_nationality' as const,
        question: `What is the nationality of the Formula One driver ${driver.name}?`,
        answer,
        pool: byContinent.get(continentOf(db, driver.nationalityCountryId)) ?? [],
        fallback: all,
      },
    ];
  });
}
