// Link check of the built docs site (`pnpm run docs` writes site/): every local link, image and
// script of every page must resolve, fragments (#anchors) included. External links (http/https to
// other hosts) are not fetched: CI may be offline, and they are not the site's own files.
// Usage: node tools/docs-site/check-links.mjs [site-folder]   (exit 1 on a broken link)
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { LinkChecker, LinkState } from 'linkinator';

const dir = resolve(process.argv[2] ?? 'site');
if (!existsSync(resolve(dir, 'index.html'))) {
  console.error(`${dir}/index.html not found: build the site first (pnpm run docs)`);
  process.exit(2);
}

const checker = new LinkChecker();
const { links } = await checker.check({
  path: dir,
  recurse: true,
  checkFragments: true,
  concurrency: 32,
  // linkinator serves the folder on localhost; everything else is external.
  linksToSkip: async (link) => !/^https?:\/\/(localhost|127\.0\.0\.1)[:/]/.test(link),
});

const local = links.filter((l) => l.state !== LinkState.SKIPPED);
// linkinator reports a bad fragment once per check of it; one line per (link, page) is enough.
const broken = [...new Map(local.filter((l) => l.state === LinkState.BROKEN).map((l) => [`${l.url} ${l.parent}`, l])).values()];
const pages = new Set(local.map((l) => l.url.split('#')[0]).filter((u) => u.endsWith('.html')));
const strip = (url) => url.replace(/^https?:\/\/[^/]+\//, '');
for (const l of broken) {
  const why = (l.failureDetails ?? []).map((d) => (d instanceof Error ? d.message : `HTTP ${d.status ?? '?'}`)).join('; ');
  console.error(`broken: ${strip(l.url)} (status ${l.status ?? '?'}) on ${strip(l.parent ?? '?')}${why ? `: ${why}` : ''}`);
}
console.log(`link check: ${local.length} local links on ${pages.size} pages, ${broken.length} broken`);
process.exit(broken.length === 0 ? 0 : 1);
