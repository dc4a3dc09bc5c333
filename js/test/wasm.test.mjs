// Core behaviour compiled to wasm32: the bindings crate's wasm-bindgen-test suites, in Node and
// in headless Chromium (js/scripts/wasm-test.sh; the first run compiles std for wasm: minutes).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { jsDir } from './support/server.mjs';

for (const mode of ['node', 'browser']) {
  test(`wasm-bindgen-test suites pass in ${mode === 'node' ? 'Node' : 'headless Chromium'}`, () => {
    const run = spawnSync(join(jsDir, 'scripts/wasm-test.sh'), [mode], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
    const output = `${run.stdout}\n${run.stderr}`;
    assert.equal(run.status, 0, output.slice(-4000));
    const passed = [...output.matchAll(/test result: ok\. (\d+) passed/g)].reduce((n, m) => n + Number(m[1]), 0);
    assert.ok(passed >= 15, `expected the wasm suites to run (passed: ${passed})\n${output.slice(-2000)}`);
  });
}
