import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { resolveAsset } from './assets.js';
import type { DownloadProgress } from './assets/hub-download.js';
import { AssetNotFoundError } from './errors/asset-not-found-error.js';
import { InvalidArgumentError } from './errors/invalid-argument-error.js';
import { LoraError } from './errors/lora-error.js';

const PARITY_PYTHON = '/opt/parity/bin/python';
const SHA = 'a'.repeat(39) + '1';
const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');
/** The git blob id: the Hub's ETag of a regular (non-LFS) file. */
const gitOid = (b: string) =>
  createHash('sha1')
    .update(`blob ${Buffer.byteLength(b)}\0${b}`)
    .digest('hex');
const TOKEN = 'hf_secret';

/** Files of the loopback Hub's repos: name -> content. `*.safetensors` are LFS files (served by the CDN). */
const repos: Record<string, { files: Record<string, string>; private?: boolean; gated?: boolean; fail?: string; truncate?: string }> = {
  'models/org/tiny': {
    files: { 'config.json': '{"model_type":"llama"}', 'nested/tokenizer.json': '{"v":1}', 'model.safetensors': 'x'.repeat(5000) },
  },
  'models/org/gated': { files: { 'config.json': '{"gated":true}' }, gated: true },
  'models/org/private': { files: { 'config.json': '{}', 'model.safetensors': 'p'.repeat(300) }, private: true },
  'models/org/broken': { files: { 'config.json': '{}', 'model.safetensors': 'y'.repeat(100) }, fail: 'model.safetensors' },
  'models/org/truncated': { files: { 'a.txt': 'ok', 'model.safetensors': 'z'.repeat(4000) }, truncate: 'model.safetensors' },
  'datasets/org/ds': { files: { 'train.jsonl': '{"text":"hi"}\n' } },
};
const isLfs = (file: string) => file.endsWith('.safetensors');
const lfs = new Map<string, string>(); // sha256 -> content

/** The tree/paths-info entry of a file, as the Hub's API returns it. */
function treeEntry(path: string, content: string, lastCommit: boolean) {
  const size = Buffer.byteLength(content);
  const pointer = `version https://git-lfs.github.com/spec/v1\noid sha256:${sha256(content)}\nsize ${size}\n`;
  return {
    type: 'file',
    path,
    size,
    oid: gitOid(isLfs(path) ? pointer : content),
    ...(isLfs(path) ? { lfs: { oid: sha256(content), size, pointerSize: pointer.length } } : {}),
    ...(lastCommit ? { lastCommit: { id: 'b'.repeat(40), title: 'older commit', date: '2024-01-01T00:00:00.000Z' } } : {}),
  };
}

/** Sends `content` honoring a `Range: bytes=a-b` header (206 + Content-Range) like the Hub and its CDN. */
function sendBody(req: IncomingMessage, res: ServerResponse, content: string, headers: Record<string, string>): void {
  const range = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '');
  const body = Buffer.from(content);
  const common = { ...headers, 'accept-ranges': 'bytes' };
  if (range) {
    const start = Number(range[1]);
    const end = range[2] === '' ? body.length - 1 : Math.min(Number(range[2]), body.length - 1);
    const part = body.subarray(start, end + 1);
    res.writeHead(206, { ...common, 'content-range': `bytes ${start}-${end}/${body.length}`, 'content-length': String(part.length) });
    res.end(req.method === 'HEAD' ? undefined : part);
    return;
  }
  res.writeHead(200, { ...common, 'content-length': String(body.length) });
  res.end(req.method === 'HEAD' ? undefined : body);
}

/**
 * A loopback Hub speaking the routes `@huggingface/hub` and huggingface_hub use:
 * `GET /api/<type>s/<repo>/revision/<rev>`, `GET /api/<type>s/<repo>/tree/<rev>` (paginated with a
 * `Link: <…>; rel="next"` header), `POST /api/<type>s/<repo>/paths-info/<rev>`, and
 * `GET|HEAD /[datasets/]<repo>/resolve/<rev>/<file>`: regular files answer with `ETag` (the git blob
 * id), LFS files with a 302 to the CDN (another origin) carrying `X-Linked-Etag` (sha256) and
 * `X-Linked-Size`; both send `X-Repo-Commit`. Errors are JSON with `X-Error-Code`, as on the Hub.
 */
