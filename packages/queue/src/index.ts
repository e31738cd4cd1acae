/**
 * Scale-out for `@lora` on an existing distributed engine, BullMQ on Redis: `lora eval --queue`
 * splits an evaluation into shards (variant × slice of the test set) that `lora worker`s on any
 * machine generate; the coordinator merges them into the same report files as one process.
 *
 * @example
 * ```ts
 * import { runQueuedEval, runEvalWorker } from '@lora/queue';
 * ```
 *
 * @packageDocumentation
 */
export { redisConnection } from './connection.js';
export {
  runQueuedEval,
  runEvalWorker,
  type QueueProgress,
  type PreparedEval,
} from './eval-queue.js';
export { queuedJudgeModel, runJudgeWorker, type QueuedJudgeModel } from './judge-queue.js';
