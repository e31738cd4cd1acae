#!/usr/bin/env node
// Serves the built page (dist/) and stories260K's two files on loopback. The model comes from
// the asset resolver (LORA_ASSETS_DIR, else the Hugging Face cache); it is never copied into the
// project. Cross-origin isolation headers let tfjs's wasm backend use threads.
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createServer } from 'node:http';
import { dirname, extname, join, normalize, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const TYPES = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.map': 'application/json', '.wasm': 'application/wasm' };
/** The model files the page fetches, under /models/stories260K/. */
export const MODEL_FILES = ['stories260K.bin', 'tok512.bin'];

/**
 * Starts the server on 127.0.0.1 (`port` 0: any free port). `modelDir` holds stories260K.bin and
 * tok512.bin. Returns its URL and `close`.
 */
export async function startServer({ root = join(here, 'dist'), modelDir, port = 0 }) {
  const server = createServer(async (request, response) => {
    const path = decodeURIComponent(new URL(request.url ?? '/', 'http://localhost').pathname);
    const model = path.match(/^\/models\/stories260K\/([^/]+)$/);
    let file;
    if (model !== null) file = MODEL_FILES.includes(model[1]) ? join(modelDir, model[1]) : undefined;
    else {
      const candidate = normalize(join(root, path === '/' ? 'index.html' : path));
      file = candidate.startsWith(root + sep) ? candidate : undefined;
    }
    const info = file === undefined ? undefined : await stat(file).catch(() => undefined);
    if (file === undefined || info === undefined || !info.isFile()) {
      response.writeHead(404, { 'content-type': 'text/plain' }).end(`not found: ${path}\n`);
      return;
    }
    response.writeHead(200, {
      'content-type': TYPES[extname(file)] ?? 'application/octet-stream',
      'content-length': info.size,
      'cross-origin-opener-policy': 'same-origin',
      'cross-origin-embedder-policy': 'require-corp',
    });
    createReadStream(file).pipe(response);
  });
  await new Promise((resolve) => server.listen(port, '127.0.0.1', resolve));
  const { port: bound } = server.address();
  return { url: `http://127.0.0.1:${bound}/`, close: () => new Promise((resolve) => server.close(resolve)) };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { resolveAsset } = await import('@lora/core');
  const modelDir = await resolveAsset('stories260K', { kind: 'model' });
  const port = Number(process.env.PORT ?? 8080);
  const { url } = await startServer({ modelDir, port });
  console.log(`serving ${url} (model from ${modelDir}); Ctrl-C stops`);
}
