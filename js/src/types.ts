// Public types of the Footfall browser SDK.

/** Event properties / traits: any JSON-serializable object. */
export type Properties = Record<string, unknown>;

/** A consent category's state. */
export type ConsentDecision = 'granted' | 'denied' | 'pending';

/**
 * `Footfall.load` options. The sections `tracking`, `events`, `privacy`, `consent` and
 * `delivery` are the native `analytics_config.yaml` fields (snake_case, same defaults, validated
 * by the core: unknown keys are errors naming the key); they may also be nested under
 * `analytics`, exactly like the YAML file.
 */
export interface FootfallOptions {
  /** The project's write key (required). */
  writeKey: string;
  /** The collector's base URL; batches go to `{endpoint}/v1/batch`. Default: the page's origin. */
  endpoint?: string;
  /** A `page` call on load and on every SPA navigation (pushState/replaceState/popstate). Default `true`. */
  autoPageViews?: boolean;
  /** Track clicks on elements with `data-footfall-event="name"` (`data-footfall-prop-x` attributes become properties). Default `false`. */
  autocapture?: boolean;
  /** `'localStorage'` (default): queue and identity survive reloads; `'memory'`: nothing is stored. */
  persistence?: 'localStorage' | 'memory';
  /** Also keep the identity in a first-party cookie for this domain (e.g. `.example.com`), shared by its subdomains. Default: none. */
  cookieDomain?: string;
  /** Log every pipeline step, drop and delivery to the console. Default `false`. */
  debug?: boolean;
  /** Where to load `footfall_bg.wasm` from. Default: next to the script (`new URL('./footfall_bg.wasm', import.meta.url)`). */
  wasmUrl?: string | URL;
  /** The whole `analytics:` section of `analytics_config.yaml`, as an object. */
  analytics?: AnalyticsConfig;
  tracking?: TrackingConfig;
  events?: Record<string, EventSpec>;
  privacy?: PrivacyConfig;
  consent?: ConsentConfig;
  delivery?: DeliveryConfig;
}

export interface AnalyticsConfig {
  tracking?: TrackingConfig;
  events?: Record<string, EventSpec>;
  privacy?: PrivacyConfig;
  consent?: ConsentConfig;
  delivery?: DeliveryConfig;
}

/** `analytics.tracking` (durations in seconds, sizes in bytes). */
export interface TrackingConfig {
  /** Default `true`; `false` drops every event (`disabled`). */
  enabled?: boolean;
  /** Send once this many events are queued. Default `100`. */
  batch_size?: number;
  /** Send at the latest this many seconds after the oldest queued event. Default `5`. */
  flush_interval?: number;
  /** Largest batch body in bytes. Default `512000`. */
  max_batch_bytes?: number;
  /** Most events kept (oldest non-`necessary` evicted first). Browser default `1000`. */
  max_queue_size?: number;
  /** Larger events are dropped (`too_large`). Default `32768` bytes. */
  max_message_bytes?: number;
  /** Inactivity that ends a session, seconds. Default `1800`. */
  session_timeout?: number;
  /** Longest session, seconds. Default `86400`. */
  max_session_length?: number;
  /** Tracking plan strictness: drop events/properties the plan does not list. Default `false`. */
  strict?: boolean;
}

/** One event of the tracking plan. */
export interface EventSpec {
  /** Default `true`. */
  enabled?: boolean;
  /** Allowed property names (default: any). */
  properties?: string[];
  /** Consent category of this event (default `analytics`). */
  category?: string;
}

export interface PrivacyConfig {
  /**
   * Default `true`: messages carry `context.anonymizeIp: true` and the collector truncates the
   * request's address. A `context.ip` given in {@link EventOptions} is then removed (the
   * browser bundle has no IP parser to truncate it).
   */
  anonymize_ip?: boolean;
  /** HMAC-SHA256 the user id with `hash_salt`. Default `false`. */
  hash_user_id?: boolean;
  hash_salt?: string;
  /** `true` means consent mode `opt_in` when `consent.mode` is not set. Default `false`. */
  gdpr_compliance?: boolean;
  /** Redact emails, phone numbers and card numbers in values (and `pii_patterns` matches). Default `false`. */
  scrub_pii?: boolean;
  /**
   * Extra PII patterns (regular expressions, applied with `scrub_pii`): a string value matching
   * one anywhere is redacted (anchor with `^…$` for whole values). Matched with JavaScript's
   * `RegExp` (Unicode mode when the pattern allows it); keep to the syntax common with Rust's
   * `regex`, which the collector uses. An invalid pattern is skipped (`stats().invalidPatterns`,
   * a warning). Default: none.
   */
  pii_patterns?: string[];
  property_deny_list?: string[];
  /** Query parameters removed from URLs. Default: common ad click ids. */
  url_param_deny_list?: string[];
}

export interface ConsentConfig {
  /** `opt_in`: nothing but `necessary` leaves (and nothing is stored) before a grant. */
  mode?: 'opt_in' | 'opt_out';
  /** Default `['necessary', 'analytics', 'marketing']`. */
  categories?: string[];
  /** Honour `navigator.globalPrivacyControl`. Default `true`. */
  respect_gpc?: boolean;
  /** Honour `navigator.doNotTrack`. Default `false`. */
  respect_dnt?: boolean;
  /** Categories a GPC signal denies. Default `['marketing']`. */
  gpc_categories?: string[];
  rotate_anonymous_id_on_revoke?: boolean;
  /** Events kept in memory while consent is pending. Default `1000`. */
  max_pending?: number;
}

export interface DeliveryConfig {
  max_attempts?: number;
  /** Seconds. Default `43200`. */
  max_age?: number;
  /** Seconds. Default `1`. */
  backoff_base?: number;
  /** Seconds. Default `60`. */
  backoff_cap?: number;
  max_in_flight?: number;
  /**
   * Seconds between fetches of the privacy team's settings (`{endpoint}/v1/settings`, also
   * fetched at load once consent allows sending). `0` turns fetching off. Default `300`.
   */
  settings_refresh?: number;
}

/** Per-event options. */
export interface EventOptions {
  /** Consent category (default: the tracking plan's, else `analytics`). */
  category?: string;
  /** Extra `context` fields (`campaign`, `app`, `ip`, ...). */
  context?: Record<string, unknown>;
  /** When it happened (default: now). */
  timestamp?: Date | number;
  integrations?: Record<string, unknown>;
}

/** `ff.stats()`: the core's counters for this page. */
export interface Stats {
  enqueued: number;
  restored: number;
  sent: number;
  retried: number;
  batches: number;
  /** By reason: consent, queue_full, invalid, too_large, rejected, not_in_plan, disabled, ... */
  dropped: Record<string, number>;
  pendingConsent: number;
  queued: number;
  inFlight: number;
  storeErrors: number;
  /** Custom PII patterns the browser's `RegExp` refused (skipped), counted at each compile. */
  invalidPatterns: number;
  recentRejections: { messageId: string; reason: string }[];
  warnings: string[];
}
