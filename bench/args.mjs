// Command-line options of the bench scripts: node:util's parseArgs, with `--help` listing the
// options and a wrong option reported on one line with exit status 2 (no stack trace).
import { basename } from 'node:path';
import { parseArgs as nodeParseArgs } from 'node:util';

/** `parseArgs(config)` of node:util for a bench script; exits 0 after `--help`, 2 on a bad option. */
export function parseArgs(config) {
  const script = basename(process.argv[1] ?? 'bench.mjs');
  const options = Object.entries(config.options ?? {}).map(
    ([name, o]) =>
      `--${name}${o.type === 'string' ? ' <value>' : ''}${o.default === undefined || o.default === false ? '' : ` (default ${o.default})`}`,
  );
  if (process.argv.slice(2).some((a) => a === '--help' || a === '-h')) {
    console.log(`usage: node bench/${script} [options]\n  ${options.join('\n  ')}`);
    process.exit(0);
  }
  try {
    return nodeParseArgs(config);
  } catch (error) {
    console.error(`${script}: ${error.message}\n(options: ${options.join(', ')}; --help lists them)`);
    process.exit(2);
  }
}
