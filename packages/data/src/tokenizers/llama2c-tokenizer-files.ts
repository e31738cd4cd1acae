import { GGUF_TOKEN_TYPE, type GgufMetadata } from './gguf/gguf-metadata.js';
import { type GgufTokenizerFiles, ggufTokenizerFiles } from './gguf/gguf-tokenizer.js';
import { Llama2cTokenizer } from './llama2c.js';

/**
 * The Hugging Face tokenizer files (`tokenizer.json`, `tokenizer_config.json`,
 * `generation_config.json`) of a llama2.c `tokenizer.bin` (e.g. stories260K's `tok512.bin`): a
 * SentencePiece BPE vocabulary with byte fallback, built as transformers builds a Llama tokenizer
 * from the same pieces and scores (`▁` for spaces, `<unk>` / `<s>` / `</s>` as ids 0–2 — the export's
 * `\n<s>\n` spellings renamed — `<0xXX>`
 * byte tokens, BOS added to every text as llama2.c's `run.c` and Llama-2's tokenizer do).
 *
 * @param file - path of the `tokenizer.bin`.
 * @param vocabSize - the model's `vocab_size`, checked against the file.
 * @example
 * ```ts
 * const { tokenizerJson } = await llama2cTokenizerFiles('stories260K/tok512.bin', 512);
 * ```
 */
export async function llama2cTokenizerFiles(file: string, vocabSize?: number): Promise<GgufTokenizerFiles> {
  const tokenizer = await Llama2cTokenizer.fromFile(file, vocabSize === undefined ? {} : { vocabSize });
  const decoder = new TextDecoder();
  const tokens: string[] = [];
  const scores: number[] = [];
  const types: number[] = [];
  // llama2.c's export writes BOS / EOS as "\n<s>\n" / "\n</s>\n": give them SentencePiece's names.
  const names = new Map([
    [tokenizer.unkTokenId, '<unk>'],
    [tokenizer.bosTokenId, '<s>'],
    [tokenizer.eosTokenIds[0] ?? 2, '</s>'],
  ]);
  for (let id = 0; id < tokenizer.vocabSize; id++) {
    const text = names.get(id) ?? decoder.decode(tokenizer.piece(id)).replaceAll(' ', '\u2581');
    tokens.push(text);
    scores.push(tokenizer.score(id));
    types.push(
      id === tokenizer.unkTokenId
        ? GGUF_TOKEN_TYPE.unknown
        : id === tokenizer.bosTokenId || tokenizer.eosTokenIds.includes(id)
          ? GGUF_TOKEN_TYPE.control
          : /^<0x[0-9A-Fa-f]{2}>$/.test(text)
            ? GGUF_TOKEN_TYPE.byte
            : GGUF_TOKEN_TYPE.normal,
    );
  }
  const metadata: GgufMetadata = {
    'general.architecture': 'llama',
    'tokenizer.ggml.model': 'llama',
    'tokenizer.ggml.tokens': tokens,
    'tokenizer.ggml.scores': scores,
    'tokenizer.ggml.token_type': types,
    'tokenizer.ggml.bos_token_id': tokenizer.bosTokenId,
    'tokenizer.ggml.eos_token_id': tokenizer.eosTokenIds[0] ?? 2,
    'tokenizer.ggml.unknown_token_id': tokenizer.unkTokenId,
    'tokenizer.ggml.add_bos_token': true,
    'tokenizer.ggml.add_eos_token': false,
  };
  return ggufTokenizerFiles(metadata, { file });
}
