// The benchmark page: Footfall, posthog-js and @segment/analytics-next loaded in the same page;
// `window.runBench(sinkUrl)` measures the main-thread cost of one track() call for each.
import { Footfall } from '../dist/footfall.js';
import posthog from 'posthog-js';
import { AnalyticsBrowser } from '@segment/analytics-next';

const BATCHES = 100; // × CALLS = 10,000 measured calls per SDK
const CALLS = 100;
const WARMUP = 500;

// A fast macrotask (no setTimeout clamping): resolves after every microtask queued by the calls.
const channel = new MessageChannel();
const waiting = [];
channel.port1.onmessage = () => waiting.shift()?.();
const nextTask = () => new Promise((r) => (waiting.push(r), channel.port2.postMessage(0)));

const props = (i) => ({ feature_name: 'search', query_length: i % 40, plan: 'pro', experiment: 'b' });

window.runBench = async (sink) => {
  const ff = await Footfall.load({ writeKey: 'wk_bench', endpoint: sink, autoPageViews: false });
  posthog.init('phc_bench', {
    api_host: sink,
    autocapture: false,
    capture_pageview: false,
    capture_pageleave: false,
    disable_session_recording: true,
    disable_surveys: true,
    advanced_disable_flags: true,
    persistence: 'localStorage',
  });
  const [segment] = await AnalyticsBrowser.load({
    writeKey: 'wk_bench',
    cdnSettings: {
      integrations: { 'Segment.io': { apiKey: 'wk_bench', apiHost: `${new URL(sink).host}/v1`, protocol: 'http' } },
    },
  });
  const sdks = {
    footfall: (i) => ff.track('feature_used', props(i)),
    'posthog-js': (i) => posthog.capture('feature_used', props(i)),
    '@segment/analytics-next': (i) => segment.track('feature_used', props(i)),
  };
  // Each SDK runs alone in its own phase (its deferred work must not land in another SDK's
  // measurement window), twice, in opposite orders; the page goes idle between phases.
  const idle = () => new Promise((r) => setTimeout(r, 1500));
  const samples = Object.fromEntries(Object.keys(sdks).map((k) => [k, []]));
  const withDeferred = Object.fromEntries(Object.keys(sdks).map((k) => [k, []]));
  const order = Object.keys(sdks);
  for (const round of [order, [...order].reverse()]) {
    for (const name of round) {
      const fn = sdks[name];
      for (let i = 0; i < WARMUP; i++) fn(i);
      await idle();
      for (let b = 0; b < BATCHES / 2; b++) {
        const t0 = performance.now();
        for (let i = 0; i < CALLS; i++) fn(i);
        const t1 = performance.now();
        await nextTask(); // + deferred work (promises, 0 ms timers) that runs before the next task
        const t2 = performance.now();
        samples[name].push(((t1 - t0) * 1000) / CALLS);
        withDeferred[name].push(((t2 - t0) * 1000) / CALLS);
        await new Promise((r) => setTimeout(r, 5)); // the SDK's timers (sending) run unmeasured
      }
      await idle();
    }
  }
  const stat = (xs) => {
    const s = [...xs].sort((a, b) => a - b);
    return { median: s[Math.floor(s.length / 2)], p90: s[Math.floor(s.length * 0.9)] };
  };
  return {
    crossOriginIsolated,
    results: Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, { ...stat(v), deferred: stat(withDeferred[k]) }])),
    footfallStats: ff.stats(),
  };
};
