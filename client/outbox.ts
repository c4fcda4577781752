/**
 * Messages waiting to be sent: queued while offline, one in flight per conversation, and resent
 * with the same clientMessageId after a reconnect, a timeout or a retryable refusal until answered.
 */
import type { Message } from '#shared/model';
import type { Connection } from './connection';
import type { MessageContent } from './types';

interface PendingSend {
  readonly clientMessageId: string;
  readonly conversationId: string;
  readonly frame: Record<string, unknown>;
  readonly resolve: (message: Message) => void;
  readonly reject: (error: Error) => void;
  /** Connection generation the frame is in flight on; undefined while it waits to be (re)sent. */
  sentOn: number | undefined;
  attempts: number;
  /** While set the send waits: for its answer (in flight) or for a retry delay. */
  timer: ReturnType<typeof setTimeout> | undefined;
}

export interface OutboxSettings {
  readonly connection: Pick<Connection, 'state' | 'generation' | 'isClosed' | 'write' | 'backoffDelay'>;
  readonly responseTimeoutMs: number;
  readonly closedError: () => Error;
  readonly onError: (error: Error) => void;
}

export class Outbox {
  private readonly queues = new Map<string, PendingSend[]>();

  constructor(private readonly settings: OutboxSettings) {}

  send(conversationId: string, content: MessageContent): { clientMessageId: string; accepted: Promise<Message> } {
    const clientMessageId = crypto.randomUUID();
    const frame: Record<string, unknown> = {
      action: 'sendMessage',
      conversationId,
      clientMessageId,
      ...(content.text === undefined ? {} : { text: content.text }),
      ...(content.attachmentIds === undefined ? {} : { attachmentIds: content.attachmentIds }),
    };
    const accepted = new Promise<Message>((resolve, reject) => {
      if (this.settings.connection.isClosed()) {
        reject(this.settings.closedError());
        return;
      }
      const queue = this.queues.get(conversationId) ?? [];
      queue.push({
        clientMessageId,
        conversationId,
        frame,
        resolve,
        reject,
        sentOn: undefined,
        attempts: 0,
        timer: undefined,
      });
      this.queues.set(conversationId, queue);
    });
    // Marks the promise handled, so an app that ignores it gets an `error` event rather than an unhandled rejection.
    accepted.catch(() => undefined);
    this.pump();
    return { clientMessageId, accepted };
  }

  pump(): void {
    const { connection, responseTimeoutMs } = this.settings;
    if (connection.state !== 'connected') return;
    for (const queue of this.queues.values()) {
      const head = queue[0];
      // One send in flight per conversation keeps this device's messages in the order they were sent.
      if (head === undefined || head.timer !== undefined || head.sentOn === connection.generation) continue;
      if (!connection.write(head.frame)) return;
      head.sentOn = connection.generation;
      head.attempts++;
      head.timer = setTimeout(() => {
        // No answer: send again with the same id; the server answers the original if it had it.
        head.timer = undefined;
        head.sentOn = undefined;
        this.pump();
      }, responseTimeoutMs);
    }
  }

  /** Settles the send the server accepted; a retry's answer after that finds nothing to settle. */
  accept(clientMessageId: string, message: Message): void {
    const pending = this.find(clientMessageId);
    if (pending === undefined) return;
    clearTimeout(pending.timer);
    this.remove(pending);
    pending.resolve(message);
  }

  /** The server refused a send: a retryable refusal sends it again after a backoff, any other rejects it. */
  refuse(clientMessageId: string, error: Error, retryable: boolean): void {
    const pending = this.find(clientMessageId);
    if (pending === undefined) return; // An answer to a retry of a send already settled.
    clearTimeout(pending.timer);
    pending.timer = undefined;
    pending.sentOn = undefined;
    if (retryable) {
      pending.timer = setTimeout(() => {
        pending.timer = undefined;
        this.pump();
      }, this.settings.connection.backoffDelay(pending.attempts));
      return;
    }
    this.remove(pending);
    pending.reject(error);
    this.settings.onError(error);
    this.pump();
  }

  /** The connection dropped: what was in flight on it goes out again on the next one. */
  onConnectionLost(): void {
    for (const queue of this.queues.values()) {
      const head = queue[0];
      if (head?.sentOn !== undefined) {
        clearTimeout(head.timer);
        head.timer = undefined;
        head.sentOn = undefined;
      }
    }
  }

  rejectAll(error: Error): void {
    for (const queue of this.queues.values()) {
      for (const pending of queue) {
        clearTimeout(pending.timer);
        pending.reject(error);
      }
    }
    this.queues.clear();
  }

  private find(clientMessageId: string): PendingSend | undefined {
    for (const queue of this.queues.values()) {
      const pending = queue.find((candidate) => candidate.clientMessageId === clientMessageId);
      if (pending !== undefined) return pending;
    }
    return undefined;
  }

  private remove(pending: PendingSend): void {
    const queue = this.queues.get(pending.conversationId);
    if (queue === undefined) return;
    const index = queue.indexOf(pending);
    if (index >= 0) queue.splice(index, 1);
    if (queue.length === 0) this.queues.delete(pending.conversationId);
  }
}
