// Server-side rendering: importing the package and calling load() in Node (no window/document)
// must not throw; the tracker does nothing.
import assert from 'node:assert/strict';
import { test } from 'node:test';

test('import and load in Node: a no-op tracker', async () => {
  assert.equal(typeof window, 'undefined');
  const { Footfall, default: dflt } = await import('../dist/footfall.js');
  assert.equal(dflt, Footfall);
  const ff = await Footfall.load({ writeKey: 'wk', endpoint: 'http://127.0.0.1:9' });
  assert.equal(ff.active, false);
  ff.track('rendered_on_server', { a: 1 });
  ff.page();
  ff.identify('u1', { plan: 'pro' });
  ff.group('g1');
  ff.alias('u2');
  ff.trackPurchase({ purchaseId: 'o1', amount: 5, currency: 'EUR' });
  ff.trackError(new Error('boom'));
  ff.consent.grant(['analytics']);
  ff.register({ app: 'x' });
  ff.reset();
  assert.deepEqual(ff.consent.get(), {});
  assert.equal(ff.stats(), null);
  assert.equal(ff.anonymousId(), null);
  await ff.flush();
  ff.destroy();
  // Argument errors are programming errors: reported on the server too.
  assert.throws(() => ff.track(1), /Footfall\.track: `event` must be a string/);
  await assert.rejects(Footfall.load(null), /Footfall\.load: `options` must be an object/);
});

test('the <script> build evaluates in a context without window/document', async () => {
  const { readFile } = await import('node:fs/promises');
  const vm = await import('node:vm');
  const code = await readFile(new URL('../dist/footfall.global.js', import.meta.url), 'utf8');
  const context = vm.createContext({ URL, TextDecoder, TextEncoder, console, WebAssembly, FinalizationRegistry });
  vm.runInContext(code, context);
  assert.equal(typeof context.Footfall, 'function');
  const ff = await context.Footfall.load({ writeKey: 'wk' });
  assert.equal(ff.active, false);
  ff.track('noop');
});
