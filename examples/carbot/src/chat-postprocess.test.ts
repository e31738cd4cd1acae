import { describe, expect, it } from 'vitest';
import { postprocess } from './chat-postprocess.js';
import { formatCarbotAnswer } from './generate.js';

describe('chat postprocess', () => {
  it('prints the action of a well-formed answer', () => {
    const answer = formatCarbotAnswer({ name: 'car.media.set_volume', args: { level: 7 } }, 'Volume set to 7.');
    expect(postprocess(answer)).toBe('action: {"name":"car.media.set_volume","args":{"level":7}}');
  });
  it('normalises aliases and says so', () => {
    const line = postprocess('<ACTION>{"name":"media.volume","args":{"vol":"seven"}}</ACTION>');
    expect(line.startsWith('action: {"name":"car.media.set_volume","args":{"level":7}}')).toBe(true);
    expect(line).toContain('normalised aliases');
  });
  it('says why nothing could be read', () => {
    expect(postprocess('Once upon a time')).toBe('action: none parsed (no ACTION block and no JSON object in the answer)');
  });
});
