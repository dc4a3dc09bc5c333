#!/usr/bin/env node
// Gives the wasm-bindgen glue (js/pkg/footfall.js) the short import and export names that
// `wasm-opt --minify-imports-and-exports-and-modules` gave the optimized module (a, b, c, ...
// instead of `__wbg_env_8d516e74de313cb7`, `__wbindgen_add_to_stack_pointer`,
// "./footfall_bg.js"): the names are in the .wasm and in the JS, and the hashed ones do not
// compress. Run by scripts/build.sh after wasm-opt, before esbuild bundles the glue:
//   node scripts/rename-glue.mjs pkg/footfall.js pkg/names.json dist/footfall_bg.wasm
// names.json is what wasm-opt (binaryen ≥ 117) printed: one JSON object
// `{"imports": [[module, name, new], ...], "exports": [[name, new], ...]}` per run of the pass
// (--converge runs it again on the renamed module); the runs are composed here.
// Every name must be found where the glue uses it (an import's key in `__wbg_get_imports`, an
// export as `wasm.<name>`), and no old name may be left: a wasm-bindgen whose glue differs fails
// the build here instead of shipping a glue that calls exports the module no longer has.
import { readFileSync, writeFileSync } from 'node:fs';

const [file, namesFile, wasmFile] = process.argv.slice(2);
const fail = (msg) => {
  console.error(`rename-glue: ${file}: ${msg}`);
  process.exit(1);
};

// The runs printed, in order, composed into old name → final name.
const text = readFileSync(namesFile, 'utf8');
const runs = [];
for (let i = text.search(/\S/); i >= 0 && i < text.length; ) {
  let depth = 0, end = i;
  for (; end < text.length; end++) {
    if (text[end] === '{') depth++;
    else if (text[end] === '}' && --depth === 0) break;
  }
  runs.push(JSON.parse(text.slice(i, end + 1)));
  const next = text.slice(end + 1).search(/\S/);
  i = next < 0 ? -1 : end + 1 + next;
}
if (runs.length === 0) fail(`${namesFile} holds no names`);
const modules = new Set(), imports = new Map(), exports = new Map();
for (const [i, run] of runs.entries()) {
  for (const [module, name, to] of run.imports) {
    if (i === 0) {
      imports.set(name, to);
      modules.add(module);
    } else {
      // A later run sees the names the one before gave.
      const old = [...imports].find(([, now]) => now === name);
      if (!old) fail(`${namesFile}: run ${i + 1} renames an unknown import ${name}`);
      imports.set(old[0], to);
    }
  }
  for (const [name, to] of run.exports) {
    const old = i === 0 ? [name] : [...exports].find(([, now]) => now === name);
    if (!old) fail(`${namesFile}: run ${i + 1} renames an unknown export ${name}`);
    exports.set(old[0], to);
  }
}
// The module name the pass gives is not printed: it is read from the optimized module, whose
// imports and exports must be exactly the final names.
if (modules.size !== 1) fail(`expected one import module, got ${[...modules.keys()].join(', ')}`);
const wasm = wasmNames(readFileSync(wasmFile));
const wasmModules = new Set(wasm.imports.map(([module]) => module));
if (wasmModules.size !== 1) fail(`${wasmFile}: expected one import module`);
const [wasmModule] = wasmModules;
const same = (a, b) => a.length === b.length && a.every((x) => b.includes(x));
if (!same(wasm.imports.map(([, name]) => name), [...imports.values()])) fail(`${wasmFile}: imports differ from ${namesFile}`);
if (!same(wasm.exports, [...exports.values()])) fail(`${wasmFile}: exports differ from ${namesFile}`);

const escape = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
let glue = readFileSync(file, 'utf8');
const replace = (pattern, to, what, min, max) => {
  const n = glue.match(new RegExp(pattern, 'g'))?.length ?? 0;
  if (n < min || n > max) fail(`expected ${min === max ? min : `${min}–${max}`} of ${what}, found ${n}`);
  glue = glue.replace(new RegExp(pattern, 'g'), to);
};
for (const module of modules) {
  replace(`"${escape(module)}": import0,`, `"${wasmModule}": import0,`, `the import module ${module}`, 1, 1);
}
for (const [name, to] of imports) {
  replace(`\\b${escape(name)}: function\\(`, `${to}: function(`, `the import ${name}`, 1, 1);
}
// Every export the glue reads, in one pass (an old name is never mistaken for a new one); exports
// it never reads (`__instance_terminated`, ...) need not appear.
glue = glue.replace(/\bwasm\.([A-Za-z_$][\w$]*)/g, (_, name) => {
  if (!exports.has(name)) fail(`the glue reads an export the module does not have: ${name}`);
  return `wasm.${exports.get(name)}`;
});
for (const name of [...imports.keys(), ...modules]) {
  if (glue.includes(name)) fail(`the old name ${name} is still used`);
}
writeFileSync(file, glue);

/** The import (module, name) pairs and the export names of a WebAssembly binary. */
function wasmNames(bytes) {
  let at = 8;
  const u32 = () => {
    let value = 0, shift = 0, byte;
    do {
      byte = bytes[at++];
      value += (byte & 0x7f) * 2 ** shift;
      shift += 7;
    } while (byte & 0x80);
    return value;
  };
  const name = () => {
    const n = u32();
    at += n;
    return bytes.subarray(at - n, at).toString('utf8');
  };
  const limits = () => {
    const flags = u32();
    u32();
    if (flags & 1) u32();
  };
  const imports = [], exports = [];
  while (at < bytes.length) {
    const id = bytes[at++];
    const size = u32();
    const end = at + size;
    if (id === 2) {
      for (let n = u32(); n > 0; n--) {
        imports.push([name(), name()]);
        const kind = bytes[at++];
        if (kind === 0) u32(); // function: type index
        else if (kind === 1) (at++, limits()); // table: element type, limits
        else if (kind === 2) limits(); // memory
        else if (kind === 3) at += 2; // global: value type, mutability
        else fail(`${wasmFile}: unknown import kind ${kind}`);
      }
    } else if (id === 7) {
      for (let n = u32(); n > 0; n--) {
        exports.push(name());
        at++;
        u32();
      }
    }
    at = end;
  }
  return { imports, exports };
}
