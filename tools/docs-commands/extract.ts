import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { parse } from 'shell-quote';

/** One simple command of a shell block in the docs, as a user would type it. */
export interface DocCommand {
  /** Markdown file (repository-relative) and line of the block line the command starts on. */
  readonly where: string;
  /** The command's words after `VAR=value` prefixes, with `$VAR` left as written. */
  readonly words: readonly string[];
  /** Folder (repository-relative, `''` for the root) the command runs in, after earlier `cd`s of the block. */
  readonly cwd: string;
  /** Variables set before it, by `VAR=value` prefixes and earlier `export`s of the block. */
  readonly env: Readonly<Record<string, string>>;
  /** The line as written. */
  readonly text: string;
}

const SHELL_FENCE = /^```(sh|bash|shell|console)\s*$/;

/** README.md and every Markdown file under docs/, repository-relative. */
export function docFiles(repoRoot: string): string[] {
  const out = ['README.md'];
  const walk = (dir: string): void => {
    for (const entry of readdirSync(join(repoRoot, dir), { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.name.endsWith('.md')) out.push(path);
    }
  };
  walk('docs');
  return out;
}

/**
 * The commands of every shell code block of `file`: `\`-continued lines joined, comments dropped,
 * `&&` / `;` / `|` split into simple commands; `cd` and `export` are followed through the block.
 */
export function commandsOf(repoRoot: string, file: string): DocCommand[] {
  const lines = readFileSync(join(repoRoot, file), 'utf8').split('\n');
  const out: DocCommand[] = [];
  let inBlock = false;
  let cwd = '';
  let env: Record<string, string> = {};
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] as string;
    if (!inBlock) {
      if (SHELL_FENCE.test(line.trim())) {
        inBlock = true;
        cwd = '';
        env = {};
      }
      continue;
    }
    if (line.trim().startsWith('```')) {
      inBlock = false;
      continue;
    }
    const start = i;
    let text = line;
    while (/\\\s*$/.test(text) && i + 1 < lines.length) text = `${text.replace(/\\\s*$/, ' ')}${lines[++i] as string}`;
    // `$VAR` stays as written: the env callback returns the reference itself.
    const tokens = parse(text, (name) => `$${name}`);
    let words: string[] = [];
    const saved: string[] = [];
    const flush = (): void => {
      const assigned: Record<string, string> = {};
      while (words.length > 0 && /^[A-Za-z_][A-Za-z0-9_]*=/.test(words[0] as string)) {
        const [name, ...value] = (words.shift() as string).split('=');
        assigned[name as string] = value.join('=');
      }
      if (words.length === 0) {
        Object.assign(env, assigned);
      } else if (words[0] === 'cd' && words[1] !== undefined) {
        cwd = join(cwd, words[1]);
      } else if (words[0] === 'export') {
        for (const word of words.slice(1)) {
          const [name, ...value] = word.split('=');
          if (value.length > 0) env[name as string] = value.join('=');
        }
      } else {
        out.push({ where: `${file}:${start + 1}`, words, cwd, env: { ...env, ...assigned }, text: text.trim() });
      }
      words = [];
    };
    let redirect = false;
    for (const token of tokens) {
      if (typeof token === 'string') {
        if (redirect)
          redirect = false; // the redirection's target, not an argument
        else words.push(token);
      } else if ('op' in token && token.op === 'glob') words.push(token.pattern);
      else if ('comment' in token) break;
      else if ('op' in token && /^[<>]|^\d?>/.test(token.op)) {
        if (/^\d+$/.test(words.at(-1) ?? '')) words.pop(); // `2>&1`: the fd is not an argument
        redirect = true;
      } else if ('op' in token) {
        flush();
        // A subshell's `cd` ends with it.
        if (token.op === '(') saved.push(cwd);
        if (token.op === ')') cwd = saved.pop() ?? cwd;
      }
    }
    flush();
  }
  return out;
}

/** `path` relative to the repository, or `undefined` when it points outside it. */
export function insideRepo(repoRoot: string, cwd: string, path: string): string | undefined {
  const rel = relative(repoRoot, join(repoRoot, cwd, path));
  return rel.startsWith('..') ? undefined : rel;
}
