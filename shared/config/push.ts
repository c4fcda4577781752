/**
 * Web Push, declared once: which push services a subscription may name, and how pushes are sent and
 * coalesced. Registration checks endpoints against this list, and the sender checks them again.
 */

/**
 * Hosts of the browsers' push services (https only): FCM (Chrome, Edge on Android), Mozilla autopush,
 * Apple (Safari), Windows Notification Service (Edge). A `*.` entry allows any subdomain.
 */
export const pushServiceHosts = [
  'fcm.googleapis.com',
  'updates.push.services.mozilla.com',
  '*.push.services.mozilla.com',
  '*.push.apple.com',
  '*.notify.windows.com',
] as const;

export const push = {
  /** RFC 8292 `sub`: how a push service reaches the operator of this sender. */
  vapidSubject: 'mailto:push@parley.invalid',
  /** How long a push service keeps an undelivered push (RFC 8030 TTL): the device was offline anyway. */
  ttlSeconds: 24 * 60 * 60,
  /** A push per device and conversation at most this often; later messages of a burst wait in the inbox. */
  coalesceWindowSeconds: 60,
  /** Characters of message text in a preview; the payload stays far under the 4 KB every push service takes. */
  previewLength: 100,
  /** Longest endpoint URL accepted (real ones are 200-500 characters). */
  maxEndpointLength: 1024,
  /** The sender gives a push service this long to answer before the try counts as failed (and is retried). */
  sendTimeoutMs: 5_000,
  /** Lambda's asynchronous retries of a push a push service refused with 429 or 5xx (about 1 and 2 minutes apart). */
  retryAttempts: 2,
  /** An undelivered push older than this is dropped (the on-failure queue keeps a record). */
  maxEventAgeSeconds: 60 * 60,
} as const;

/** Whether `endpoint` is an https URL of a known push service, or starts with one of `extraOrigins` (the local stand-in). */
export function isAllowedPushEndpoint(endpoint: string, extraOrigins: readonly string[] = []): boolean {
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    return false;
  }
  if (url.username !== '' || url.password !== '') return false;
  if (extraOrigins.includes(url.origin)) return true;
  if (url.protocol !== 'https:' || url.port !== '') return false;
  const host = url.hostname.toLowerCase();
  return pushServiceHosts.some((allowed) =>
    allowed.startsWith('*.') ? host.endsWith(allowed.slice(1)) && host.length > allowed.length - 1 : host === allowed,
  );
}