async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
  requests.push(`${req.method} ${req.url}`);
  const url = new URL(req.url ?? '/', 'http://x');
  const error = (status: number, code: string, message: string) => {
    res.writeHead(status, { 'content-type': 'application/json', 'x-error-code': code }).end(JSON.stringify({ error: message }));
  };
  const api = /^\/api\/(model|dataset)s\/([\w.-]+\/[\w.-]+)\/(revision|tree|paths-info)\/([\w.%-]+)$/.exec(url.pathname);
  const file = /^\/(datasets\/)?([\w.-]+\/[\w.-]+)\/resolve\/([\w.%-]+)\/(.+)$/.exec(url.pathname);
  const key = api ? `${api[1]}s/${api[2]}` : file ? `${file[1] ? 'datasets' : 'models'}/${file[2]}` : '';
  const repo = repos[key];
  if (repo === undefined) return error(404, 'RepoNotFound', 'Repository not found');
  if (repo.private && req.headers.authorization !== `Bearer ${TOKEN}`) return error(401, 'RepoNotFound', 'Invalid username or password.');
  const revision = decodeURIComponent(api?.[4] ?? file?.[3] ?? '');
  if (revision !== 'main' && revision !== SHA) return error(404, 'RevisionNotFound', `Invalid rev id: ${revision}`);
  const json = (body: unknown, headers: Record<string, string> = {}) => {
    res.writeHead(200, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(body));
  };
  const names = Object.keys(repo.files);
  if (api?.[3] === 'revision') return json({ _id: 'x', id: api[2], sha: SHA, private: repo.private === true });
  if (api?.[3] === 'tree') {
    const dirs = [...new Set(names.filter((n) => n.includes('/')).map((n) => n.slice(0, n.lastIndexOf('/'))))];
    const entries = [
      ...dirs.map((path) => ({ type: 'directory', path, oid: gitOid(path), size: 0 })),
      ...names.map((n) => treeEntry(n, repo.files[n] as string, false)),
    ];
    const cursor = Number(url.searchParams.get('cursor') ?? 0);
    const next = new URL(req.url ?? '/', endpoint);
    next.searchParams.set('cursor', String(cursor + 2));
    return json(entries.slice(cursor, cursor + 2), cursor + 2 < entries.length ? { link: `<${next.href}>; rel="next"` } : {});
  }
  if (api?.[3] === 'paths-info') {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const { paths } = JSON.parse(Buffer.concat(chunks).toString()) as { paths: string[] };
    return json(paths.filter((p) => p in repo.files).map((p) => treeEntry(p, repo.files[p] as string, true)));
  }
  if (repo.gated && req.headers.authorization !== `Bearer ${TOKEN}`) {
    return error(
      403,
      'GatedRepo',
      'Access to model org/gated is restricted. You must have access to it and be authenticated to access it.',
    );
  }
  const name = decodeURIComponent(file?.[4] ?? '');
  const content = repo.files[name];
  if (content === undefined) return error(404, 'EntryNotFound', `${name} does not exist on "${revision}"`);
  if (name === repo.fail && req.headers.range === undefined) return error(500, 'InternalError', 'boom');
  if (name === repo.truncate && req.headers.range === undefined) {
    res.writeHead(200, { 'content-length': String(content.length), etag: `"${gitOid(content)}"`, 'x-repo-commit': SHA });
    res.write(content.slice(0, 1000));
    setTimeout(() => res.destroy(), 20);
    return;
  }
  if (isLfs(name)) {
    lfs.set(sha256(content), content);
    res.writeHead(302, {
      location: `${cdnEndpoint}/cdn/${sha256(content)}?token=signed`,
      etag: `"${treeEntry(name, content, false).oid}"`,
      'x-linked-etag': `"${sha256(content)}"`,
      'x-linked-size': String(content.length),
      'x-repo-commit': SHA,
    });
    res.end();
    return;
  }
  sendBody(req, res, content, { etag: `"${gitOid(content)}"`, 'x-repo-commit': SHA });
}

