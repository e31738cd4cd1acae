/**
 * A normalisation hook applied to predictions and references before scoring (e.g. aliases →
 * canonical names). It receives parsed JSON values or plain strings and returns the normalised
 * value; reports give every metric with and without it.
 */
export type Normalizer = (value: unknown) => unknown;

/**
 * A {@link Normalizer} that rewrites strings found in `aliases` (matched after trimming and
 * lower-casing, at any depth of objects and arrays, keys included) to their canonical form.
 * Text that is not an alias is left as it is.
 *
 * @example
 * ```ts
 * const n = aliasNormalizer({ 'set_temp': 'set_temperature', 'AC': 'air_conditioning' });
 * n({ name: 'set_temp', arguments: { device: 'ac' } }); // { name: 'set_temperature', arguments: { device: 'air_conditioning' } }
 * ```
 */
export function aliasNormalizer(aliases: Readonly<Record<string, string>>): Normalizer {
  const table = new Map(Object.entries(aliases).map(([k, v]) => [k.trim().toLowerCase(), v]));
  const map = (s: string): string => table.get(s.trim().toLowerCase()) ?? s;
  const walk = (v: unknown): unknown => {
    if (typeof v === 'string') return map(v);
    if (Array.isArray(v)) return v.map(walk);
    if (v !== null && typeof v === 'object') {
      return Object.fromEntries(Object.entries(v as Record<string, unknown>).map(([k, x]) => [map(k), walk(x)]));
    }
    return v;
  };
  return walk;
}
