import type { JudgeUsage } from '../model.js';

/**
 * Prices by model id, in USD per million tokens; a key also matches ids that start with it
 * followed by `-` (dated snapshots).
 */
export type PriceTable = Readonly<
  Record<
    string,
    {
      /** USD per 1M input (prompt) tokens. */
      inputPerMillionUsd: number;
      /** USD per 1M output tokens. */
      outputPerMillionUsd: number;
    }
  >
>;

/** Price of one model in USD per million tokens. */
export type ModelPrice = PriceTable[string];

/**
 * List prices (standard tier, USD per 1M tokens) as published by OpenAI and Google in 2025.
 * Prices change: pass your own table through the `prices` option for accurate accounting.
 */
export const defaultPrices: PriceTable = {
  'gpt-4o-mini': { inputPerMillionUsd: 0.15, outputPerMillionUsd: 0.6 },
  'gpt-4o': { inputPerMillionUsd: 2.5, outputPerMillionUsd: 10 },
  'gpt-4.1': { inputPerMillionUsd: 2, outputPerMillionUsd: 8 },
  'gpt-4.1-mini': { inputPerMillionUsd: 0.4, outputPerMillionUsd: 1.6 },
  'gpt-4.1-nano': { inputPerMillionUsd: 0.1, outputPerMillionUsd: 0.4 },
  'gemini-2.0-flash': { inputPerMillionUsd: 0.1, outputPerMillionUsd: 0.4 },
  'gemini-2.5-flash': { inputPerMillionUsd: 0.3, outputPerMillionUsd: 2.5 },
  'gemini-2.5-pro': { inputPerMillionUsd: 1.25, outputPerMillionUsd: 10 },
};

/** Finds the price of `modelId`: exact key, else the longest key `k` with `modelId` starting `k-`. */
export function findPrice(modelId: string, prices: PriceTable = defaultPrices): ModelPrice | undefined {
  const exact = prices[modelId];
  if (exact !== undefined) return exact;
  let best: string | undefined;
  for (const key of Object.keys(prices)) {
    if (modelId.startsWith(`${key}-`) && (best === undefined || key.length > best.length)) best = key;
  }
  return best === undefined ? undefined : prices[best];
}

/** Cost of `usage` in USD at `price` (0 when the price is unknown). */
export function costOf(usage: JudgeUsage, price: ModelPrice | undefined): number {
  if (price === undefined) return 0;
  return (usage.inputTokens * price.inputPerMillionUsd + usage.outputTokens * price.outputPerMillionUsd) / 1e6;
}
