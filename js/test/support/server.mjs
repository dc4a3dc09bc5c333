// Test servers on 127.0.0.1:0.
//
// `startStatic()` serves the built package (js/dist), the test pages (js/test/pages) and the
// example page (examples/browser); an HTML page requested with `?csp=<policy>` is served with that
// Content-Security-Policy header, one requested with `?cacheable` with `no-cache` rather than
// `no-store` (so the back/forward cache may keep it). `startCollector()` is a recording stand-in for a
// Segment-compatible collector: it records every request that reaches it (method, path, headers,
// parsed body) and answers POST /v1/batch through a replaceable `respond` hook (default: 200 with
// `{accepted: n}`), so tests can fail requests on purpose. GET /v1/settings serves
// `state.settings` (`{body, etag}`: 200 with an ETag, 304 for a matching If-None-Match; `null`,
// the default: 404, like a Segment-compatible collector without a privacy control plane). The real collector
// (`footfall serve`) is used by the e2e test in collector.test.mjs.
import http from 'node:http';
import { readFile } from 'node:fs/promises';
import { extname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';

export const jsDir = fileURLToPath(new URL('../../', import.meta.url));
export const repoDir = join(jsDir, '..');

const types = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.wasm': 'application/wasm',
  '.json': 'application/json',
  '.css': 'text/css',
};

function listen(server) {
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      resolve(`http://127.0.0.1:${port}`);
    });
  });
}

function closeServer(server) {
  server.closeAllConnections?.();
  return new Promise((resolve) => server.close(() => resolve()));
}

/** Serves files under the given url-prefix → directory mounts. */
export async function startStatic(
  mounts = { '/dist/': join(jsDir, 'dist'), '/pages/': join(jsDir, 'test/pages'), '/example/': join(repoDir, 'examples/browser') },
) {
  const server = http.createServer(async (req, res) => {
    const path = decodeURIComponent(new URL(req.url, 'http://x').pathname);
    for (const [prefix, dir] of Object.entries(mounts)) {
      if (!path.startsWith(prefix)) continue;
      const file = normalize(join(dir, path.slice(prefix.length) || 'index.html'));
      if (!file.startsWith(dir)) break;
      try {
        const body = await readFile(file);
        // Any origin may load the package (a sandboxed iframe's origin is opaque: `null`).
        const headers = {
          'content-type': types[extname(file)] ?? 'application/octet-stream',
          'cache-control': 'no-store',
          'access-control-allow-origin': '*',
        };
        const query = new URL(req.url, 'http://x').searchParams;
        const csp = query.get('csp');
        if (csp && extname(file) === '.html') headers['content-security-policy'] = csp;
        // `?cacheable`: an HTML page the back/forward cache may keep (`no-store` pages it never does).
        if (query.has('cacheable') && extname(file) === '.html') headers['cache-control'] = 'no-cache';
        res.writeHead(200, headers);
        res.end(body);
      } catch {
        res.writeHead(404).end('not found');
      }
      return;
    }
    res.writeHead(404).end('not found');
  });
  const url = await listen(server);
  return { url, close: () => closeServer(server) };
}

/** A recording collector. */
export async function startCollector() {
  const state = {
    /** Every request: {method, path, headers, text, body, status}. */
    requests: [],
    /** Messages of batches answered with 2xx, in arrival order. */
    messages: [],
    /** (request, parsedBody) => {status, body?, headers?}; default accepts everything. */
    respond: null,
    /** The privacy settings served at GET /v1/settings: {body (object), etag}, or null (404). */
    settings: null,
  };
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      let body = null;
      try {
        body = text ? JSON.parse(text) : null;
      } catch {
        body = null;
      }
      const path = new URL(req.url, 'http://x').pathname;
      const entry = { method: req.method, path, headers: req.headers, text, body, status: 0, at: Date.now() };
      state.requests.push(entry);
      const cors = { 'access-control-allow-origin': req.headers.origin ?? '*', 'access-control-allow-credentials': 'true' };
      if (req.method === 'OPTIONS') {
        entry.status = 204;
        res.writeHead(204, { ...cors, 'access-control-allow-methods': 'POST', 'access-control-allow-headers': '*' });
        res.end();
        return;
      }
      if (req.method === 'GET' && path === '/v1/settings') {
        const served = state.settings;
        const headers = { ...cors, 'access-control-expose-headers': 'ETag', 'cache-control': 'no-cache' };
        if (!served) entry.status = 404;
        else if (req.headers['if-none-match'] === served.etag) entry.status = 304;
        else entry.status = 200;
        if (served) headers.etag = served.etag;
        res.writeHead(entry.status, { ...headers, 'content-type': 'application/json' });
        res.end(entry.status === 200 ? JSON.stringify(served.body) : '');
        return;
      }
      if (req.method !== 'POST' || path !== '/v1/batch' || !body || !Array.isArray(body.batch)) {
        entry.status = 400;
        res.writeHead(400, { ...cors, 'content-type': 'application/json' }).end('{"error":"bad request"}');
        return;
      }
      const answer = state.respond?.(entry, body) ?? { status: 200 };
      entry.status = answer.status;
      if (answer.status >= 200 && answer.status < 300) state.messages.push(...body.batch);
      const payload = answer.body ?? JSON.stringify({ accepted: answer.status < 300 ? body.batch.length : 0, rejected: [] });
      res.writeHead(answer.status, { ...cors, 'content-type': 'application/json', ...(answer.headers ?? {}) });
      res.end(payload);
    });
  });
  const url = await listen(server);
  return {
    url,
    state,
    /** Resolves when `predicate(state)` holds, polling every 25 ms; rejects after `ms`. */
    async waitFor(predicate, ms = 10_000, what = 'collector condition') {
      const end = Date.now() + ms;
      while (Date.now() < end) {
        if (predicate(state)) return;
        await new Promise((r) => setTimeout(r, 25));
      }
      throw new Error(`timed out after ${ms} ms waiting for ${what}; received ${state.messages.length} messages`);
    },
    close: () => closeServer(server),
  };
}
