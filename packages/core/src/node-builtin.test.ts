import * as path from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { LoraError } from './errors/lora-error.js';
import { nodeBuiltin } from './node-builtin.js';

describe('nodeBuiltin', () => {
  it("returns Node's module in Node", async () => {
    expect((await nodeBuiltin('path', 'test')).join).toBe(path.join);
    expect(typeof (await nodeBuiltin('fs/promises', 'test')).readFile).toBe('function');
  });

  it('throws a LoraError naming the feature and the byte-based API outside Node', async () => {
    // The check runs before the first await, so the stub is only needed for the call itself.
    vi.stubGlobal('process', undefined);
    const pending = nodeBuiltin('fs/promises', 'saveAdapter(dir)');
    vi.unstubAllGlobals();
    const error = await pending.catch((e: unknown) => e);
    expect(LoraError.isInstance(error)).toBe(true);
    expect((error as Error).message).toMatch(/^saveAdapter\(dir\) reads or writes files and needs Node\.js; in a browser use/);
  });
});
