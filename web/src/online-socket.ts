/**
 * The browser's WebSocket, made to notice when the browser goes offline: a socket whose network is
 * gone can stay "open" for minutes (until a ping times out), so on the `offline` event every socket
 * reports itself closed at once, and while offline new ones fail at once. The SDK then shows offline
 * and reconnects with its backoff; this is the `WebSocket` option given to ParleyClient.
 */
import type { WebSocketLike } from './sdk';

type Handler<E> = ((event: E) => void) | null;
interface CloseLike {
  readonly code: number;
  readonly reason: string;
}

const liveSockets = new Set<OnlineAwareWebSocket>();

window.addEventListener('offline', () => {
  for (const socket of [...liveSockets]) socket.drop('The browser went offline');
});

export class OnlineAwareWebSocket implements WebSocketLike {
  onopen: Handler<Event> = null;
  onmessage: Handler<MessageEvent> = null;
  onclose: Handler<CloseLike> = null;
  onerror: Handler<Event> = null;

  private readonly socket: WebSocket;
  private dropped = false;

  constructor(url: string) {
    this.socket = new WebSocket(url);
    this.socket.onopen = (event) => this.onopen?.(event);
    this.socket.onmessage = (event) => this.onmessage?.(event);
    this.socket.onerror = (event) => this.onerror?.(event);
    this.socket.onclose = (event) => {
      liveSockets.delete(this);
      if (!this.dropped) this.onclose?.({ code: event.code, reason: event.reason });
    };
    liveSockets.add(this);
    if (!navigator.onLine) queueMicrotask(() => this.drop('The browser is offline'));
  }

  get readyState(): number {
    return this.dropped ? WebSocket.CLOSED : this.socket.readyState;
  }

  send(data: string): void {
    if (!this.dropped) this.socket.send(data);
  }

  close(code?: number, reason?: string): void {
    this.socket.close(code, reason);
  }

  /** Reports the socket closed now (code 1006, as for a lost connection) and lets the real one go quietly. */
  drop(reason: string): void {
    if (this.dropped) return;
    this.dropped = true;
    liveSockets.delete(this);
    try {
      this.socket.close();
    } catch {
      // Closing a socket that never opened can throw in some browsers; it is gone either way.
    }
    this.onclose?.({ code: 1006, reason });
  }
}
