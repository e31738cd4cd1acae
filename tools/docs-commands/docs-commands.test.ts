import { execFileSync } from 'node:child_process';
import { accessSync, constants, existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { buildProgram } from '../../packages/cli/src/program.js';
import { commandsOf, type DocCommand, docFiles, insideRepo } from './extract.js';

// Every command of README.md and docs/ must work as written. Each shell line is checked without
// running the long jobs it starts: `lora …` lines parse with the real CLI (command, options,
// choices, required options, arguments), `pnpm` lines name scripts and workspace packages that
// exist, and the repository files they name (recipes, scripts, sources) exist. The README's
// first-contact line (`pnpm lora generate` on SmolLM2) runs as written; the long ones (training
// presets) run in the examples' tests and CI.

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));

interface PackageJson {
  name?: string;
  scripts?: Record<string, string>;
}

type Command = ReturnType<typeof buildProgram>;

const readPackage = (dir: string): PackageJson => JSON.parse(readFileSync(join(repoRoot, dir, 'package.json'), 'utf8')) as PackageJson;

const workspace = new Map<string, PackageJson>();
for (const root of ['packages', 'examples']) {
  for (const entry of readdirSync(join(repoRoot, root), { withFileTypes: true })) {
    if (entry.isDirectory() && existsSync(join(repoRoot, root, entry.name, 'package.json'))) {
      const pkg = readPackage(join(root, entry.name));
      if (pkg.name !== undefined) workspace.set(pkg.name, pkg);
    }
  }
}
const rootPackage = readPackage('');
/** pnpm's own commands that the docs use (not package scripts). */
const PNPM_BUILTINS = new Set(['install', 'i', 'add', 'exec', 'dlx', 'run']);

/** Repository files named by a command: relative paths of sources, recipes and scripts. */
const REPO_FILE = /^(?!\/)(?!.*(?:^|\/)(?:dist|runs|data|node_modules)\/)[\w@.-]+\/[\w@.\-/]+\.(?:ya?ml|ts|mjs|sh|py)$/;

/** What is wrong with a `lora …` argument list, or `undefined` when the real CLI accepts it. */
function loraProblem(args: readonly string[]): string | undefined {
  let errors = '';
  const program = buildProgram({
    writeOut: () => {},
    writeErr: (text: string) => {
      errors += text;
    },
    env: {},
  } as unknown as Parameters<typeof buildProgram>[0]);
  let command: Command = program;
  let rest = [...args];
  for (;;) {
    const name = rest[0];
    const sub = command.commands.find((c) => c.name() === name || c.aliases().includes(name as string));
    if (sub === undefined) break;
    command = sub;
    rest = rest.slice(1);
  }
  if (command === program) return `"lora ${args[0] ?? ''}" is not a lora command`;
  if (command.commands.length > 0)
    return `"lora ${command.name()}" needs a subcommand (${command.commands.map((c) => c.name()).join(', ')})`;
  let parsed: { operands: string[]; unknown: string[] };
  try {
    parsed = command.parseOptions(rest);
  } catch (error) {
    // commander's errors (exitOverride) carry a `commander.*` code.
    if (String((error as { code?: unknown }).code).startsWith('commander.')) return errors.trim() || (error as Error).message;
    throw error;
  }
  if (parsed.unknown.length > 0) return `unknown option ${parsed.unknown[0]} for "lora ${command.name()}"`;
  const values = command.opts();
  for (const option of command.options) {
    if (option.mandatory && values[option.attributeName()] === undefined) return `"lora ${command.name()}" requires ${option.flags}`;
  }
  const registered = command.registeredArguments;
  const required = registered.filter((a) => a.required).length;
  const variadic = registered.some((a) => a.variadic);
  if (parsed.operands.length < required) return `"lora ${command.name()}" needs ${required} argument(s), got ${parsed.operands.length}`;
  if (!variadic && parsed.operands.length > registered.length) {
    return `"lora ${command.name()}" takes ${registered.length} argument(s), got ${parsed.operands.length}: ${parsed.operands.join(' ')}`;
  }
  return undefined;
}

/** The package.json scripts that `pnpm <script>` in `cwd` can run. */
function scriptsAt(cwd: string): Record<string, string> {
  let dir = cwd;
  for (;;) {
    if (existsSync(join(repoRoot, dir, 'package.json'))) return readPackage(dir).scripts ?? {};
    if (dir === '' || dir === '.') return rootPackage.scripts ?? {};
    dir = join(dir, '..');
    if (dir === '.') dir = '';
  }
}

