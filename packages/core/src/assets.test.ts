import { createHash } from 'node:crypto';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { resolveAsset, type DownloadProgress } from './assets.js';
import { AssetNotFoundError } from './errors/asset-not-found-error.js';
import { InvalidArgumentError } from './errors/invalid-argument-error.js';
import { LoraError } from './errors/lora-error.js';

const SHA = 'a'.repeat(39) + '1';
const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');
const sha1 = (b: Buffer | string) => createHash('sha1').update(b).digest('hex');

/** Files of the fake Hub repos: name -> content. */
const repos: Record<string, { files: Record<string, string>; private?: boolean; fail?: string; truncate?: string }> = {
  'models/org/tiny': {
    files: { 'config.json': '{"model_type":"llama"}', 'nested/tokenizer.json': '{"v":1}', 'model.safetensors': 'x'.repeat(5000) },
  },
  'models/org/private': { files: { 'config.json': '{}' }, private: true },
  'models/org/broken': { files: { 'config.json': '{}', 'model.safetensors': 'y'.repeat(100) }, fail: 'model.safetensors' },
  'models/org/truncated': { files: { 'a.txt': 'ok', 'model.safetensors': 'z'.repeat(4000) }, truncate: 'model.safetensors' },
  'datasets/org/ds': { files: { 'train.jsonl': '{"text":"hi"}\n' } },
};
const lfs = new Map<string, string>(); // sha256 -> content

/** A tiny fake of the Hub HTTP API: /api/<type>s/<repo>/revision/<rev> and /<repo>/resolve/<sha>/<file>. */
function handle(req: IncomingMessage, res: ServerResponse): void {
  requests.push(`${req.method} ${req.url}`);
  const url = new URL(req.url ?? '/', 'http://x');
  const send = (status: number, body = '', headers: Record<string, string> = {}) => {
    res.writeHead(status, headers).end(body);
  };
  const cdn = /^\/cdn\/([0-9a-f]{64})$/.exec(url.pathname);
  if (cdn) {
    const body = lfs.get(cdn[1] as string) ?? '';
    return send(200, body, { 'content-length': String(body.length), etag: '"cdn-etag-ignored"' });
  }
  const api = /^\/api\/(model|dataset)s\/([\w.-]+\/[\w.-]+)\/revision\/([\w.-]+)$/.exec(url.pathname);
  const file = /^\/(datasets\/)?([\w.-]+\/[\w.-]+)\/resolve\/([0-9a-f]{40})\/(.+)$/.exec(url.pathname);
  const key = api ? `${api[1]}s/${api[2]}` : file ? `${file[1] ? 'datasets' : 'models'}/${file[2]}` : '';
  const repo = repos[key];
  if (repo === undefined) return send(404, '{"error":"Repository not found"}');
  if (repo.private && req.headers.authorization !== 'Bearer secret') return send(401, '{"error":"Invalid credentials"}');
  if (api) {
    return send(200, JSON.stringify({ id: api[2], sha: SHA, siblings: Object.keys(repo.files).map((rfilename) => ({ rfilename })) }), {
      'content-type': 'application/json',
    });
  }
  const name = decodeURIComponent(file?.[4] ?? '');
  const content = repo.files[name];
  if (content === undefined) return send(404);
  if (name === repo.fail) return send(500, 'boom');
  if (name === repo.truncate) {
    res.writeHead(200, { 'content-length': String(content.length), etag: `"${sha1(content)}"` });
    res.write(content.slice(0, 1000));
    setTimeout(() => res.destroy(), 20);
    return;
  }
  if (name.endsWith('.safetensors')) {
    // LFS file: redirect to the CDN, the blob name is X-Linked-Etag.
    lfs.set(sha256(content), content);
    return send(302, '', {
      location: `/cdn/${sha256(content)}`,
      'x-linked-etag': `"${sha256(content)}"`,
      'x-linked-size': String(content.length),
      'x-repo-commit': SHA,
    });
  }
  send(200, content, { etag: `"${sha1(content)}"`, 'content-length': String(content.length), 'x-repo-commit': SHA });
}

let server: Server;
let endpoint: string;
let requests: string[] = [];
let tmp: string;
let hfHome: string;

function listFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((d) => !d.isDirectory())
    .map((d) => relative(dir, join(d.parentPath, d.name)));
}

