#!/usr/bin/env node
// Counts the names each package exports from its public entry (packages/*/src/index.ts) and, for
// each, whether any other package, example, bench script or tool uses it (a whole-word match in
// their sources outside the exporting package). Extra entries (e.g. src/internal.ts) are counted
// apart. `node tools/api/count.mjs [--unused]` prints a table; `--json` prints the numbers.
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const root = fileURLToPath(new URL('../..', import.meta.url));
const args = new Set(process.argv.slice(2));

/** Names exported by one TypeScript entry file (its own `export` statements, not followed through). */
function exportedNames(file) {
  const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true);
  const names = [];
  for (const node of source.statements) {
    if (ts.isExportDeclaration(node)) {
      const from = node.moduleSpecifier?.text;
      // `export * from './x.js'` (the Node entry re-exporting the browser entry): follow local files.
      if (node.exportClause === undefined && from?.startsWith('.'))
        names.push(...exportedNames(join(dirname(file), from.replace(/\.js$/, '.ts'))));
      else if (node.exportClause === undefined) names.push(`* from ${from}`);
      else if (ts.isNamedExports(node.exportClause)) for (const e of node.exportClause.elements) names.push(e.name.text);
      else names.push(node.exportClause.name.text);
      continue;
    }
    const exported = ts.getModifiers?.(node)?.some((m) => m.kind === ts.SyntaxKind.ExportKeyword);
    if (!exported) continue;
    if (ts.isVariableStatement(node)) for (const d of node.declarationList.declarations) names.push(d.name.getText(source));
    else if (node.name !== undefined) names.push(node.name.text);
  }
  return names;
}

/** Source files under a folder (.ts, .mts, .mjs, .js), without dist/ and node_modules/. */
function sources(dir) {
  if (!existsSync(dir)) return [];
  const out = [];
  for (const entry of readdirSync(dir)) {
    if (entry === 'node_modules' || entry === 'dist' || entry.startsWith('.')) continue;
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) out.push(...sources(path));
    else if (/\.(m?ts|m?js)$/.test(entry)) out.push(path);
  }
  return out;
}

const packages = readdirSync(join(root, 'packages')).filter((p) => existsSync(join(root, 'packages', p, 'src', 'index.ts')));
const consumers = [
  ...packages.map((p) => ({ name: `@lora/${p}`, files: sources(join(root, 'packages', p, 'src')) })),
  ...readdirSync(join(root, 'examples')).map((e) => ({ name: `examples/${e}`, files: sources(join(root, 'examples', e, 'src')) })),
  { name: 'bench', files: sources(join(root, 'bench')) },
  { name: 'tools', files: sources(join(root, 'tools')) },
].map((c) => ({ ...c, text: c.files.map((f) => readFileSync(f, 'utf8')).join('\n') }));

const rows = [];
for (const p of packages) {
  const entries = ['index.ts', 'internal.ts'].filter((f) => existsSync(join(root, 'packages', p, 'src', f)));
  for (const entry of entries) {
    const names = exportedNames(join(root, 'packages', p, 'src', entry));
    const others = consumers.filter((c) => c.name !== `@lora/${p}`);
    const used = names.filter((n) => others.some((c) => new RegExp(`\\b${n.replace(/[$*./]/g, '\\$&')}\\b`).test(c.text)));
    rows.push({ package: `@lora/${p}`, entry, exported: names.length, used: used.length, unused: names.filter((n) => !used.includes(n)) });
  }
}
if (args.has('--json')) {
  console.log(JSON.stringify(rows, null, 2));
} else {
  const pub = rows.filter((r) => r.entry === 'index.ts');
  console.log(`${'package'.padEnd(16)}${'entry'.padEnd(13)}${'exported'.padStart(9)}${'used'.padStart(7)}`);
  for (const r of rows)
    console.log(`${r.package.padEnd(16)}${r.entry.padEnd(13)}${String(r.exported).padStart(9)}${String(r.used).padStart(7)}`);
  const sum = (k) => pub.reduce((s, r) => s + r[k], 0);
  console.log(`${'public total'.padEnd(29)}${String(sum('exported')).padStart(9)}${String(sum('used')).padStart(7)}`);
  if (args.has('--unused'))
    for (const r of rows) if (r.unused.length > 0) console.log(`\n${r.package} (${r.entry}) unused elsewhere: ${r.unused.join(', ')}`);
}
