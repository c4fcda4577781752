/**
 * The device's one WebSocket: connect tickets, the socket's lifecycle, keep-alive, the watchdog,
 * reconnects with backoff, and frames in and out. It starts each connection's sync; the client finishes it.
 */
import type { ServerFrame } from '#shared/protocol/frames';
import { ParleyClientError } from './errors';
import type { HttpCaller } from './http-api';
import { isIntegrationFailure, parseFrame } from './server-frames';
import type { ConnectionState, ConnectTicket, WebSocketConstructor, WebSocketLike } from './types';

/** WebSocket.OPEN, WebSocket.CLOSING and WebSocket.CLOSED, identical in browsers and `ws`. */
const OPEN = 1;
const CLOSING = 2;
const CLOSED = 3;

export interface Backoff {
  initialMs: number;
  maxMs: number;
}

export interface ConnectionSettings {
  readonly wsUrl: string;
  readonly deviceId: string;
  readonly WebSocket: WebSocketConstructor;
  /** Takes the connect tickets. */
  readonly http: HttpCaller;
  readonly keepAliveMs: number;
  readonly maxConnectionMs: number;
  readonly backoff: Backoff;
  readonly responseTimeoutMs: number;
}

export interface ConnectionEvents {
  state(state: ConnectionState): void;
  error(error: Error): void;
  /** A socket opened; its sync is requested right after. */
  opened(): void;
  frame(frame: ServerFrame): void;
  /** The server answered the frame of this write (see `writeCount`): everything written before it reached the server. */
  answered(writeIndex: number): void;
  /** API Gateway answered a request with its own failure: the request in flight may be lost. */
  integrationFailed(): void;
  /** The socket is gone: whatever was in flight on it is owed again on the next one. */
  lost(): void;
}

export class Connection {
  private currentState: ConnectionState = 'idle';
  private socket: WebSocketLike | undefined;
  /** Bumped for every connection attempt; sends remember the one they went out on. */
  private currentGeneration = 0;
  private reconnectAttempt = 0;
  private reconnectTimer: ReturnType<typeof setTimeout> | undefined;
  private keepAliveTimer: ReturnType<typeof setTimeout> | undefined;
  private recycleTimer: ReturnType<typeof setTimeout> | undefined;
  private watchdogTimer: ReturnType<typeof setTimeout> | undefined;
  private writes = 0;
  /** The write that carried the ping whose pong is owed. */
  private pingWrite: number | undefined;

  constructor(
    private readonly settings: ConnectionSettings,
    private readonly events: ConnectionEvents,
  ) {}

  get state(): ConnectionState {
    return this.currentState;
  }

  get generation(): number {
    return this.currentGeneration;
  }

  /** Frames written so far, over every socket: a frame's index is the count just after it went. */
  get writeCount(): number {
    return this.writes;
  }

  /** A method, so TypeScript does not carry a narrowed state across an await. */
  isClosed(): boolean {
    return this.currentState === 'closed';
  }

  /** The socket can take a frame now. */
  isOpen(): boolean {
    return this.socket !== undefined && this.socket.readyState === OPEN;
  }

  async open(): Promise<void> {
    this.setState('connecting');
    const generation = ++this.currentGeneration;
    let ticket: string;
    try {
      // URLs end up in logs and histories: the handshake carries a single-use ticket, never the JWT.
      ({ ticket } = await this.settings.http.request<ConnectTicket>('POST', '/connect-ticket'));
    } catch (error) {
      if (generation !== this.currentGeneration || this.isClosed()) return;
      this.failAttempt(new ParleyClientError('connection_failed', 'Could not get a connect ticket', error));
      return;
    }
    if (generation !== this.currentGeneration || this.isClosed()) return;
    const url = new URL(this.settings.wsUrl);
    url.searchParams.set('ticket', ticket);
    url.searchParams.set('deviceId', this.settings.deviceId);
    let socket: WebSocketLike;
    try {
      socket = new this.settings.WebSocket(url.toString());
    } catch (error) {
      this.failAttempt(new ParleyClientError('connection_failed', 'Could not open the WebSocket', error));
      return;
    }
    this.socket = socket;
    // A handshake that neither opens nor fails must not leave the client connecting forever.
    this.armWatchdog();
    let opened = false;
    socket.onopen = () => {
      if (this.socket !== socket) return;
      opened = true;
      this.onOpen();
    };
    socket.onmessage = (event: { data: unknown }) => {
      if (this.socket === socket) this.receive(event.data);
    };
    // A close event always follows an error; `ws` also needs a listener so it does not throw.
    socket.onerror = () => undefined;
    socket.onclose = (event: { code?: number; reason?: string }) => {
      if (this.socket !== socket) return;
      this.teardown();
      if (this.isClosed()) return;
      if (!opened) {
        const detail = event.code === undefined ? '' : ` (close code ${event.code})`;
        this.events.error(new ParleyClientError('connection_failed', `The WebSocket connection failed${detail}`));
      }
      this.setState('offline');
      this.scheduleReconnect();
    };
  }

