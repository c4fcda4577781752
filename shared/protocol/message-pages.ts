import type { Message } from '../model';

const encoder = new TextEncoder();
const byteLength = (value: unknown) => encoder.encode(JSON.stringify(value)).length;

/** What a `messages` frame adds around its messages: `{"type":"messages","messages":[` and `]}`. */
const envelopeBytes = byteLength({ type: 'messages', messages: [] });

/**
 * Splits messages, in order, into pages whose `messages` frame is at most `maxBytes` of JSON. A
 * message too large to share a frame goes alone (API Gateway joins a message of up to 128 KB).
 */
export function messagePages(messages: readonly Message[], maxBytes: number): Message[][] {
  const pages: Message[][] = [];
  let page: Message[] = [];
  let bytes = envelopeBytes;
  for (const message of messages) {
    const size = byteLength(message);
    // Each message after a page's first adds a comma.
    if (page.length > 0 && bytes + 1 + size > maxBytes) {
      pages.push(page);
      page = [];
      bytes = envelopeBytes;
    }
    bytes += (page.length > 0 ? 1 : 0) + size;
    page.push(message);
  }
  if (page.length > 0) pages.push(page);
  return pages;
}
