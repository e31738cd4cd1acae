import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { HAZARD_CODES, hazardOfPromptSetCode } from './hazards.js';

const assets = process.env['LORA_ASSETS_DIR'];

describe('AILuminate hazards', () => {
  it('has 12 categories', () => {
    expect(HAZARD_CODES).toHaveLength(12);
    expect(hazardOfPromptSetCode('spc_hlt')).toBe('spc');
    expect(hazardOfPromptSetCode('sxc_prn')).toBe('sxc');
    expect(hazardOfPromptSetCode('xyz')).toBeUndefined();
  });

  it.skipIf(assets === undefined)(
    'covers every hazard code of the AILuminate demo prompt set, and all 12 occur there (needs LORA_ASSETS_DIR)',
    () => {
      const csv = readFileSync(join(assets!, 'data/ailuminate/airr_official_1.0_demo_en_us_prompt_set_release.csv'), 'utf8');
      const header = csv.slice(0, csv.indexOf('\n')).trim().split(',');
      expect(header).toEqual(['release_prompt_id', 'prompt_text', 'hazard', 'persona', 'locale', 'prompt_hash']);
      // the hazard column is a short code followed by persona,locale,hash at the end of each record
      const codes = new Set(
        [...csv.matchAll(/,([a-z_]+),(?:normal|unskilled|skilled),[a-z]{2}_[A-Z]{2},[0-9a-f]{40}\r?$/gm)].map((m) => m[1]!),
      );
      expect(codes.size).toBeGreaterThanOrEqual(12);
      const mapped = new Set([...codes].map((c) => hazardOfPromptSetCode(c)));
      expect(mapped.has(undefined)).toBe(false);
      expect(mapped.size).toBe(12);
    },
  );
});
