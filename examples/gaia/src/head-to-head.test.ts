import { describe, expect, it } from 'vitest';
import { headToHead, headToHeadMarkdown } from './head-to-head.js';

describe('headToHead', () => {
  const base = [
    { id: 'a', category: 'x', correct: false },
    { id: 'b', category: 'x', correct: true },
    { id: 'c', category: 'y', correct: true },
    { id: 'd', category: 'y', correct: false },
    { id: 'only-base', category: 'y', correct: true },
  ];
  const adapter = [
    { id: 'a', category: 'x', correct: true },
    { id: 'b', category: 'x', correct: false },
    { id: 'c', category: 'y', correct: true },
    { id: 'd', category: 'y', correct: false },
    { id: 'only-adapter', category: 'y', correct: true },
  ];
  it('counts wins, losses and both kinds of ties over shared ids', () => {
    const h = headToHead(base, adapter);
    expect(h).toMatchObject({ examples: 4, wins: 1, losses: 1, ties: 2, bothRight: 1, bothWrong: 1 });
    expect(h.byCategory.x).toEqual({ examples: 2, wins: 1, losses: 1, ties: 0, bothRight: 0, bothWrong: 0 });
    expect(h.byCategory.y).toEqual({ examples: 2, wins: 0, losses: 0, ties: 2, bothRight: 1, bothWrong: 1 });
  });
  it('renders a markdown table', () => {
    const md = headToHeadMarkdown(headToHead(base, adapter), { base: 'base', adapter: 'lora' });
    expect(md.startsWith('\n## Head-to-head: lora vs base')).toBe(true);
    expect(md).toContain('| all | 4 | 1 | 2 (1 both right, 1 both wrong) | 1 |');
    expect(md).toContain('| x | 2 | 1 | 0 (0 both right, 0 both wrong) | 1 |');
  });
});