/** The CDN (another origin): serves LFS content by sha256, records whether a token reached it. */
function handleCdn(req: IncomingMessage, res: ServerResponse): void {
  requests.push(`CDN ${req.method} ${req.url}${req.headers.authorization === undefined ? '' : ' (with authorization)'}`);
  const cdn = /^\/cdn\/([0-9a-f]{64})$/.exec(new URL(req.url ?? '/', 'http://x').pathname);
  const content = cdn ? lfs.get(cdn[1] as string) : undefined;
  if (content === undefined) {
    res.writeHead(404).end();
    return;
  }
  sendBody(req, res, content, { etag: '"cdn-etag-ignored"' });
}

let server: Server;
let cdn: Server;
let endpoint: string;
let cdnEndpoint: string;
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
  server = createServer((req, res) => void handle(req, res));
  cdn = createServer(handleCdn);
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  await new Promise<void>((done) => cdn.listen(0, '127.0.0.1', done));
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  cdnEndpoint = `http://127.0.0.1:${(cdn.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise<void>((done) => server.close(() => done()));
  await new Promise<void>((done) => cdn.close(() => done()));
});
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
  it('downloads into the huggingface_hub cache layout (HF_ENDPOINT, HF_HOME), then serves from the cache', async () => {
    const progress: DownloadProgress[] = [];
    const env = { HF_ENDPOINT: endpoint, HF_HOME: hfHome };
    const dir = await resolveAsset('org/tiny', { kind: 'model', env, onProgress: (p) => progress.push(p) });
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
    expect(readlinkSync(join(dir, 'nested', 'tokenizer.json'))).toBe(`../../../blobs/${gitOid(files['nested/tokenizer.json']!)}`);
    expect(listFiles(join(repo, 'blobs')).sort()).toEqual(
      [gitOid(files['config.json']!), gitOid(files['nested/tokenizer.json']!), sha256(big)].sort(),
    );
    expect(progress.map((p) => [p.file, p.index, p.count, p.bytes])).toEqual([
      ['config.json', 1, 3, files['config.json']!.length],
      ['nested/tokenizer.json', 2, 3, files['nested/tokenizer.json']!.length],
      ['model.safetensors', 3, 3, big.length],
    ]);

    // The LFS file came from the CDN; the tree listing was read page by page (Link: rel="next").
    expect(requests).toContain(`CDN GET /cdn/${sha256(big)}?token=signed`);
    expect(requests.filter((r) => r.startsWith('GET /api/models/org/tiny/tree/'))).toHaveLength(2);

    requests = [];
    expect(await resolveAsset('org/tiny', { kind: 'model', env })).toBe(dir);
    expect(await resolveAsset('org/tiny', { kind: 'model', revision: SHA, env })).toBe(dir);
    expect(requests).toEqual([]);
  });

  it('downloads only the files `include` keeps, and a commit revision without writing a ref', async () => {
    const dir = await resolveAsset('org/tiny', {
      kind: 'model',
      revision: SHA,
      hfHome,
      endpoint,
      env: {},
      include: (f) => f.endsWith('.json'),
    });
    expect(listFiles(dir).sort()).toEqual(['config.json', join('nested', 'tokenizer.json')]);
    expect(existsSync(join(hfHome, 'hub', 'models--org--tiny', 'refs'))).toBe(false);
    expect(requests.some((r) => r.includes('model.safetensors'))).toBe(false);
  });

  it.skipIf(!existsSync(PARITY_PYTHON))(
    'writes a cache the real huggingface_hub reads offline (tools/hub-cache/check_hf_cache.py)',
    async () => {
      await resolveAsset('org/tiny', { kind: 'model', hfHome, endpoint, env: {} });
      await resolveAsset('org/ds', { kind: 'dataset', hfHome, endpoint, env: {} });
      const check = (type: string, repo: string, revision: string, files: Record<string, string>) => {
        const script = fileURLToPath(new URL('../../../tools/hub-cache/check_hf_cache.py', import.meta.url));
        const args = [script, join(hfHome, 'hub'), type, repo, revision, ...Object.keys(files)];
        const out = JSON.parse(
          execFileSync(PARITY_PYTHON, args, { encoding: 'utf8', env: { ...process.env, HF_HUB_DISABLE_TELEMETRY: '1' } }),
        );
        expect(out.files).toEqual(Object.fromEntries(Object.entries(files).map(([name, content]) => [name, sha256(content)])));
        expect(out.scan.revisions).toEqual([{ commit: SHA, refs: ['main'], files: Object.keys(files).sort() }]);
      };
      const tiny = repos['models/org/tiny']!.files;
      check('model', 'org/tiny', 'main', tiny);
      check('model', 'org/tiny', SHA, tiny);
      check('dataset', 'org/ds', 'main', repos['datasets/org/ds']!.files);
    },
  );

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
    requests = [];
    const dir = await resolveAsset('org/private', { kind: 'model', hfHome, endpoint, env: { HF_TOKEN: TOKEN } });
    expect(readFileSync(join(dir, 'config.json'), 'utf8')).toBe('{}');
    expect(readFileSync(join(dir, 'model.safetensors'), 'utf8')).toBe('p'.repeat(300));
    // The token goes to the Hub only, never to the CDN the LFS file redirects to.
    expect(requests.filter((r) => r.startsWith('CDN')).length).toBeGreaterThan(0);
    expect(requests.filter((r) => r.includes('(with authorization)'))).toEqual([]);
  });

  it('a gated repo (metadata public, files 403) also names HF_TOKEN in the hint, and leaves nothing behind', async () => {
    const error = await resolveAsset('org/gated', { kind: 'model', hfHome, endpoint, env: {} }).catch((e: unknown) => e);
    expect(AssetNotFoundError.isInstance(error)).toBe(true);
    expect((error as AssetNotFoundError).searched.at(-1)).toBe(
      `Hugging Face Hub ${endpoint}/org/gated/resolve/${SHA}/config.json (HTTP 403)`,
    );
    expect((error as Error).message).toMatch(/HINT: the repo is private, gated or does not exist: set HF_TOKEN/);
    expect(listFiles(hfHome)).toEqual([]);
    const dir = await resolveAsset('org/gated', { kind: 'model', hfHome, endpoint, env: { HF_TOKEN: TOKEN } });
    expect(readFileSync(join(dir, 'config.json'), 'utf8')).toBe('{"gated":true}');
  });

  it("sends @huggingface/hub's console.debug lines to stderr, not stdout, and restores console.debug", async () => {
    const debug = console.debug;
    const errors = vi.spyOn(console, 'error').mockImplementation(() => {});
    try {
      await resolveAsset('org/ds', { kind: 'dataset', hfHome, endpoint, env: {} });
      expect(errors.mock.calls.map((c) => String(c[0]))).toEqual([expect.stringMatching(/^Downloading train\.jsonl to .*\.incomplete$/)]);
    } finally {
      errors.mockRestore();
    }
    expect(console.debug).toBe(debug);
  });

  it('refuses a token that is not a Hugging Face token, naming HF_TOKEN', async () => {
    const error = await resolveAsset('org/private', { kind: 'model', hfHome, endpoint, env: { HF_TOKEN: 'secret' } }).catch(
      (e: unknown) => e,
    );
    expect(InvalidArgumentError.isInstance(error)).toBe(true);
    expect((error as Error).message).toMatch(/starts with "hf_".*HF_TOKEN/);
    expect(requests).toEqual([]);
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
    expect((error as Error).message).toMatch(
      name === 'broken' ? /model\.safetensors failed: boom\. URL: .*\/resolve\// : /truncated|terminated|aborted|closed/i,
    );
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
