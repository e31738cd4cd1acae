import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { AssetNotFoundError, FileFormatError } from '@lora/core';
import { validate } from '@lora/core/internal';
import { parse } from 'yaml';
import { z } from 'zod';

// F1DB (https://github.com/f1db/f1db, CC-BY-4.0) keeps one YAML file per entity under src/data/.
// Only the fields the question generator reads are declared; unknown keys are kept (looseObject)
// so newer F1DB releases still load. Empty YAML values parse as null, hence `nullish()`.

const id = z.string().min(1);
const optionalText = z
  .string()
  .nullish()
  .transform((v) => v ?? undefined);

/** A driver file, `drivers/<id>.yml`. */
export const DriverSchema = z.looseObject({
  id,
  name: z.string().min(1),
  nationalityCountryId: id,
  dateOfBirth: z.union([z.string(), z.date()]).nullish(),
});
/** A constructor file, `constructors/<id>.yml`. */
export const ConstructorSchema = z.looseObject({ id, name: z.string().min(1), fullName: optionalText, countryId: id });
/** A circuit file, `circuits/<id>.yml`. */
export const CircuitSchema = z.looseObject({
  id,
  name: z.string().min(1),
  fullName: z.string().min(1),
  placeName: z.string().min(1),
  countryId: id,
});
/** A country file, `countries/<id>.yml`. */
export const CountrySchema = z.looseObject({ id, name: z.string().min(1), demonym: optionalText, continentId: id });
/** A Grand Prix file, `grands-prix/<id>.yml`. */
export const GrandPrixSchema = z.looseObject({ id, name: z.string().min(1), fullName: z.string().min(1), countryId: optionalText });

const position = z
  .union([z.number().int(), z.string()])
  .nullish()
  .transform((v) => v ?? undefined);

/** One row of `seasons/<year>/driver-standings.yml`. */
export const DriverStandingSchema = z.looseObject({ position, driverId: id, points: z.number().nullish() });
/** One row of `seasons/<year>/constructor-standings.yml`. */
export const ConstructorStandingSchema = z.looseObject({
  position,
  constructorId: id,
  engineManufacturerId: id.nullish(),
  points: z.number().nullish(),
});
/** `seasons/<year>/races/<nn-name>/race.yml`. */
export const RaceSchema = z.looseObject({
  id: z.number().int(),
  round: z.number().int().positive(),
  date: z.union([z.string(), z.date()]).transform((d) => (d instanceof Date ? d.toISOString().slice(0, 10) : d)),
  grandPrixId: id,
  officialName: z.string().min(1),
  circuitId: id,
});
/** One row of `seasons/<year>/races/<nn-name>/race-results.yml`. */
export const RaceResultSchema = z.looseObject({
  position,
  driverId: id,
  constructorId: id,
  gridPosition: position,
});

/** A loaded driver. */
export type Driver = z.output<typeof DriverSchema>;
/** A loaded constructor. */
export type Constructor = z.output<typeof ConstructorSchema>;
/** A loaded circuit. */
export type Circuit = z.output<typeof CircuitSchema>;
/** A loaded country. */
export type Country = z.output<typeof CountrySchema>;
/** A loaded Grand Prix. */
export type GrandPrix = z.output<typeof GrandPrixSchema>;
/** A driver-standings row. */
export type DriverStanding = z.output<typeof DriverStandingSchema>;
/** A constructor-standings row. */
export type ConstructorStanding = z.output<typeof ConstructorStandingSchema>;
/** A race-results row. */
export type RaceResult = z.output<typeof RaceResultSchema>;

/** A race of a season, with its results when F1DB has them (future races have none). */
export interface Race extends z.output<typeof RaceSchema> {
  /** Season year. */
  readonly year: number;
  /** Classified and unclassified entries; `undefined` before the race is run. */
  readonly results: readonly RaceResult[] | undefined;
}

/** One season folder. */
export interface Season {
  /** The year. */
  readonly year: number;
  /** Final (or, for the running season, current) drivers' standings. */
  readonly driverStandings: readonly DriverStanding[];
  /** Constructors' standings (empty before 1958, when the championship began). */
  readonly constructorStandings: readonly ConstructorStanding[];
  /** Races in round order. */
  readonly races: readonly Race[];
  /**
   * True when the season is over in this snapshot: every race has results and a later season
   * folder exists (the newest season may still be running even if its past races have results).
   */
  readonly complete: boolean;
}

/** The loaded F1DB subset, reference tables keyed by id. */
export interface F1Db {
  /** `src/data` folder it was read from. */
  readonly root: string;
  readonly drivers: ReadonlyMap<string, Driver>;
  readonly constructors: ReadonlyMap<string, Constructor>;
  readonly circuits: ReadonlyMap<string, Circuit>;
  readonly countries: ReadonlyMap<string, Country>;
  readonly grandsPrix: ReadonlyMap<string, GrandPrix>;
  /** Loaded seasons, ascending. */
  readonly seasons: readonly Season[];
}

