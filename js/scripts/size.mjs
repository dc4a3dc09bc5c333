#!/usr/bin/env node
// Size of the browser SDK as a page downloads it: the .wasm, and the JS (wrapper + wasm-bindgen
// glue, minified ESM), each gzipped at level 9 (= gzip -9), against the issue's anchors
// (esbuild + gzip -9, measured 2026-11-28). Run after js/scripts/build.sh:
//   node js/scripts/size.mjs            # table
//   node js/scripts/size.mjs --json     # machine-readable
import { readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';

const dist = new URL('../dist/', import.meta.url);
const gz = (file) => gzipSync(readFileSync(new URL(file, dist)), { level: 9 }).length;
const raw = (file) => readFileSync(new URL(file, dist)).length;
const kb = (n) => (n / 1024).toFixed(1);

const parts = [
  ['footfall_bg.wasm (engine: Rust core + browser host)', 'footfall_bg.wasm'],
  ['footfall.js (ESM wrapper + wasm-bindgen glue)', 'footfall.js'],
];
const rows = parts.map(([label, file]) => ({ label, raw: raw(file), gz: gz(file) }));
const total = rows.reduce((a, r) => ({ raw: a.raw + r.raw, gz: a.gz + r.gz }), { raw: 0, gz: 0 });
const script = { raw: raw('footfall.global.js') + raw('footfall_bg.wasm'), gz: gz('footfall.global.js') + gz('footfall_bg.wasm') };

const BUDGET = 30, AIM = 18;
const anchors = [
  ['Snowplow browser tracker', 17.8],
  ['Segment analytics-next (initial load)', 30.2],
  ['RudderStack', 34.4],
  ['Mixpanel core', 36.5],
  ['Amplitude', 70.5],
  ['PostHog', 125.7],
];

if (process.argv.includes('--json')) {
  console.log(JSON.stringify({ parts: rows, total, script, budgetKb: BUDGET, aimKb: AIM }, null, 2));
} else {
  console.log('| part | raw KB | gzip -9 KB |');
  console.log('|---|---:|---:|');
  for (const r of rows) console.log(`| ${r.label} | ${kb(r.raw)} | ${kb(r.gz)} |`);
  console.log(`| **total (ESM: wasm + JS)** | ${kb(total.raw)} | **${kb(total.gz)}** |`);
  console.log(`| total (<script> build: wasm + footfall.global.js) | ${kb(script.raw)} | ${kb(script.gz)} |`);
  console.log('');
  console.log(`budget ≤ ${BUDGET} KB gz (aim ≤ ${AIM}): ${total.gz / 1024 <= BUDGET ? 'within budget' : `OVER by ${kb(total.gz - BUDGET * 1024)} KB`}`);
  console.log('');
  console.log('| anchor (esbuild + gzip -9) | KB gz | footfall / anchor |');
  console.log('|---|---:|---:|');
  for (const [name, size] of anchors) console.log(`| ${name} | ${size} | ${(total.gz / 1024 / size).toFixed(2)} |`);
}
