/**
 * Messages waiting to be sent: queued while offline, one frame in flight per conversation, and
 * resent with the same clientMessageIds after a reconnect, a timeout or a retryable refusal until
 * answered. Text messages queued behind one another go out together in one `sendMessages` frame (a
 * burst the server commits in one transaction, in order); a message with attachments or a reply goes
 * alone. Changes to earlier messages (edit, delete, react) queue in the same line and go alone too,
 * so a conversation's entries from this device keep the order they were made in.
 * A lone send to a direct chat whose peer an earlier answer named carries the device's view of it
 * (`directChat`: the peer and the newest seq known, as of each time the frame goes out), which lets
 * the server commit it without reading the conversation first.
 */
import { limits } from '#shared/config/limits';
import type { Message } from '#shared/model';
import type { Connection } from './connection';
import type { MessageChange, MessageContent } from './types';

/** What one queued entry asks for: a message, or a change to an earlier one. */
type Request = { readonly kind: 'send'; readonly content: MessageContent } | MessageChange;

interface PendingSend {
  readonly clientMessageId: string;
  readonly conversationId: string;
  readonly request: Request;
  readonly resolve: (message: Message) => void;
  readonly reject: (error: Error) => void;
  attempts: number;
  /** Refused as part of a burst for a reason that may be its own: it goes alone from now on. */
  alone: boolean;
}

/** The frame in flight for one conversation: the sends it carries, waiting for their answer. */
interface Flight {
  readonly sends: PendingSend[];
  readonly generation: number;
  /** The connection's write count just after the frame went (`Connection.writeCount`). */
  readonly writeIndex: number;
  readonly timer: ReturnType<typeof setTimeout>;
}

export interface OutboxSettings {
  readonly connection: Pick<Connection, 'state' | 'generation' | 'isClosed' | 'write' | 'backoffDelay' | 'writeCount'>;
  readonly responseTimeoutMs: number;
  readonly closedError: () => Error;
  readonly onError: (error: Error) => void;
  /** The highest seq this device knows in the conversation (received, synced or its own), 0 if none. */
  readonly highestSeq: (conversationId: string) => number;
  /** The server answered the frame of this write on the current socket (see `Connection.answered`). */
  readonly answered?: (writeIndex: number) => void;
}

/** The `directChat` field of a `sendMessage` frame: the sender device's view of a direct chat. */
interface DirectChatView {
  readonly peerId: string;
  readonly afterSeq: number;
}

/** A burst frame stays within one 32 KB WebSocket frame, with room for the envelope. */
const maxBurstFrameBytes = 30 * 1024;
const utf8 = new TextEncoder();

export class Outbox {
  private readonly queues = new Map<string, PendingSend[]>();
  private readonly flights = new Map<string, Flight>();
  /** Conversations waiting out a retry delay before their next frame. */
  private readonly backoffs = new Map<string, ReturnType<typeof setTimeout>>();
  /** The other member of each direct chat, as the last `messageAccepted` there named it. */
  private readonly peers = new Map<string, string>();

  constructor(private readonly settings: OutboxSettings) {}

  send(conversationId: string, content: MessageContent): { clientMessageId: string; accepted: Promise<Message> } {
    return this.enqueue(conversationId, { kind: 'send', content });
  }

  /** An edit, delete or reaction: answered, retried and refused like a send; it resolves with its change entry. */
  change(conversationId: string, change: MessageChange): { clientMessageId: string; accepted: Promise<Message> } {
    return this.enqueue(conversationId, change);
  }

  private enqueue(conversationId: string, request: Request): { clientMessageId: string; accepted: Promise<Message> } {
    const clientMessageId = crypto.randomUUID();
    const accepted = new Promise<Message>((resolve, reject) => {
      if (this.settings.connection.isClosed()) {
        reject(this.settings.closedError());
        return;
      }
      const queue = this.queues.get(conversationId) ?? [];
      queue.push({ clientMessageId, conversationId, request, resolve, reject, attempts: 0, alone: false });
      this.queues.set(conversationId, queue);
    });
    // Marks the promise handled, so an app that ignores it gets an `error` event rather than an unhandled rejection.
    accepted.catch(() => undefined);
    this.pump();
    return { clientMessageId, accepted };
  }

