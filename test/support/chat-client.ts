/** A plain WebSocket chat client for end-to-end tests, speaking docs/protocol.md and nothing else. */
import WebSocket from 'ws';

export type Frame = Record<string, unknown> & { type?: string };

/** The receipts a frame carries: a `receipt` frame's one, or each of a `receipts` frame's (a sender's batch). */
export function receiptsIn(frame: Frame): Frame[] {
  if (frame.type === 'receipt') return [frame];
  if (frame.type !== 'receipts' || !Array.isArray(frame.receipts)) return [];
  return (frame.receipts as Frame[]).map((receipt) => ({ type: 'receipt', ...receipt }));
}

export interface MessageFrame {
  type: 'message';
  message: { id: string; conversationId: string; seq: number; senderId: string; text: string; createdAt: string };
}

export class ChatClient {
  readonly frames: Frame[] = [];
  private waiters: { predicate: (frame: Frame) => boolean; resolve: (frame: Frame) => void }[] = [];

  private constructor(
    readonly socket: WebSocket,
    readonly deviceId: string,
  ) {
    socket.on('message', (data) => {
      const frame = JSON.parse(String(data)) as Frame;
      this.frames.push(frame);
      this.waiters = this.waiters.filter((waiter) => {
        if (!waiter.predicate(frame)) return true;
        waiter.resolve(frame);
        return false;
      });
    });
  }

  static async connect(wsUrl: string, token: string, deviceId: string): Promise<ChatClient> {
    const url = `${wsUrl}?token=${encodeURIComponent(token)}&deviceId=${encodeURIComponent(deviceId)}`;
    const socket = new WebSocket(url);
    // Listening before the handshake ends: ws emits a frame that arrives with the handshake's answer
    // right after 'open', before an `await` on it resumes, so a listener attached then would miss it.
    const client = new ChatClient(socket, deviceId);
    await new Promise<void>((resolve, reject) => {
      socket.once('open', () => resolve());
      socket.once('unexpected-response', (_request, response) =>
        reject(new HandshakeRefused(response.statusCode ?? 0)),
      );
      socket.once('error', reject);
    });
    return client;
  }

  send(frame: Record<string, unknown> | string): void {
    this.socket.send(typeof frame === 'string' ? frame : JSON.stringify(frame));
  }

  /** Resolves with the first frame (already received or yet to come) that matches. */
  waitFor(predicate: (frame: Frame) => boolean, what = 'frame', timeoutMs = 15_000): Promise<Frame> {
    const seen = this.frames.find(predicate);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${this.deviceId}: timed out waiting for ${what}`)), timeoutMs);
      this.waiters.push({
        predicate,
        resolve: (frame) => {
          clearTimeout(timer);
          resolve(frame);
        },
      });
    });
  }

  /** Sends and waits for the answer that echoes the same clientMessageId (accepted or error); `extra` adds frame fields. */
  async sendMessage(
    conversationId: string,
    clientMessageId: string,
    text: string,
    extra: Record<string, unknown> = {},
  ): Promise<Frame> {
    const answered = this.nextFrame(
      (frame) =>
        (frame.type === 'messageAccepted' || frame.type === 'error') && frame.clientMessageId === clientMessageId,
    );
    this.send({ ...extra, action: 'sendMessage', conversationId, clientMessageId, text });
    return answered;
  }

  /** Like waitFor, but only frames that arrive from now on count. */
  nextFrame(predicate: (frame: Frame) => boolean, what = 'frame', timeoutMs = 15_000): Promise<Frame> {
    const already = new Set(this.frames);
    return this.waitFor((frame) => !already.has(frame) && predicate(frame), what, timeoutMs);
  }

  async request(frame: Record<string, unknown> | string, answerType: string): Promise<Frame> {
    const answered = this.nextFrame((f) => f.type === answerType || f.type === 'error', answerType);
    this.send(frame);
    return answered;
  }

  messages(conversationId?: string): MessageFrame['message'][] {
    return this.frames
      .filter((frame): frame is Frame & MessageFrame => frame.type === 'message')
      .map((frame) => frame.message)
      .filter((message) => conversationId === undefined || message.conversationId === conversationId);
  }

  waitForMessage(predicate: (message: MessageFrame['message']) => boolean, what = 'message'): Promise<Frame> {
    return this.waitFor(
      (frame) => frame.type === 'message' && predicate((frame as unknown as MessageFrame).message),
      what,
    );
  }

  async close(): Promise<void> {
    if (this.socket.readyState === WebSocket.CLOSED) return;
    await new Promise<void>((resolve) => {
      this.socket.once('close', () => resolve());
      this.socket.close();
    });
  }
}

export class HandshakeRefused extends Error {
  constructor(readonly statusCode: number) {
    super(`WebSocket handshake refused with HTTP ${statusCode}`);
  }
}

/** Opens a raw WebSocket at `url`; answers the open socket (status 101), or the handshake's refusal status. */
export function openSocket(url: string): Promise<{ socket?: WebSocket; status: number }> {
  const socket = new WebSocket(url);
  return new Promise((resolve, reject) => {
    socket.once('unexpected-response', (_request, response) => {
      resolve({ status: response.statusCode ?? 0 });
      socket.terminate();
    });
    socket.once('open', () => resolve({ socket, status: 101 }));
    socket.once('error', reject);
  });
}

/** The handshake's HTTP status at `url` (101 when it opened; the socket is closed again). */
export async function handshakeStatus(url: string): Promise<number> {
  const { socket, status } = await openSocket(url);
  socket?.close();
  return status;
}

export async function issueToken(httpUrl: string, username: string): Promise<{ token: string; userId: string }> {
  const response = await fetch(`${httpUrl}/local/token`, { method: 'POST', body: JSON.stringify({ username }) });
  if (!response.ok) throw new Error(`token for ${username}: HTTP ${response.status}`);
  return (await response.json()) as { token: string; userId: string };
}

export async function api(
  httpUrl: string,
  token: string | undefined,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`${httpUrl}${path}`, {
    method,
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await response.text();
  return { status: response.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
}