beforeAll(async () => {
  server = createServer(handle);
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((done) => server.close(() => done())));
beforeEach(() => {
  tmp = mkdtempSync(join(tmpdir(), 'lora-assets-'));
  hfHome = join(tmp, 'hf');
  requests = [];
  return () => rmSync(tmp, { recursive: true, force: true });
});

const offline = { allowDownload: false, env: {} } as const;

describe('resolveAsset: local places', () => {
  it('returns an explicit existing path, absolute', async () => {
    const dir = join(tmp, 'my-model');
    mkdirSync(dir);
    expect(await resolveAsset('anything', { kind: 'model', path: dir, ...offline })).toBe(dir);
    expect(await resolveAsset(dir, { kind: 'model', ...offline })).toBe(dir);
  });

  it('finds models/<name> and data/<name> under LORA_ASSETS_DIR, also for org/name ids', async () => {
    mkdirSync(join(tmp, 'models', 'tiny'), { recursive: true });
    mkdirSync(join(tmp, 'data', 'gsm8k'), { recursive: true });
    const env = { LORA_ASSETS_DIR: tmp };
    expect(await resolveAsset('tiny', { kind: 'model', allowDownload: false, env })).toBe(join(tmp, 'models', 'tiny'));
    expect(await resolveAsset('org/tiny', { kind: 'model', allowDownload: false, env })).toBe(join(tmp, 'models', 'tiny'));
    expect(await resolveAsset('gsm8k', { kind: 'dataset', allowDownload: false, env })).toBe(join(tmp, 'data', 'gsm8k'));
    expect(await resolveAsset('tiny', { kind: 'model', assetsDir: tmp, ...offline })).toBe(join(tmp, 'models', 'tiny'));
  });

  it.skipIf(!process.env.LORA_ASSETS_DIR)('finds stories260K through the real LORA_ASSETS_DIR', async () => {
    const dir = await resolveAsset('stories260K', { kind: 'model', allowDownload: false });
    expect(existsSync(join(dir, 'stories260K.bin'))).toBe(true);
  });

  it('finds a Hugging Face cache snapshot through refs/<revision> or a commit hash', async () => {
    const repo = join(hfHome, 'hub', 'models--org--cached');
    mkdirSync(join(repo, 'snapshots', SHA), { recursive: true });
    mkdirSync(join(repo, 'refs'), { recursive: true });
    writeFileSync(join(repo, 'refs', 'main'), SHA);
    const snapshot = join(repo, 'snapshots', SHA);
    expect(await resolveAsset('org/cached', { kind: 'model', hfHome, ...offline })).toBe(snapshot);
    expect(await resolveAsset('org/cached', { kind: 'model', revision: SHA, hfHome, ...offline })).toBe(snapshot);
    // HF_HUB_CACHE and HF_HOME are read from the environment.
    expect(await resolveAsset('org/cached', { kind: 'model', allowDownload: false, env: { HF_HUB_CACHE: join(hfHome, 'hub') } })).toBe(
      snapshot,
    );
    expect(await resolveAsset('org/cached', { kind: 'model', allowDownload: false, env: { HF_HOME: hfHome } })).toBe(snapshot);
    await expect(resolveAsset('org/cached', { kind: 'dataset', hfHome, ...offline })).rejects.toThrow(/datasets--org--cached/);
  });

  it('lists every place tried and a hint when nothing is found', async () => {
    const error = await resolveAsset('org/nowhere', { kind: 'model', hfHome, assetsDir: tmp, ...offline }).catch((e: unknown) => e);
    expect(AssetNotFoundError.isInstance(error)).toBe(true);
    const e = error as AssetNotFoundError;
    expect(e.searched).toEqual([
      expect.stringContaining('does not exist'),
      expect.stringContaining(join(tmp, 'models', 'org/nowhere')),
      expect.stringContaining(join(tmp, 'models', 'nowhere')),
      expect.stringContaining('models--org--nowhere/refs/main'),
      expect.stringContaining('skipped: downloads disabled'),
    ]);
    expect(e.message).toMatch(/HINT: set LORA_ASSETS_DIR .*pass an existing path/);
    expect(requests).toEqual([]);
  });

  it('refuses a name that climbs out of the assets models folder (../data/snips)', async () => {
    const assets = join(tmp, 'escape');
    mkdirSync(join(assets, 'models'), { recursive: true });
    mkdirSync(join(assets, 'data', 'snips'), { recursive: true });
    const error = await resolveAsset('../data/snips', { kind: 'model', assetsDir: assets, hfHome, ...offline }).catch((e: unknown) => e);
    expect(InvalidArgumentError.isInstance(error)).toBe(true);
    expect((error as Error).message).toBe(
      `Invalid argument \`name\`: "../data/snips" resolves to ${join(assets, 'data', 'snips')}, outside the assets models folder ${join(assets, 'models')}; an asset name is a folder inside it (or a Hugging Face repo id "org/name"). To use another folder, pass its path (which must exist).`,
    );
    await expect(resolveAsset('x/../../data/snips', { kind: 'model', assetsDir: assets, hfHome, ...offline })).rejects.toThrow(
      /outside the assets models folder/,
    );
    expect(requests).toEqual([]);
  });
});

describe('resolveAsset: Hub download (real HTTP server on 127.0.0.1)', () => {
  it('downloads into the huggingface_hub cache layout, then serves from the cache', async () => {
    const progress: DownloadProgress[] = [];
    const dir = await resolveAsset('org/tiny', { kind: 'model', hfHome, endpoint, env: {}, onProgress: (p) => progress.push(p) });
    const repo = join(hfHome, 'hub', 'models--org--tiny');
    expect(dir).toBe(join(repo, 'snapshots', SHA));
    expect(readFileSync(join(repo, 'refs', 'main'), 'utf8')).toBe(SHA);
    const files = repos['models/org/tiny']!.files;
    for (const [name, content] of Object.entries(files)) {
      expect(readFileSync(join(dir, name), 'utf8')).toBe(content);
      expect(lstatSync(join(dir, name)).isSymbolicLink()).toBe(true);
    }
    // Regular files are named by their git ETag, LFS files by X-Linked-Etag (sha256), links are relative.
    const big = files['model.safetensors']!;
    expect(readlinkSync(join(dir, 'model.safetensors'))).toBe(`../../blobs/${sha256(big)}`);
    expect(readlinkSync(join(dir, 'nested', 'tokenizer.json'))).toBe(`../../../blobs/${sha1(files['nested/tokenizer.json']!)}`);
    expect(listFiles(join(repo, 'blobs')).sort()).toEqual(
      [sha1(files['config.json']!), sha1(files['nested/tokenizer.json']!), sha256(big)].sort(),
    );
    expect(progress.map((p) => [p.file, p.index, p.count, p.bytes])).toEqual([
      ['config.json', 1, 3, files['config.json']!.length],
      ['nested/tokenizer.json', 2, 3, files['nested/tokenizer.json']!.length],
      ['model.safetensors', 3, 3, big.length],
    ]);

    requests = [];
    expect(await resolveAsset('org/tiny', { kind: 'model', hfHome, endpoint, env: {} })).toBe(dir);
    expect(requests).toEqual([]);
  });

  it('downloads data sets from the datasets/ routes', async () => {
    const dir = await resolveAsset('org/ds', { kind: 'dataset', endpoint, env: { HF_HOME: hfHome } });
    expect(dir).toBe(join(hfHome, 'hub', 'datasets--org--ds', 'snapshots', SHA));
    expect(readFileSync(join(dir, 'train.jsonl'), 'utf8')).toBe('{"text":"hi"}\n');
    expect(requests).toContain(`GET /datasets/org/ds/resolve/${SHA}/train.jsonl`);
  });

  it('sends HF_TOKEN as a Bearer token; 401 without it names HF_TOKEN in the hint', async () => {
    const error = await resolveAsset('org/private', { kind: 'model', hfHome, endpoint, env: {} }).catch((e: unknown) => e);
    expect(AssetNotFoundError.isInstance(error)).toBe(true);
    expect((error as Error).message).toMatch(/HTTP 401/);
    expect((error as Error).message).toMatch(/HINT: .*set HF_TOKEN/);
    const dir = await resolveAsset('org/private', { kind: 'model', hfHome, endpoint, env: { HF_TOKEN: 'secret' } });
    expect(readFileSync(join(dir, 'config.json'), 'utf8')).toBe('{}');
  });

  it('turns a 404 into AssetNotFoundError listing the Hub URL', async () => {
    const error = await resolveAsset('org/missing', { kind: 'model', hfHome, endpoint, env: {} }).catch((e: unknown) => e);
    expect(AssetNotFoundError.isInstance(error)).toBe(true);
    expect((error as AssetNotFoundError).searched.at(-1)).toBe(
      `Hugging Face Hub ${endpoint}/api/models/org/missing/revision/main (HTTP 404)`,
    );
    expect(listFiles(hfHome)).toEqual([]);
  });

  it.each(['broken', 'truncated'])('leaves nothing behind when a file download fails (%s)', async (name) => {
    const error = await resolveAsset(`org/${name}`, { kind: 'model', hfHome, endpoint, env: {} }).catch((e: unknown) => e);
    expect(LoraError.isInstance(error) || error instanceof Error).toBe(true);
    expect((error as Error).message).toMatch(name === 'broken' ? /HTTP 500/ : /truncated|terminated|aborted|closed/i);
    // The first file was downloaded before the failure; it is removed again, and no ref or snapshot exists.
    expect(listFiles(join(hfHome, 'hub'))).toEqual([]);
  });

  it('reports an unreachable Hub as one of the places tried', async () => {
    const closed = createServer();
    await new Promise<void>((done) => closed.listen(0, '127.0.0.1', done));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((done) => closed.close(() => done()));
    const error = await resolveAsset('org/tiny', { kind: 'model', hfHome, endpoint: `http://127.0.0.1:${port}`, env: {} }).catch(
      (e: unknown) => e,
    );
    expect(AssetNotFoundError.isInstance(error)).toBe(true);
    expect((error as AssetNotFoundError).searched.at(-1)).toMatch(/unreachable: .*ECONNREFUSED/);
  });
});
