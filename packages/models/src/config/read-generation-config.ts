// Node half of generation-config.ts: reads `generation_config.json` from a model folder.
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { readRegularTextFile } from '@lora/core/internal';
import { parseGenerationEosTokenIds } from './generation-config.js';

/**
 * `eos_token_id` of the `generation_config.json` in a model folder, as a list; undefined when the
 * file is absent or does not set it.
 *
 * @throws FileFormatError naming the file and field when the file is malformed.
 * @internal
 */
export async function readGenerationEosTokenIds(dir: string): Promise<number[] | undefined> {
  const file = join(dir, 'generation_config.json');
  if ((await stat(file).catch(() => undefined)) === undefined) return undefined;
  const text = await readRegularTextFile(file, 'generation config');
  return parseGenerationEosTokenIds(text, file);
}