  /**
   * What a `messageAccepted` in the conversation said of a direct chat: its peer, or (undefined)
   * none: a group, or a direct chat its peer left. Later sends there carry the view only with a peer.
   */
  notePeer(conversationId: string, peerId: string | undefined): void {
    if (peerId === undefined) this.peers.delete(conversationId);
    else this.peers.set(conversationId, peerId);
  }

  pump(): void {
    const { connection, responseTimeoutMs } = this.settings;
    if (connection.state !== 'connected') return;
    for (const [conversationId, queue] of this.queues) {
      // One frame in flight per conversation keeps this device's messages in the order they were sent.
      const flight = this.flights.get(conversationId);
      if (flight?.generation === connection.generation || this.backoffs.has(conversationId)) continue;
      if (flight) this.land(conversationId);
      const sends = nextFrameOf(queue);
      if (sends.length === 0) continue;
      if (!connection.write(frameOf(conversationId, sends, this.directChatOf(conversationId)))) return;
      for (const pending of sends) pending.attempts++;
      this.flights.set(conversationId, {
        sends,
        generation: connection.generation,
        writeIndex: connection.writeCount,
        // No answer: send again with the same ids; the server answers the originals if it had them.
        timer: setTimeout(() => {
          this.flights.delete(conversationId);
          this.pump();
        }, responseTimeoutMs),
      });
    }
  }

  /** Settles the send the server accepted; a retry's answer after that finds nothing to settle. */
  accept(clientMessageId: string, message: Message): void {
    const pending = this.find(clientMessageId);
    if (pending === undefined) return;
    const flight = this.flights.get(pending.conversationId);
    if (flight?.sends.includes(pending) && flight.generation === this.settings.connection.generation) {
      this.settings.answered?.(flight.writeIndex);
    }
    this.remove(pending);
    pending.resolve(message);
  }

  /**
   * The server refused a frame (named by its first send): a retryable refusal sends it again after a
   * backoff; any other rejects a lone send, and splits a burst so each send learns its own answer.
   */
  refuse(clientMessageId: string, error: Error, retryable: boolean): void {
    const pending = this.find(clientMessageId);
    if (pending === undefined) return; // An answer to a retry of a send already settled.
    const { conversationId } = pending;
    const flight = this.flights.get(conversationId);
    const carried = flight?.sends.includes(pending) ? flight.sends : [pending];
    this.land(conversationId);
    if (retryable) {
      this.backOff(conversationId, pending.attempts);
      return;
    }
    if (carried.length > 1) {
      for (const send of carried) send.alone = true;
      this.pump();
      return;
    }
    this.remove(pending);
    pending.reject(error);
    this.settings.onError(error);
    this.pump();
  }

  /** A request failed without saying which: every frame in flight goes again (same ids) after a backoff. */
  retryInFlight(): void {
    for (const [conversationId, flight] of [...this.flights]) {
      this.land(conversationId);
      const attempts = Math.max(0, ...flight.sends.map((pending) => pending.attempts));
      this.backOff(conversationId, attempts);
    }
  }

  /** The connection dropped: what was in flight on it goes out again on the next one. */
  onConnectionLost(): void {
    for (const conversationId of [...this.flights.keys()]) this.land(conversationId);
  }

  rejectAll(error: Error): void {
    for (const conversationId of [...this.flights.keys()]) this.land(conversationId);
    for (const timer of this.backoffs.values()) clearTimeout(timer);
    this.backoffs.clear();
    for (const queue of this.queues.values()) {
      for (const pending of queue) pending.reject(error);
    }
    this.queues.clear();
  }

  /** The view of the conversation as a direct chat, as of now (a resend takes a fresh one), if its peer is known. */
  private directChatOf(conversationId: string): DirectChatView | undefined {
    const peerId = this.peers.get(conversationId);
    if (peerId === undefined) return undefined;
    return { peerId, afterSeq: this.settings.highestSeq(conversationId) };
  }

  private backOff(conversationId: string, attempts: number): void {
    if (this.backoffs.has(conversationId)) return;
    this.backoffs.set(
      conversationId,
      setTimeout(() => {
        this.backoffs.delete(conversationId);
        this.pump();
      }, this.settings.connection.backoffDelay(attempts)),
    );
  }

