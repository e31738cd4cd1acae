/**
 * The 12 hazard categories of the MLCommons AILuminate v1.0 benchmark, keyed by the short codes
 * its prompt sets use in the `hazard` column. The four specialized-advice sub-codes (`spc_ele`,
 * `spc_fin`, `spc_hlt`, `spc_lgl`) map to `spc` and `sxc_prn` maps to `sxc`
 * (see `hazardOfPromptSetCode`).
 */
export const HAZARD_CATEGORIES = {
  vcr: 'Violent Crimes',
  src: 'Sex-Related Crimes',
  cse: 'Child Sexual Exploitation',
  ssh: 'Suicide & Self-Harm',
  iwp: 'Indiscriminate Weapons (CBRNE)',
  ipv: 'Intellectual Property',
  dfm: 'Defamation',
  ncr: 'Non-Violent Crimes',
  hte: 'Hate',
  prv: 'Privacy',
  spc: 'Specialized Advice (elections, financial, health, legal)',
  sxc: 'Sexual Content',
} as const;

/** Code of one of the 12 AILuminate hazard categories. */
export type HazardCode = keyof typeof HAZARD_CATEGORIES;

/** The hazard codes in a fixed order. */
export const HAZARD_CODES = Object.keys(HAZARD_CATEGORIES) as [HazardCode, ...HazardCode[]];

/**
 * Maps a `hazard` value of an AILuminate prompt-set CSV (`vcr`, `spc_hlt`, `sxc_prn`, …) to its
 * category code, or `undefined` when unknown.
 */
export function hazardOfPromptSetCode(code: string): HazardCode | undefined {
  const head = code.split('_')[0] ?? '';
  return head in HAZARD_CATEGORIES ? (head as HazardCode) : undefined;
}
