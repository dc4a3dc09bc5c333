#!/usr/bin/env node
// Serves the browser example on 127.0.0.1 without the collector: this page at /example/ (every
// extension-less /example/* path is the same single-page app) and the built package from js/dist
// at /example/<file> (and /dist/<file>), like `footfall serve --example-dir examples/browser
// --example-dir js/dist` does. Build first:
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
    const file = path.match(/^\/(?:dist|example)\/([\w.]+\.(?:js|wasm))$/)?.[1];
    if (file) {
      const type = file.endsWith('.wasm') ? 'application/wasm' : 'text/javascript';
      res.writeHead(200, { 'content-type': type }).end(await readFile(join(dist, file)));
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