  /** Ends the conversation's flight without settling what it carried (those go out again). */
  private land(conversationId: string): void {
    const flight = this.flights.get(conversationId);
    if (flight === undefined) return;
    clearTimeout(flight.timer);
    this.flights.delete(conversationId);
  }

  private find(clientMessageId: string): PendingSend | undefined {
    for (const queue of this.queues.values()) {
      const pending = queue.find((candidate) => candidate.clientMessageId === clientMessageId);
      if (pending !== undefined) return pending;
    }
    return undefined;
  }

  private remove(pending: PendingSend): void {
    const { conversationId } = pending;
    const flight = this.flights.get(conversationId);
    if (flight) {
      const index = flight.sends.indexOf(pending);
      if (index >= 0) flight.sends.splice(index, 1);
      // Every send the frame carried is answered: the next frame may go.
      if (flight.sends.length === 0) this.land(conversationId);
    }
    const queue = this.queues.get(conversationId);
    if (queue === undefined) return;
    const index = queue.indexOf(pending);
    if (index >= 0) queue.splice(index, 1);
    if (queue.length === 0) this.queues.delete(conversationId);
  }
}

/** The sends the next frame carries: the head alone, or the text-only sends queued behind it as one burst. */
function nextFrameOf(queue: readonly PendingSend[]): PendingSend[] {
  const head = queue[0];
  if (head === undefined) return [];
  if (!burstable(head)) return [head];
  const burst = [head];
  let bytes = burstBytes(head);
  for (const pending of queue.slice(1, limits.maxMessagesPerSend)) {
    if (!burstable(pending)) break;
    bytes += burstBytes(pending);
    if (bytes > maxBurstFrameBytes) break;
    burst.push(pending);
  }
  return burst;
}

function burstable(pending: PendingSend): boolean {
  if (pending.request.kind !== 'send') return false;
  const { text, attachmentIds, replyTo } = pending.request.content;
  return (
    !pending.alone &&
    attachmentIds === undefined &&
    replyTo === undefined &&
    text !== undefined &&
    text.trim().length > 0
  );
}

/** The text of a send that `burstable` let into a burst. */
function textOf(pending: PendingSend): string | undefined {
  return pending.request.kind === 'send' ? pending.request.content.text : undefined;
}

/** A burst member's share of the frame: its JSON with room for the separators. */
function burstBytes(pending: PendingSend): number {
  return utf8.encode(JSON.stringify({ clientMessageId: pending.clientMessageId, text: textOf(pending) })).length + 2;
}

/** The frame carrying `sends`; a lone `sendMessage` carries the direct chat view when there is one. */
function frameOf(
  conversationId: string,
  sends: readonly PendingSend[],
  directChat: DirectChatView | undefined,
): Record<string, unknown> {
  const [head] = sends;
  if (sends.length > 1 || head === undefined) {
    return {
      action: 'sendMessages',
      conversationId,
      messages: sends.map((pending) => ({ clientMessageId: pending.clientMessageId, text: textOf(pending) })),
    };
  }
  const { clientMessageId, request } = head;
  switch (request.kind) {
    case 'send': {
      const { text, attachmentIds, replyTo } = request.content;
      return {
        action: 'sendMessage',
        conversationId,
        clientMessageId,
        ...(text === undefined ? {} : { text }),
        ...(attachmentIds === undefined ? {} : { attachmentIds }),
        ...(replyTo === undefined ? {} : { replyTo }),
        // The server takes the view for plain text only.
        ...(directChat === undefined || (attachmentIds?.length ?? 0) > 0 || replyTo !== undefined
          ? {}
          : { directChat }),
      };
    }
    case 'edit':
      return { action: 'editMessage', conversationId, seq: request.seq, text: request.text, clientMessageId };
    case 'delete':
      return { action: 'deleteMessage', conversationId, seq: request.seq, clientMessageId };
    case 'react':
      return {
        action: 'react',
        conversationId,
        seq: request.seq,
        emoji: request.emoji,
        ...(request.remove ? { remove: true } : {}),
        clientMessageId,
      };
  }
}
