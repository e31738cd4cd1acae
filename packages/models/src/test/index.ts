/**
 * Test helpers for `@lora` packages (not part of the public API): backend setup and numeric
 * comparisons.
 *
 * @packageDocumentation
 */
export { setupTestBackend, type TestBackend } from './backend.js';
export { compareArrays, expectArraysClose, expectTensorsClose, type CloseReport } from './expect-close.js';
export { tinyConfigJson, weightShapes, randomWeights, randomCausalLM } from './random-model.js';
