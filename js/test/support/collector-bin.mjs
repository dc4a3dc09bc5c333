// Starts the reference collector (`footfall serve`) as a child process on 127.0.0.1:0 with a
// temporary --data dir. The binary is $FOOTFALL_BIN, else built/located with
// `cargo build -p footfall-collector --bin footfall` (a no-op when it is up to date).
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoDir } from './server.mjs';

export function collectorBinary() {
  if (process.env.FOOTFALL_BIN) return process.env.FOOTFALL_BIN;
  const out = execFileSync('cargo', ['build', '-p', 'footfall-collector', '--bin', 'footfall', '--message-format=json'], {
    cwd: repoDir,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    maxBuffer: 256 * 1024 * 1024,
  });
  for (const line of out.split('\n').reverse()) {
    if (!line.includes('"executable"')) continue;
    const msg = JSON.parse(line);
    if (msg.reason === 'compiler-artifact' && msg.target?.name === 'footfall' && msg.executable) return msg.executable;
  }
  throw new Error('cargo build did not report the footfall binary');
}

/** `config`: optional YAML of a collector config file (e.g. a project's initial privacy settings). */
export async function startRealCollector({ writeKey, adminToken, config }) {
  const data = mkdtempSync(join(tmpdir(), 'footfall-data-'));
  const args = ['serve', '--data', data, '--listen', '127.0.0.1:0', '--write-key', writeKey, '--admin-token', adminToken];
  if (config) {
    writeFileSync(join(data, 'footfall.yaml'), config);
    args.push('--config', join(data, 'footfall.yaml'));
  }
  const child = spawn(
    collectorBinary(),
    args,
    { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, RUST_LOG: process.env.RUST_LOG ?? 'warn' } },
  );
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const url = await new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`collector did not start in 60 s: ${stderr}`)), 60_000);
    child.stdout.on('data', (d) => {
      out += d;
      const m = out.match(/listening on (http:\/\/[0-9.:]+)/);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`collector exited with ${code}: ${stderr}`));
    });
  });
  return {
    url,
    async close() {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
        if (child.exitCode === null) child.kill('SIGKILL');
      }
      rmSync(data, { recursive: true, force: true });
    },
  };
}
