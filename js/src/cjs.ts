// The CommonJS build (dist/footfall.cjs, the `require` condition of the `exports` map):
// `require('footfall')` in a CommonJS server (SSR: `load` is the no-op tracker), in Jest (jsdom:
// the no-op tracker too) and on Node versions without require(esm). CommonJS has no
// `import.meta.url`, so the .wasm is looked up next to the classic <script> that runs this code
// (a CommonJS bundle), else next to the page; a bundler that runs `require` for the browser does
// not copy it: pass `wasmUrl` (webpack takes the ESM build, `webpack` condition).
import { Footfall, setDefaultWasmUrl } from './index.js';

const script = typeof document !== 'undefined' ? (document.currentScript as HTMLScriptElement | null) : null;
setDefaultWasmUrl(script?.src ? new URL('footfall_bg.wasm', script.src) : 'footfall_bg.wasm');

export * from './index.js';
export default Footfall;
