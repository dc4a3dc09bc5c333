// The classic <script> build: `<script src=".../footfall.global.js"></script>` defines
// `window.Footfall`; the .wasm is loaded from next to the script.
import { Footfall, setDefaultWasmUrl } from './index.js';

const script = typeof document !== 'undefined' ? (document.currentScript as HTMLScriptElement | null) : null;
if (script?.src) setDefaultWasmUrl(new URL('footfall_bg.wasm', script.src));
(globalThis as unknown as { Footfall: typeof Footfall }).Footfall = Footfall;