  requestSync(cursor?: string): void {
    // Pages: the replay comes many messages to a frame (one billed message each, not one per message).
    if (this.write(cursor === undefined ? { action: 'sync', pages: true } : { action: 'sync', cursor, pages: true }))
      this.armWatchdog();
  }

  /** The first sync completed: the connection counts as up, and the next failure backs off from the start. */
  markConnected(): void {
    this.disarmWatchdog();
    this.reconnectAttempt = 0;
    this.setState('connected');
  }

  /** Gives up this socket for a new one, after the usual backoff. */
  replace(): void {
    this.teardown();
    if (this.isClosed()) return;
    this.setState('offline');
    this.scheduleReconnect();
  }

  /** Enters `closed` for good: nothing reconnects from here. The socket goes with `release`. */
  stop(): void {
    this.setState('closed');
    clearTimeout(this.reconnectTimer);
  }

  /** Closes the socket; resolves once it reports closed, or after a second (a dead peer never answers the close). */
  async release(): Promise<void> {
    const socket = this.socket;
    this.teardown();
    if (socket !== undefined) await closed(socket);
  }

  write(frame: Record<string, unknown>): boolean {
    const socket = this.socket;
    if (socket === undefined || socket.readyState !== OPEN) return false;
    try {
      socket.send(JSON.stringify(frame));
      this.writes++;
      // Any frame resets API Gateway's idle timer: a ping is owed only after keepAliveMs of quiet.
      this.armKeepAlive();
      return true;
    } catch {
      return false;
    }
  }

  /** Full jitter between 0 and min(maxMs, initialMs·2^attempt): for reconnects and every retry. */
  backoffDelay(attempt: number): number {
    const { initialMs, maxMs } = this.settings.backoff;
    const ceiling = Math.min(maxMs, initialMs * 2 ** Math.min(attempt, 30));
    return Math.random() * ceiling;
  }

  private onOpen(): void {
    this.disarmWatchdog();
    this.setState('syncing');
    this.events.opened();
    this.armKeepAlive();
    // Reconnect on our terms before API Gateway cuts the connection at 2 hours.
    this.recycleTimer = setTimeout(() => {
      this.teardown();
      if (!this.isClosed()) void this.open();
    }, this.settings.maxConnectionMs);
    this.requestSync();
  }

  private receive(data: unknown): void {
    this.disarmWatchdog();
    if (this.currentState === 'syncing') this.armWatchdog();
    const frame = parseFrame(data);
    if (frame === undefined) {
      if (isIntegrationFailure(data)) {
        this.events.integrationFailed();
        return;
      }
      this.events.error(new ParleyClientError('bad_frame', 'Ignored a frame that is not a Parley server frame'));
      return;
    }
    if (frame.type === 'pong' && this.pingWrite !== undefined) {
      this.events.answered(this.pingWrite);
      this.pingWrite = undefined;
    }
    this.events.frame(frame);
  }

  private failAttempt(error: ParleyClientError): void {
    this.events.error(error);
    this.setState('offline');
    this.scheduleReconnect();
  }

  /** Forgets the current socket and everything tied to it; closes it if still open. */
  private teardown(): void {
    const socket = this.socket;
    this.socket = undefined;
    this.pingWrite = undefined;
    clearTimeout(this.keepAliveTimer);
    this.keepAliveTimer = undefined;
    clearTimeout(this.recycleTimer);
    this.disarmWatchdog();
    this.events.lost();
    if (socket !== undefined && socket.readyState < CLOSING) {
      try {
        socket.close(1000);
      } catch {
        // Already going away.
      }
    }
  }

  private scheduleReconnect(): void {
    if (this.reconnectTimer !== undefined || this.isClosed()) return;
    const delay = this.backoffDelay(this.reconnectAttempt++);
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      void this.open();
    }, delay);
  }

  /** A ping after keepAliveMs with nothing written (each ping and frame starts the wait again); its pong is owed. */
  private armKeepAlive(): void {
    clearTimeout(this.keepAliveTimer);
    this.keepAliveTimer = setTimeout(() => {
      if (!this.write({ action: 'ping' })) return;
      this.pingWrite = this.writes;
      this.armWatchdog();
    }, this.settings.keepAliveMs);
  }

  /** No answer for responseTimeoutMs while one is owed (handshake, sync, ping): the socket is presumed dead. */
  private armWatchdog(): void {
    if (this.watchdogTimer !== undefined) return;
    this.watchdogTimer = setTimeout(() => {
      this.watchdogTimer = undefined;
      if (this.socket === undefined || this.isClosed()) return;
      this.events.error(new ParleyClientError('connection_failed', 'No answer from the server; reconnecting'));
      this.replace();
    }, this.settings.responseTimeoutMs);
  }

  private disarmWatchdog(): void {
    clearTimeout(this.watchdogTimer);
    this.watchdogTimer = undefined;
  }

  private setState(state: ConnectionState): void {
    if (this.currentState === state) return;
    this.currentState = state;
    this.events.state(state);
  }
}

function closed(socket: WebSocketLike): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, 1000);
    socket.onclose = () => {
      clearTimeout(timer);
      resolve();
    };
    if (socket.readyState === CLOSED) {
      clearTimeout(timer);
      resolve();
    }
  });
}
