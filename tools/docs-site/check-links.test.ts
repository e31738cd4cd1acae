import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

// tools/docs-site/check-links.mjs on small sites written here: it must pass a good one and name
// every broken page link, image and #fragment of a bad one, without fetching external links.
const script = fileURLToPath(new URL('check-links.mjs', import.meta.url));
const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function site(pages: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'lora-links-'));
  dirs.push(dir);
  for (const [name, html] of Object.entries(pages)) {
    mkdirSync(join(dir, name, '..'), { recursive: true });
    writeFileSync(join(dir, name), html);
  }
  return dir;
}

function check(dir: string): { status: number | null; out: string } {
  const r = spawnSync(process.execPath, [script, dir], { encoding: 'utf8' });
  return { status: r.status, out: r.stdout + r.stderr };
}

const svg = '<svg xmlns="http://www.w3.org/2000/svg" width="1" height="1"/>';

describe('tools/docs-site/check-links.mjs', () => {
  it('passes a site whose local links, images and fragments all resolve', () => {
    const dir = site({
      'index.html': '<a href="documents/guide.html#usage">guide</a> <a href="https://example.invalid/x">external</a>',
      'documents/guide.html': '<h2 id="usage">Usage</h2><img src="../media/plot.svg"><a href="../index.html">home</a>',
      'media/plot.svg': svg,
    });
    const { status, out } = check(dir);
    expect(out).toContain('0 broken');
    expect(status).toBe(0);
  });

  it('fails on a missing page, a missing image and a missing fragment, naming each', () => {
    const dir = site({
      'index.html': '<a href="documents/guide.html#nowhere">a</a> <a href="documents/gone.html">b</a>',
      'documents/guide.html': '<h2 id="usage">Usage</h2><img src="../media/missing.svg">',
    });
    const { status, out } = check(dir);
    expect(status).toBe(1);
    expect(out).toMatch(/broken: .*documents\/gone\.html/);
    expect(out).toMatch(/broken: .*media\/missing\.svg/);
    expect(out).toMatch(/broken: .*guide\.html#nowhere/);
    expect(out).toContain('3 broken');
  });

  it('refuses a folder that is not a built site', () => {
    const { status, out } = check(site({ 'other.html': '' }));
    expect(status).toBe(2);
    expect(out).toContain('build the site first');
  });
});
