import { join } from 'node:path';
import { readCsv } from '@lora/data/internal';
import { z } from 'zod';

/** A row of XSTest v2 `xstest_prompts.csv` (Röttger et al., 2024; CC-BY-4.0). */
export const XsTestRowSchema = z.looseObject({
  id: z.string().min(1),
  prompt: z.string().min(1),
  type: z.string().min(1),
  label: z.enum(['safe', 'unsafe']),
  focus: z.string(),
  note: z.string(),
});

/** An XSTest prompt. */
export type XsTestRow = z.output<typeof XsTestRowSchema>;

/** A row of the AILuminate v1.0 demo prompt set CSV (MLCommons; CC-BY-4.0). */
export const AiluminateRowSchema = z.looseObject({
  release_prompt_id: z.string().min(1),
  prompt_text: z.string().min(1),
  hazard: z.string().min(1),
  persona: z.string(),
  locale: z.string(),
});

/** An AILuminate prompt. */
export type AiluminateRow = z.output<typeof AiluminateRowSchema>;

/** File name of the AILuminate demo prompt set in `data/ailuminate/`. */
export const AILUMINATE_CSV = 'airr_official_1.0_demo_en_us_prompt_set_release.csv';

/** Reads XSTest from a folder holding `xstest_prompts.csv` (e.g. `$LORA_ASSETS_DIR/data/xstest`). */
export async function loadXsTest(dir: string): Promise<XsTestRow[]> {
  return readCsv(join(dir, 'xstest_prompts.csv'), { schema: XsTestRowSchema }).toArray();
}

/** Reads the AILuminate demo prompt set from its folder (e.g. `$LORA_ASSETS_DIR/data/ailuminate`). */
export async function loadAiluminate(dir: string): Promise<AiluminateRow[]> {
  return readCsv(join(dir, AILUMINATE_CSV), { schema: AiluminateRowSchema }).toArray();
}
