import { pairwiseMessages } from '../prompts/prompts.js';
import { PairwiseVerdictSchema } from '../prompts/schemas.js';
import type { JudgeClient } from '../runtime/judge-client.js';

/** One item to compare: the same prompt answered by system A and system B. */
export interface PairwiseItem {
  /** Item id. */
  id: string;
  /** The user prompt. */
  prompt: string;
  /** Answer of system A. */
  a: string;
  /** Answer of system B. */
  b: string;
  /** Reference answer, when known (shown to the judge). */
  reference?: string;
}

/** Result of judging one item in both orders. */
export interface PairwiseResult {
  /** Item id. */
  id: string;
  /** Final outcome: agreement of both orders, else `tie`. */
  winner: 'a' | 'b' | 'tie';
  /** Whether both orders agreed. */
  consistent: boolean;
  /** Outcome with A shown first. */
  orderAB: 'a' | 'b' | 'tie';
  /** Outcome with B shown first. */
  orderBA: 'a' | 'b' | 'tie';
  /** Judge's reason with A shown first. */
  reasonAB: string;
  /** Judge's reason with B shown first. */
  reasonBA: string;
  /** Calls answered from the cache (0, 1 or 2). */
  cachedCalls: number;
}

/**
 * Judges one item blind in both orders (A first, then B first). An order that disagrees with the
 * other, including one tie against one win, makes the item a tie, which cancels position bias.
 *
 * @example
 * ```ts
 * const r = await judgePairwise(client, { id: '1', prompt, a: answerA, b: answerB });
 * r.winner; // 'a' | 'b' | 'tie'
 * ```
 */
export async function judgePairwise(client: JudgeClient, item: PairwiseItem, options: { criteria?: string } = {}): Promise<PairwiseResult> {
  const ask = (response1: string, response2: string) =>
    client.completeJson({
      messages: pairwiseMessages({
        prompt: item.prompt,
        response1,
        response2,
        ...(item.reference === undefined ? {} : { reference: item.reference }),
        ...(options.criteria === undefined ? {} : { criteria: options.criteria }),
      }),
      responseFormat: { name: 'pairwise_verdict', schema: PairwiseVerdictSchema },
    });
  // Both orders settle before the item does, so a run's accounting never misses a call still in flight.
  const [settledAB, settledBA] = await Promise.allSettled([ask(item.a, item.b), ask(item.b, item.a)]);
  if (settledAB.status === 'rejected') throw settledAB.reason;
  if (settledBA.status === 'rejected') throw settledBA.reason;
  const ab = settledAB.value;
  const ba = settledBA.value;
  const orderAB: PairwiseOutcome = ab.value.winner === 'response_1' ? 'a' : ab.value.winner === 'response_2' ? 'b' : 'tie';
  const orderBA: PairwiseOutcome = ba.value.winner === 'response_1' ? 'b' : ba.value.winner === 'response_2' ? 'a' : 'tie';
  const consistent = orderAB === orderBA;
  return {
    id: item.id,
    winner: consistent ? orderAB : 'tie',
    consistent,
    orderAB,
    orderBA,
    reasonAB: ab.value.reason,
    reasonBA: ba.value.reason,
    cachedCalls: Number(ab.cached) + Number(ba.cached),
  };
}

/** Outcome of one order, in terms of the systems. */
export type PairwiseOutcome = PairwiseResult['winner'];
