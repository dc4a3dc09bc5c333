// Injected into the CommonJS build only (esbuild --inject, scripts/build.sh): the wasm-bindgen
// glue creates a TextDecoder and a TextEncoder when the module is evaluated, and Jest's jsdom
// environment has neither, so `require('footfall')` would throw there. Where they are missing,
// these stand-ins let the module load; the engine never runs in such an environment (`load`
// returns the no-op tracker in jsdom) — if it ever did, they fail loudly instead of corrupting
// strings. Every browser and Node has the real ones, which are used.
const g = globalThis as { TextDecoder?: typeof globalThis.TextDecoder; TextEncoder?: typeof globalThis.TextEncoder };

function missing(name: string): never {
  throw new Error(`Footfall: ${name} is not available in this environment`);
}

class NoTextDecoder {
  decode(input?: ArrayBufferView): string {
    return input?.byteLength ? missing('TextDecoder') : '';
  }
}

class NoTextEncoder {
  encode(): Uint8Array {
    return missing('TextEncoder');
  }
  encodeInto(): { read: number; written: number } {
    return missing('TextEncoder');
  }
}

const Decoder = (g.TextDecoder ?? NoTextDecoder) as typeof globalThis.TextDecoder;
const Encoder = (g.TextEncoder ?? NoTextEncoder) as typeof globalThis.TextEncoder;
export { Decoder as TextDecoder, Encoder as TextEncoder };
