export { AdamW, Adam, type AdamOptions } from './adamw.js';
export { SGD, type SgdOptions } from './sgd.js';
export { AdamW8bit, type AdamW8bitOptions } from './adamw-8bit.js';
export { decayMatricesOnly, type Optimizer, type OptimizerState, type NamedGradients, type WeightDecayFilter } from './optimizer.js';
