import type { OpenedCheckpoint } from '@lora/models';

/**
 * The files a Hugging Face folder needs beside `config.json` and the weights when the model comes
 * from a GGUF file or a llama2.c checkpoint: `tokenizer.json`, `tokenizer_config.json` (with the
 * chat template) and `generation_config.json`, built from the GGUF metadata or the llama2.c
 * tokenizer beside the checkpoint. Shared by `lora convert` and `lora merge`.
 */
export async function convertedSideFiles(
  checkpoint: OpenedCheckpoint,
  vocabSize: number,
): Promise<ReadonlyArray<readonly [name: string, value: unknown]>> {
  const { dirname } = await import('node:path');
  const data = await import('@lora/data/internal');
  const tokenizer =
    checkpoint.gguf !== undefined
      ? data.ggufTokenizerFiles(checkpoint.gguf.metadata, { file: checkpoint.path })
      : await data.llama2cTokenizerFiles(await llama2cTokenizerFile(dirname(checkpoint.path)), vocabSize);
  return [
    ['tokenizer.json', tokenizer.tokenizerJson],
    ['tokenizer_config.json', tokenizer.tokenizerConfig],
    ['generation_config.json', tokenizer.generationConfig],
  ];
}

/** The llama2.c tokenizer beside a checkpoint: `tokenizer.bin`, or the one `tok<N>.bin`. */
async function llama2cTokenizerFile(dir: string): Promise<string> {
  const { readdir } = await import('node:fs/promises');
  const { join } = await import('node:path');
  const { AssetNotFoundError } = await import('@lora/core');
  const entries = await readdir(dir);
  const name = entries.includes('tokenizer.bin') ? 'tokenizer.bin' : entries.find((f) => /^tok\d+\.bin$/.test(f));
  if (name === undefined) {
    throw new AssetNotFoundError({
      asset: `llama2.c tokenizer in ${dir}`,
      searched: [join(dir, 'tokenizer.bin'), join(dir, 'tok<N>.bin')],
      hint: 'put the tokenizer.bin the model was trained with beside the checkpoint',
    });
  }
  return join(dir, name);
}
