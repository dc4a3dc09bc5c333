#!/usr/bin/env node
// Removes code of the wasm-bindgen glue (js/pkg/footfall.js) that this package never runs, so the
// bundle does not carry it (−211 bytes gzip -9 of dist/footfall.js). Run by scripts/build.sh
// right after wasm-bindgen:
//   - `initSync(module)`: the pre-0.2.93 calling convention and its deprecation warning, and
//     the compilation of bytes (src/index.ts always calls `initSync({ module })` with a compiled
//     `WebAssembly.Module`);
//   - `passStringToWasm0(arg, malloc, realloc)` without `realloc`: the glue passes
//     `wasm.__wbindgen_realloc` at every call;
//   - `FootfallHost#free()` and `[Symbol.dispose]` (also from footfall.d.ts): the driver never
//     frees its host explicitly (`destroy()` stops it; the memory goes when the page drops the
//     tracker, through the glue's `FinalizationRegistry`, as before).
//   - the cached `DataView`'s staleness test through `buffer.detached` (with a fallback for
//     browsers without it): a grown memory has a new `buffer`, so comparing the two buffers,
//     which the fallback already did, is the whole test.
// Each edit must match exactly once: a wasm-bindgen whose glue differs (a version not matching
// Cargo.lock) fails the build here instead of shipping a half-edited file.
import { readFileSync, writeFileSync } from 'node:fs';

const file = process.argv[2] ?? new URL('../pkg/footfall.js', import.meta.url).pathname;
let glue = readFileSync(file, 'utf8');

const edits = [
  [
    `    if (module !== undefined) {
        if (Object.getPrototypeOf(module) === Object.prototype) {
            ({module} = module)
        } else {
            console.warn('using deprecated parameters for \`initSync()\`; pass a single object instead')
        }
    }
`,
    '    ({ module } = module);\n',
  ],
  [
    `    if (!(module instanceof WebAssembly.Module)) {
        module = new WebAssembly.Module(module);
    }
`,
    '',
  ],
  [
    `    __destroy_into_raw() {
        const ptr = this.__wbg_ptr;
        this.__wbg_ptr = 0;
        FootfallHostFinalization.unregister(this);
        return ptr;
    }
    free() {
        const ptr = this.__destroy_into_raw();
        wasm.__wbg_footfallhost_free(ptr, 0);
    }
`,
    '',
  ],
  [
    'if (Symbol.dispose) FootfallHost.prototype[Symbol.dispose] = FootfallHost.prototype.free;\n',
    '',
  ],
  [
    'if (cachedDataViewMemory0 === null || cachedDataViewMemory0.buffer.detached === true || (cachedDataViewMemory0.buffer.detached === undefined && cachedDataViewMemory0.buffer !== wasm.memory.buffer)) {',
    'if (cachedDataViewMemory0 === null || cachedDataViewMemory0.buffer !== wasm.memory.buffer) {',
  ],
  [
    `    if (realloc === undefined) {
        const buf = cachedTextEncoder.encode(arg);
        const ptr = malloc(buf.length, 1) >>> 0;
        getUint8ArrayMemory0().subarray(ptr, ptr + buf.length).set(buf);
        WASM_VECTOR_LEN = buf.length;
        return ptr;
    }
`,
    '',
  ],
];

for (const [from, to] of edits) {
  const at = glue.indexOf(from);
  if (at < 0 || glue.indexOf(from, at + 1) >= 0) {
    console.error(`trim-glue: ${file}: expected exactly one copy of:\n${from}`);
    process.exit(1);
  }
  glue = glue.slice(0, at) + to + glue.slice(at + from.length);
}
// The types follow: no `free()` / `[Symbol.dispose]()` on `FootfallHost`.
const dtsFile = file.replace(/\.js$/, '.d.ts');
let dts = readFileSync(dtsFile, 'utf8');
const methods = '    free(): void;\n    [Symbol.dispose](): void;\n';
if (dts.split(methods).length !== 2) {
  console.error(`trim-glue: ${dtsFile}: expected exactly one copy of:\n${methods}`);
  process.exit(1);
}
dts = dts.replace(methods, '');
if (/passStringToWasm0\((?![^)]*__wbindgen_realloc)[^)]*\)(?! \{)/.test(glue)) {
  console.error(`trim-glue: ${file}: a passStringToWasm0 call without realloc`);
  process.exit(1);
}
writeFileSync(file, glue);
writeFileSync(dtsFile, dts);
