// Drives the page in real headless Chromium (Debian's /usr/bin/chromium via playwright-core):
// builds it, serves it and stories260K on loopback, clicks Train, checks that the loss falls,
// captures the two downloads and loads them with @lora/peft in Node as a PEFT adapter.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { resolveAsset } from '@lora/core';
import { loadModel, writeHfCheckpoint } from '@lora/models';
import { openCheckpoint } from '@lora/models';
import { setupTestBackend } from '@lora/models/test';
import { loadPeftModel } from '@lora/peft';
import * as tf from '@tensorflow/tfjs';
import { type BrowserContext, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildPage } from '../build.mjs';
import { startServer } from '../serve.mjs';

const CHROMIUM = process.env.LORA_CHROMIUM ?? '/usr/bin/chromium';
/** The Python with transformers + PEFT that checks the adapter (tools/browser/check_peft_adapter.py); skipped without. */
const PARITY_PYTHON = process.env.LORA_PARITY_PYTHON ?? '/opt/parity/bin/python';
const assets = process.env.LORA_ASSETS_DIR;
// Opt-in (`pnpm test:browser`, a CI job of its own): it starts a browser. Once asked for, a missing
// Chromium fails the test instead of skipping it.
const skipReason =
  process.env.LORA_BROWSER_TEST !== '1'
    ? 'run it with pnpm test:browser'
    : assets === undefined
      ? 'LORA_ASSETS_DIR is unset (point it at ../shared)'
      : undefined;
if (skipReason !== undefined) console.warn(`[lora browser] skipped: ${skipReason}`);

/** Flags for a quiet, offline, sandbox-free headless run (CI runs as root in a container). */
const FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
const STEPS = 30;

let dir: string;
let context: BrowserContext | undefined;
let server: { url: string; close: () => Promise<void> } | undefined;

describe.skipIf(skipReason !== undefined)(`examples/browser in headless Chromium${skipReason ? ` (skipped: ${skipReason})` : ''}`, () => {
  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) throw new Error(`no Chromium at ${CHROMIUM}: apt-get install chromium, or set LORA_CHROMIUM`);
    dir = await mkdtemp(join(tmpdir(), 'lora-browser-'));
    const { outDir } = await buildPage(join(dir, 'page'));
    server = await startServer({ root: outDir, modelDir: await resolveAsset('stories260K', { kind: 'model' }) });
    // A fresh profile (user-data-dir) per run.
    context = await chromium.launchPersistentContext(join(dir, 'profile'), {
      executablePath: CHROMIUM,
      headless: true,
      args: FLAGS,
      acceptDownloads: true,
    });
    await setupTestBackend();
  });
  afterAll(async () => {
    await context?.close();
    await server?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('trains LoRA steps on wasm, the loss falls, and the downloaded adapter loads as PEFT', async () => {
    const page = await (context as BrowserContext).newPage();
    const messages: string[] = [];
    page.on('console', (m) => void messages.push(`${m.type()}: ${m.text()}`));
    page.on('pageerror', (e) => void messages.push(`pageerror: ${e.message}`));
    await page.goto(`${(server as { url: string }).url}?backend=wasm`);
    await page.waitForSelector('body[data-status="ready"], body[data-status="error"]', { timeout: 120_000 });
    expect(await page.textContent('#log'), messages.join('\n')).not.toContain('error');
    await page.fill('#steps', String(STEPS));
    const started = Date.now();
    await page.click('#train');
    await page.waitForSelector('body[data-status="done"], body[data-status="error"]', { timeout: 480_000 });
    const log = (await page.textContent('#log')) ?? '';
    expect(await page.getAttribute('body', 'data-status'), `${log}\n${messages.join('\n')}`).toBe('done');
    const result = JSON.parse((await page.getAttribute('#log', 'data-result')) as string) as {
      backend: string;
      losses: number[];
      seconds: number;
    };
    const first = result.losses[0] as number;
    const last = result.losses[STEPS - 1] as number;
    process.stdout.write(
      `[lora browser] ${result.backend}: ${STEPS} steps in ${result.seconds.toFixed(1)} s (page ${((Date.now() - started) / 1000).toFixed(1)} s), loss ${first.toFixed(4)} → ${last.toFixed(4)}\n`,
    );
    expect(result.backend).toBe('wasm');
    expect(result.losses).toHaveLength(STEPS);
    expect(result.losses.every(Number.isFinite)).toBe(true);
    expect(last).toBeLessThan(first - 0.5);
    await page.screenshot({ path: join(dir, 'page.png'), fullPage: true });
    if (process.env.LORA_BROWSER_SCREENSHOT) await writeFile(process.env.LORA_BROWSER_SCREENSHOT, await readFile(join(dir, 'page.png')));

    // The two downloads, as a user would save them, into one folder.
    const adapterDir = join(dir, 'adapter');
    for (const id of ['download-config', 'download-weights']) {
      const [download] = await Promise.all([page.waitForEvent('download'), page.click(`#${id}`)]);
      await download.saveAs(join(adapterDir, download.suggestedFilename()));
    }
    const config = JSON.parse(await readFile(join(adapterDir, 'adapter_config.json'), 'utf8')) as Record<string, unknown>;
    expect(config).toMatchObject({ peft_type: 'LORA', r: 8, lora_alpha: 16, base_model_name_or_path: 'stories260K', inference_mode: true });

    // Node loads the adapter onto the same base: it must change the base's logits.
    const { model } = await loadModel(await resolveAsset('stories260K', { kind: 'model' }));
    const ids = tf.tensor2d([[1, 403, 407, 261, 378]], undefined, 'int32');
    const base = (await model.forward(ids).array()) as number[][][];
    const peft = await loadPeftModel(model, adapterDir);
    expect(peft.loraLayers().size).toBeGreaterThan(0);
    const adapted = (await peft.forward(ids).array()) as number[][][];
    const diff = Math.max(...base[0]!.flatMap((row, t) => row.map((v, k) => Math.abs(v - adapted[0]![t]![k]!))));
    expect(diff).toBeGreaterThan(1e-3);
    ids.dispose();
    peft.dispose();

    // The real PEFT loads the same files onto the same base and gives the same logits.
    if (!existsSync(PARITY_PYTHON)) {
      process.stdout.write(`[lora browser] PEFT check skipped: no ${PARITY_PYTHON}\n`);
      return;
    }
    const checkpoint = await openCheckpoint(await resolveAsset('stories260K', { kind: 'model' }));
    await writeHfCheckpoint(join(dir, 'base'), checkpoint);
    await checkpoint.weights.close();
    await writeFile(join(dir, 'logits.json'), JSON.stringify({ input_ids: [[1, 403, 407, 261, 378]], logits: adapted }));
    const check = spawnSync(
      PARITY_PYTHON,
      ['tools/browser/check_peft_adapter.py', '--base', join(dir, 'base'), '--adapter', adapterDir, '--logits', join(dir, 'logits.json')],
      { encoding: 'utf8', cwd: fileURLToPath(new URL('../../..', import.meta.url)) },
    );
    process.stdout.write(
      `[lora browser] ${check.stdout}${check.stderr
        .split('\n')
        .filter((l) => /error/i.test(l))
        .join('\n')}`,
    );
    expect(check.status, check.stderr).toBe(0);
  });
});
