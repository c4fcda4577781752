/**
 * Web Push in the app: the service worker (registered at start; it asks nothing), the permission
 * (asked only when the user turns notifications on), and the open conversation, which the worker asks
 * for before it notifies (never for a conversation on screen) and which the URL keeps (`?c=`).
 */
import type { ParleyClient } from './sdk';

const conversationParameter = 'c';
const workerUrl = '/sw.js';

export const pushSupported = (): boolean =>
  'serviceWorker' in navigator && 'PushManager' in window && 'Notification' in window;

/** Registers the worker; failures only mean no notifications. */
export function registerServiceWorker(): void {
  if (!pushSupported()) return;
  navigator.serviceWorker.register(workerUrl).catch(() => undefined);
}

/** The conversation the URL names (a notification click opens the app there). */
export function conversationInUrl(): string | undefined {
  return new URL(window.location.href).searchParams.get(conversationParameter) ?? undefined;
}

let openConversationId: string | undefined;

/** Keeps the open conversation for the worker's question, and in the URL without a navigation. */
export function showConversationInUrl(conversationId: string | undefined): void {
  openConversationId = conversationId;
  const url = new URL(window.location.href);
  if (conversationId === undefined) url.searchParams.delete(conversationParameter);
  else url.searchParams.set(conversationParameter, conversationId);
  if (url.href !== window.location.href) window.history.replaceState(window.history.state, '', url);
}

/**
 * Answers the worker's question (what is on screen: the open conversation while the page is visible),
 * and opens the conversation of a clicked notification.
 */
export function onOpenRequest(open: (conversationId: string) => void): () => void {
  if (!pushSupported()) return () => undefined;
  const listener = (event: MessageEvent) => {
    const data: unknown = event.data;
    if (typeof data !== 'object' || data === null) return;
    const { type, conversationId } = data as { type?: unknown; conversationId?: unknown };
    if (type === 'parley-viewing') {
      event.ports[0]?.postMessage({
        viewing: document.visibilityState === 'visible' ? openConversationId : undefined,
      });
    }
    if (type === 'parley-open' && typeof conversationId === 'string') open(conversationId);
  };
  navigator.serviceWorker.addEventListener('message', listener);
  return () => navigator.serviceWorker.removeEventListener('message', listener);
}

export type EnableOutcome = 'enabled' | 'denied' | 'unsupported';

/** Asks for permission (from a click), subscribes with the server's key and registers this device. */
export async function enableNotifications(client: ParleyClient): Promise<EnableOutcome> {
  if (!pushSupported()) return 'unsupported';
  if ((await Notification.requestPermission()) !== 'granted') return 'denied';
  const registration = await navigator.serviceWorker.ready;
  const key = await client.vapidPublicKey();
  const subscription =
    (await registration.pushManager.getSubscription()) ??
    (await registration.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: decodeKey(key) }));
  const json = subscription.toJSON();
  const p256dh = json.keys?.p256dh;
  const auth = json.keys?.auth;
  if (json.endpoint === undefined || p256dh === undefined || auth === undefined) {
    throw new Error('The browser gave an incomplete push subscription');
  }
  await client.registerPush({ endpoint: json.endpoint, keys: { p256dh, auth } });
  return 'enabled';
}

/** base64url to bytes, as `applicationServerKey` takes it. */
function decodeKey(base64url: string): Uint8Array<ArrayBuffer> {
  const base64 = base64url.replaceAll('-', '+').replaceAll('_', '/');
  const binary = atob(base64.padEnd(Math.ceil(base64.length / 4) * 4, '='));
  const bytes = new Uint8Array(new ArrayBuffer(binary.length));
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}
