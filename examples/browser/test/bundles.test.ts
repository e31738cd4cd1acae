// Each platform-neutral package's `browser` entry bundles for platform=browser with no Node
// built-in, no unresolved module, and no export the Node entry lacks (tools/browser/check-bundle.mjs).
import { describe, expect, it } from 'vitest';
import { BROWSER_PACKAGES, checkPackage } from '../../../tools/browser/check-bundle.mjs';

describe('browser entries', () => {
  it.each(BROWSER_PACKAGES)('@lora/%s bundles for the browser without node: imports', async (pkg) => {
    const { problems, exports } = await checkPackage(pkg);
    expect(problems).toEqual([]);
    expect(exports).toBeGreaterThan(10);
  });
});
