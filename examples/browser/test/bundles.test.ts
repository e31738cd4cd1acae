// Each platform-neutral package's `browser` entry bundles for platform=browser with no Node
// built-in, no unresolved module, and no export the Node entry lacks (tools/browser/check-bundle.mjs).
// What only the Node entry exports is listed here, so a new export lands in the browser entry too
// or is added to this list on purpose.
import { describe, expect, it } from 'vitest';
import { BROWSER_PACKAGES, checkPackage } from '../../../tools/browser/check-bundle.mjs';

const NODE_ONLY: Record<string, string[]> = {
  core: ['resolveAsset'],
  data: ['RecordReader', 'loadTokenizer', 'readDataset'],
  models: ['loadModel', 'openCheckpoint', 'writeHfCheckpoint'],
  peft: ['MERGED_DTYPES', 'saveMergedModel'],
  train: ['curvesWriter', 'jsonlLogger', 'sft', 'writeCurves'],
};

/** The same for the `@lora/<pkg>/internal` entries the other packages' browser builds import. */
const INTERNAL_NODE_ONLY: Record<string, string[]> = {
  core: ['readRegularTextFile', 'statRegularFile'],
  data: ['inspectDataset', 'readCsv', 'readJsonl', 'recordStats'],
  models: ['writeJsonAtomic', 'writeShardedSafetensors'],
  peft: [],
  train: ['acquireRunLock', 'claimRunFolder'],
};

describe('browser entries', () => {
  it.each(BROWSER_PACKAGES)('@lora/%s bundles for the browser without node: imports', async (pkg) => {
    const { problems, exports, nodeOnly } = await checkPackage(pkg);
    expect(problems).toEqual([]);
    expect(exports).toBeGreaterThan(5);
    expect(nodeOnly).toEqual(NODE_ONLY[pkg]);
  });
  it.each(BROWSER_PACKAGES)('@lora/%s/internal bundles for the browser without node: imports', async (pkg) => {
    const { problems, exports, nodeOnly } = await checkPackage(pkg, { entry: 'internal' });
    expect(problems).toEqual([]);
    expect(exports).toBeGreaterThan(0);
    expect(nodeOnly).toEqual(INTERNAL_NODE_ONLY[pkg]);
  });
});
