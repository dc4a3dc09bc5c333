#!/usr/bin/env node
// Serves the browser example on 127.0.0.1 (the built package from js/dist at /dist/, this page
// at /example/ — every /example/* path is the same single-page app). Build first:
//   js/scripts/build.sh && node examples/browser/serve.mjs [--port 8090] [--endpoint http://127.0.0.1:8080]
import http from 'node:http';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = fileURLToPath(new URL('.', import.meta.url));
const dist = join(here, '../../js/dist');
const arg = (name, fallback) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : fallback;
};
const port = Number(arg('--port', 0));
const endpoint = arg('--endpoint', 'http://127.0.0.1:8080');

const server = http.createServer(async (req, res) => {
  const path = new URL(req.url, 'http://x').pathname;
  try {
    if (path.startsWith('/dist/') && /^[\w.]+$/.test(path.slice(6))) {
      const type = path.endsWith('.wasm') ? 'application/wasm' : 'text/javascript';
      res.writeHead(200, { 'content-type': type }).end(await readFile(join(dist, path.slice(6))));
    } else if (path === '/' || path.startsWith('/example')) {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(await readFile(join(here, 'index.html')));
    } else {
      res.writeHead(404).end('not found');
    }
  } catch {
    res.writeHead(404).end('not found (did you run js/scripts/build.sh?)');
  }
});
server.listen(port, '127.0.0.1', () => {
  const { port } = server.address();
  console.log(`example: http://127.0.0.1:${port}/example/?endpoint=${encodeURIComponent(endpoint)}&writeKey=demo`);
});
