// Loads the SDK with the options given in ?options=<json> and exposes it as window.ff (an
// external module, so pages served with a strict Content-Security-Policy can run it too).
import { Footfall } from '/dist/footfall.js';

const options = JSON.parse(new URLSearchParams(location.search).get('options') || '{}');
window.ffReady = Footfall.load(options).then(
  (ff) => (window.ff = ff),
  (e) => {
    window.ffError = String((e && e.message) || e);
    throw e;
  },
);
