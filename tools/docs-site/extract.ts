import { readFileSync } from 'node:fs';

/** One TypeScript code block of a Markdown page. */
export interface CodeBlock {
  /** 1-based line of the opening fence. */
  readonly line: number;
  /** The block's source, without the fences. */
  readonly code: string;
}

const OPEN = /^```(ts|typescript)\s*$/;

/** The ```ts / ```typescript blocks of a Markdown file, in order. */
export function typescriptBlocks(file: string): CodeBlock[] {
  const lines = readFileSync(file, 'utf8').split('\n');
  const blocks: CodeBlock[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (!OPEN.test((lines[i] as string).trim())) continue;
    const start = i;
    const body: string[] = [];
    for (i++; i < lines.length && (lines[i] as string).trim() !== '```'; i++) body.push(lines[i] as string);
    if (i === lines.length) throw new Error(`${file}:${start + 1}: code block is never closed`);
    blocks.push({ line: start + 1, code: body.join('\n') });
  }
  return blocks;
}

/**
 * The blocks as one ES module, in page order (the page reads as one file), each preceded by a
 * comment naming its line so that an error points back at the page.
 */
export function moduleOf(file: string, blocks: readonly CodeBlock[], trailer = ''): string {
  return `${blocks.map((b) => `// ${file}:${b.line}\n${b.code}`).join('\n\n')}\n${trailer}`;
}
