import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { explainXnnStatus, filterXnnStatusMessages } from './wasm-messages.js';

describe('XNNPACK status messages of the wasm backend', () => {
  it('explains the exact message and ignores any other text', () => {
    const line = explainXnnStatus(
      'XNN status for xnn_create_fully_connected_nc_f32 is not successful. Got status 6. Use -c dbg to see XNN logs.',
    );
    expect(line).toMatch(/xnn_create_fully_connected_nc_f32 \(status 6: out of memory\).*wasm heap is nearly full/);
    expect(explainXnnStatus('XNN status for xnn_setup_*_nd_f32 is not successful. Got status 4. Use -c dbg to see XNN logs.')).toMatch(
      /unsupported parameter.*more than 6 dimensions/,
    );
    expect(explainXnnStatus('XNN status for something else')).toBeUndefined();
    expect(explainXnnStatus('Got status 6')).toBeUndefined();
  });

  it('prints the real module message once, explained, and lets other warnings through', async () => {
    const seen: unknown[][] = [];
    const original = console.warn;
    console.warn = (...args: unknown[]) => void seen.push(args);
    try {
      filterXnnStatusMessages(); // before the wasm module binds console.warn
      await import('@tensorflow/tfjs-backend-wasm');
      expect(await tf.setBackend('wasm')).toBe(true);
      // A 7-D broadcast add: XNNPACK supports at most 6 dimensions, so the kernel prints its status each call.
      const a = tf.ones([1, 1, 1, 1, 1, 1, 2]);
      const b = tf.ones([2]);
      for (let i = 0; i < 3; i++) tf.add(a, b).dataSync();
      console.warn('another warning', 1);
      tf.dispose([a, b]);
    } finally {
      console.warn = original;
    }
    expect(seen).toHaveLength(2);
    expect(String(seen[0]?.[0])).toMatch(/^lora: the wasm backend's XNNPACK failed in xnn_setup_\*_nd_f32 \(status 4/);
    expect(seen[1]).toEqual(['another warning', 1]);
  });
});