/** Options of {@link loadF1Db}. */
export interface LoadF1DbOptions {
  /** First season to load (default: all). */
  fromSeason?: number;
  /** Last season to load (default: all). */
  toSeason?: number;
}

/**
 * Loads the F1DB YAML tree. `dir` is the F1DB checkout (holding `src/data`) or `src/data` itself,
 * e.g. `$LORA_ASSETS_DIR/data/f1db`. Every file is validated with zod; an invalid file throws a
 * {@link FileFormatError} naming it.
 *
 * @example
 * ```ts
 * const db = await loadF1Db(join(process.env.LORA_ASSETS_DIR!, 'data/f1db'), { fromSeason: 2000 });
 * ```
 */
export async function loadF1Db(dir: string, options: LoadF1DbOptions = {}): Promise<F1Db> {
  const root = await dataRoot(dir);
  const [drivers, constructors, circuits, countries, grandsPrix] = await Promise.all([
    loadTable(join(root, 'drivers'), DriverSchema),
    loadTable(join(root, 'constructors'), ConstructorSchema),
    loadTable(join(root, 'circuits'), CircuitSchema),
    loadTable(join(root, 'countries'), CountrySchema),
    loadTable(join(root, 'grands-prix'), GrandPrixSchema),
  ]);
  const allYears = (await readdir(join(root, 'seasons')))
    .filter((name) => /^\d{4}$/.test(name))
    .map(Number)
    .sort((a, b) => a - b);
  const newest = allYears[allYears.length - 1] ?? 0;
  const years = allYears.filter((y) => y >= (options.fromSeason ?? -Infinity) && y <= (options.toSeason ?? Infinity));
  const seasons: Season[] = [];
  for (const year of years) seasons.push(await loadSeason(join(root, 'seasons', String(year)), year, year < newest));
  return { root, drivers, constructors, circuits, countries, grandsPrix, seasons };
}

async function dataRoot(dir: string): Promise<string> {
  for (const candidate of [join(dir, 'src', 'data'), dir]) {
    const entries = await readdir(candidate).catch(() => undefined);
    if (entries?.includes('seasons') && entries.includes('drivers')) return candidate;
  }
  throw new AssetNotFoundError({
    asset: 'F1DB data (drivers/, seasons/, …)',
    searched: [join(dir, 'src', 'data'), dir],
    hint: 'point it at a checkout of github.com/f1db/f1db, e.g. $LORA_ASSETS_DIR/data/f1db',
  });
}

/** Reads and validates one YAML file. */
export async function readYaml<S extends z.ZodType>(file: string, schema: S): Promise<z.output<S>> {
  const text = await readFile(file, 'utf8');
  let value: unknown;
  try {
    value = parse(text);
  } catch (error) {
    throw new FileFormatError({ file, message: `invalid YAML: ${(error as Error).message}`, cause: error });
  }
  return validate(value, schema, { file });
}

async function loadTable<S extends z.ZodType<{ id: string }>>(dir: string, schema: S): Promise<Map<string, z.output<S>>> {
  const files = (await readdir(dir)).filter((f) => f.endsWith('.yml')).sort();
  const rows = await Promise.all(files.map((f) => readYaml(join(dir, f), schema)));
  return new Map(rows.map((row) => [row.id, row]));
}

async function loadSeason(dir: string, year: number, hasLaterSeason: boolean): Promise<Season> {
  const entries = await readdir(dir);
  const driverStandings = entries.includes('driver-standings.yml')
    ? await readYaml(join(dir, 'driver-standings.yml'), z.array(DriverStandingSchema).nullable())
    : [];
  const constructorStandings = entries.includes('constructor-standings.yml')
    ? await readYaml(join(dir, 'constructor-standings.yml'), z.array(ConstructorStandingSchema).nullable())
    : [];
  const raceDirs = entries.includes('races') ? (await readdir(join(dir, 'races'))).sort() : [];
  const races = await Promise.all(
    raceDirs.map(async (name): Promise<Race> => {
      const raceDir = join(dir, 'races', name);
      const files = await readdir(raceDir);
      const race = await readYaml(join(raceDir, 'race.yml'), RaceSchema);
      const results = files.includes('race-results.yml')
        ? ((await readYaml(join(raceDir, 'race-results.yml'), z.array(RaceResultSchema).nullable())) ?? [])
        : undefined;
      return { ...race, year, results };
    }),
  );
  races.sort((a, b) => a.round - b.round);
  return {
    year,
    driverStandings: driverStandings ?? [],
    constructorStandings: constructorStandings ?? [],
    races,
    complete: hasLaterSeason && races.every((r) => r.results !== undefined && r.results.length > 0),
  };
}
