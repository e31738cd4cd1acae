// Each platform-neutral package's `browser` entry bundles for platform=browser with no Node
// built-in, no unresolved module, and no export the Node entry lacks (tools/browser/check-bundle.mjs).
// What only the Node entry exports is listed here, so a new export lands in the browser entry too
// or is added to this list on purpose.
import { describe, expect, it } from 'vitest';
import { BROWSER_PACKAGES, checkPackage } from '../../../tools/browser/check-bundle.mjs';

const NODE_ONLY: Record<string, string[]> = {
  core: ['readRegularTextFile', 'resolveAsset', 'statRegularFile'],
  data: [
    'DEFAULT_MAX_LINE_BYTES',
    'DatasetInspection',
    'RecordReader',
    'fileTypeOf',
    'inspectDataset',
    'loadTokenizer',
    'readCsv',
    'readDataset',
    'readJson',
    'readJsonl',
    'readParquet',
    'recordStats',
  ],
  models: ['DEFAULT_MAX_SHARD_SIZE', 'loadModel', 'openCheckpoint', 'writeHfCheckpoint', 'writeJsonAtomic', 'writeShardedSafetensors'],
  peft: ['MERGED_DTYPES', 'MODEL_SIDE_FILES', 'saveMergedModel'],
  train: ['curvesWriter', 'jsonlLogger', 'sft', 'writeCurves'],
};

describe('browser entries', () => {
  it.each(BROWSER_PACKAGES)('@lora/%s bundles for the browser without node: imports', async (pkg) => {
    const { problems, exports, nodeOnly } = await checkPackage(pkg);
    expect(problems).toEqual([]);
    expect(exports).toBeGreaterThan(10);
    expect(nodeOnly).toEqual(NODE_ONLY[pkg]);
  });
});
