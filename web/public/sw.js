/**
 * Parley's service worker: shows a notification for a Web Push (payload: docs/protocol.md, Web Push),
 * unless a window already shows that conversation on screen (each window is asked), and opens the
 * conversation when the notification is clicked. Plain JS: served as is at the app's root scope.
 */
/* global self, clients */

const conversationParameter = 'c';
/** A window that does not answer by then (still loading, frozen) counts as not showing it. */
const answerWithinMs = 1000;

/** What a window has on screen: its open conversation while the page is visible, else nothing. */
function askViewing(client) {
  return new Promise((resolve) => {
    const channel = new MessageChannel();
    const timer = setTimeout(() => resolve(undefined), answerWithinMs);
    channel.port1.onmessage = (event) => {
      clearTimeout(timer);
      resolve(event.data?.viewing);
    };
    client.postMessage({ type: 'parley-viewing' }, [channel.port2]);
  });
}

/** Some window of this app has `conversationId` open on screen. */
async function isLookingAt(conversationId) {
  const windows = await clients.matchAll({ type: 'window', includeUncontrolled: true });
  const viewing = await Promise.all(windows.map(askViewing));
  return viewing.includes(conversationId);
}

/** Tells open windows what became of a push (the app ignores it; browser tests wait for it). */
async function report(conversationId, shown) {
  const windows = await clients.matchAll({ type: 'window', includeUncontrolled: true });
  for (const client of windows) client.postMessage({ type: 'parley-push', conversationId, shown });
}

async function onPush(payload) {
  if (payload === undefined || payload.type !== 'message' || typeof payload.conversationId !== 'string') return;
  const { conversationId } = payload;
  if (await isLookingAt(conversationId)) {
    await report(conversationId, false);
    return;
  }
  await self.registration.showNotification(String(payload.senderName ?? 'Parley'), {
    body: typeof payload.preview === 'string' ? payload.preview : 'New message',
    // One notification per conversation: a newer push replaces the older one.
    tag: `conversation:${conversationId}`,
    renotify: true,
    data: { conversationId },
  });
  await report(conversationId, true);
}

self.addEventListener('push', (event) => {
  let payload;
  try {
    payload = event.data?.json();
  } catch {
    payload = undefined;
  }
  event.waitUntil(onPush(payload));
});

self.addEventListener('notificationclick', (event) => {
  event.notification.close();
  const conversationId = event.notification.data?.conversationId;
  const target = new URL(self.registration.scope);
  if (typeof conversationId === 'string') target.searchParams.set(conversationParameter, conversationId);
  event.waitUntil(
    (async () => {
      const windows = await clients.matchAll({ type: 'window', includeUncontrolled: true });
      const open = windows[0];
      if (open === undefined) {
        await clients.openWindow(target.href);
        return;
      }
      open.postMessage({ type: 'parley-open', conversationId });
      await open.focus();
    })(),
  );
});

self.addEventListener('install', () => self.skipWaiting());
self.addEventListener('activate', (event) => event.waitUntil(clients.claim()));