/** What is wrong with `command`, `undefined` when nothing is, or `'unchecked'` for a command of another tool. */
function problem(command: DocCommand): string | undefined | 'unchecked' {
  const w = command.words;
  const missing = w
    .filter((word) => REPO_FILE.test(word) && !word.includes('$'))
    .find((word) => {
      const path = insideRepo(repoRoot, command.cwd, word);
      return path !== undefined && !existsSync(join(repoRoot, path));
    });
  if (missing !== undefined) return `names ${missing}, which does not exist (relative to ${command.cwd || 'the repository root'})`;
  const head = w[0] === 'sudo' ? w.slice(1) : w;
  if (head[0] === 'lora') return loraProblem(head.slice(1));
  if (head[0] === 'pnpm') {
    const args = head.slice(1).filter((a) => a !== '-s' && a !== '--silent');
    if (args[0] === '--filter') {
      const pkg = workspace.get(args[1] as string);
      if (pkg === undefined) return `no workspace package ${args[1]}`;
      const script = args[2] as string;
      return pkg.scripts?.[script] === undefined ? `${args[1]} has no script "${script}"` : undefined;
    }
    const script = args[0] as string;
    if (PNPM_BUILTINS.has(script)) return undefined;
    if (scriptsAt(command.cwd)[script] === undefined) return `no script "${script}" in the package.json of ${command.cwd || 'the root'}`;
    // `pnpm lora …` runs the CLI: its arguments must parse too.
    return script === 'lora' ? loraProblem(args.slice(1)) : undefined;
  }
  if (head[0] === 'npx' && head[1] === 'tsx') {
    const entry = head.slice(2).find((a) => !a.startsWith('-'));
    if (entry === undefined) return 'npx tsx without a file';
    const path = insideRepo(repoRoot, command.cwd, entry);
    return path !== undefined && existsSync(join(repoRoot, path)) ? undefined : `runs ${entry}, which does not exist`;
  }
  if (/^tools\/.+\.sh$/.test(head[0] as string)) {
    try {
      accessSync(join(repoRoot, head[0] as string), constants.X_OK);
      return undefined;
    } catch {
      return `${head[0]} is not an executable file`;
    }
  }
  return 'unchecked';
}

const commands = docFiles(repoRoot).flatMap((file) => commandsOf(repoRoot, file));

describe('the commands in README.md and docs/', () => {
  it('are found (the extraction itself works)', () => {
    expect(commands.length).toBeGreaterThan(40);
    expect(commands.some((c) => c.words[0] === 'pnpm' && c.words[1] === 'lora' && c.words[2] === 'train')).toBe(true);
    const counted = commands.map((c) => problem(c));
    const checked = counted.filter((p) => p !== 'unchecked').length;
    // Most lines are ours (lora, pnpm, tools/); other tools' lines (npm, python3, cp) are listed, not run.
    expect(checked).toBeGreaterThan(commands.length * 0.7);
  });

  it.each(commands.map((c) => [`${c.where} ${c.text}`, c] as const))('%s', (_, command) => {
    const found = problem(command);
    if (found !== 'unchecked') expect(found, `${command.where}: ${command.text}`).toBeUndefined();
  });

  it('the checker catches what would fail as written', () => {
    const at = (text: string, cwd = ''): DocCommand => ({ where: 'test', words: text.split(' '), cwd, env: {}, text });
    expect(problem(at('pnpm lora train examples/carbot/recipes/smoke.yaml --output runs/x --reseum'))).toMatch(/unknown option --reseum/);
    expect(problem(at('pnpm lora train examples/carbot/recipes/nope.yaml --output runs/x'))).toMatch(/nope\.yaml, which does not exist/);
    expect(problem(at('pnpm lora data inspect train.jsonl'))).toMatch(/requires --tokenizer/);
    expect(problem(at('pnpm lora generat --model stories260K'))).toMatch(/not a lora command/);
    expect(problem(at('pnpm --filter @lora-examples/carbot smokey'))).toMatch(/no script "smokey"/);
    expect(problem(at('pnpm chat'))).toMatch(/no script "chat"/);
    expect(problem(at('pnpm chat', 'examples/carbot'))).toBeUndefined();
    expect(problem(at('npx tsx src/main.ts', 'examples/nothing'))).toMatch(/does not exist/);
  });
});

const assets = process.env.LORA_ASSETS_DIR;
const built = existsSync(join(repoRoot, 'packages/cli/dist/bin.js'));

describe.skipIf(assets === undefined || !built)('README lines that run in seconds, run as written', () => {
  it('pnpm lora generate --model SmolLM2-135M-Instruct …', () => {
    const line = commands.find((c) => c.where.startsWith('README.md') && c.words[1] === 'lora' && c.words[2] === 'generate');
    expect(line, 'README.md shows a `pnpm lora generate` line').toBeDefined();
    const words = (line as DocCommand).words;
    const out = execFileSync(words[0] as string, words.slice(1), {
      cwd: repoRoot,
      env: { ...process.env, ...(line as DocCommand).env },
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    // 32 greedy tokens of a real instruct model continuing the README's prompt: words, not noise.
    expect(out.trim().split(/\s+/).length).toBeGreaterThan(10);
  });
});
