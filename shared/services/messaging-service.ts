import { NotFoundError } from '../errors';
import { messageIds } from '../keys';
import {
  type Conversation,
  type Member,
  type Message,
  type MessageAttachment,
  type ReplyRef,
  type StoredMessage,
  toWireMessage,
} from '../model';
import { replyRefOf } from '../protocol/reply-ref';
import type { ConversationRepository } from '../repositories/conversation-repository';
import type { CounterClaim } from '../repositories/rate-counter-repository';
import type { TimelineEffects } from '../repositories/timeline-effects';
import type { DirectDelivery, DirectDeliveryOutcome } from './direct-delivery-service';
import { admitMember } from './member-admission';
import { visibleTextMessage } from './replies';
import type { TimelineWriter } from './timeline-writer';

/** What a send needs of attachments: the check before the transaction (which re-checks each one). */
export interface AttachmentsForSend {
  resolveForSend(
    conversationId: string,
    senderId: string,
    attachmentIds: readonly string[],
  ): Promise<MessageAttachment[]>;
}

export interface SendMessageInput {
  readonly senderId: string;
  /** Absent for sends that come through HTTP rather than a device's socket. */
  readonly senderDeviceId?: string;
  readonly conversationId: string;
  readonly clientMessageId: string;
  /** May be empty when attachments are present (the edge validates that). */
  readonly text: string;
  readonly attachmentIds?: readonly string[];
  /** The seq of the message this one answers: it must be a text message the sender may see. */
  readonly replyTo?: number;
}

export interface SendMessageResult {
  readonly message: Message;
  /** True when this clientMessageId was already stored: the answer is the original message. */
  readonly duplicate: boolean;
  /** What the fast path did, when the message took it. */
  readonly direct?: DirectDeliveryOutcome;
  /** A direct chat whose meta item lists both members: the other one, for the sender's next {@link DirectChatView}. */
  readonly directPeerId?: string;
}

/** A device's view of a direct chat (the `directChat` of a send): its other member and the newest seq it knows. */
export interface DirectChatView {
  readonly peerId: string;
  readonly afterSeq: number;
}

/** A burst of one sender's text messages to one conversation (`sendMessages`). */
export interface SendBurstInput {
  readonly senderId: string;
  readonly senderDeviceId?: string;
  readonly conversationId: string;
  readonly messages: readonly { readonly clientMessageId: string; readonly text: string }[];
}

/** Client sends: members only, idempotent per (conversation, sender, clientMessageId). */
export class MessagingService {
  constructor(
    private readonly conversations: ConversationRepository,
    private readonly timeline: TimelineWriter,
    private readonly attachments: AttachmentsForSend,
    private readonly direct?: DirectDelivery,
  ) {}

  /**
   * `admission` is the sender's rate-limit charge, already under way: membership is read while it
   * runs, and nothing is written unless it passes.
   */
  async send(input: SendMessageInput, admission?: Promise<void>): Promise<SendMessageResult> {
    const { conversation, member, fastPath, membershipAt, directPeerId } = await this.admit(
      input.conversationId,
      input.senderId,
      admission,
    );
    const attachmentIds = input.attachmentIds ?? [];
    const [attachments, replyTo] = await Promise.all([
      attachmentIds.length > 0
        ? this.attachments.resolveForSend(input.conversationId, input.senderId, attachmentIds)
        : [],
      input.replyTo === undefined
        ? undefined
        : this.repliedTo(conversation, member, input).catch(async (error: unknown) => {
            // A retry of a reply whose original was deleted since still answers the reply.
            const original = await this.timeline.sentBefore(input.conversationId, {
              senderId: input.senderId,
              clientMessageId: input.clientMessageId,
            });
            if (original) return undefined;
            throw error;
          }),
    ]);

    const result = await this.timeline.append(
      input.conversationId,
      conversation,
      (seq, at) => ({
        // The sender's membership is checked again inside the transaction: a send that waited in
        // the seq queue must not land after the sender's removal.
        effects: {
          sentBy: input.senderId,
          ...lastSendOnMeta(conversation, membershipAt),
          // Each attachment is still ready and the sender's, and from now on kept.
          ...(attachmentIds.length > 0 ? { attachmentsSent: attachmentIds } : {}),
        },
        message: textMessage(input, seq, at, {
          ...(attachments.length > 0 ? { attachments } : {}),
          ...(replyTo ? { replyTo } : {}),
          ...(fastPath ? { directDelivery: true } : {}),
        }),
      }),
      { senderId: input.senderId, clientMessageId: input.clientMessageId },
    );
    if (result.kind === 'effectRejected') {
      // Membership or an attachment changed since the check: re-checking names what did.
      if (attachmentIds.length > 0) {
        await this.attachments.resolveForSend(input.conversationId, input.senderId, attachmentIds);
      }
      throw new NotFoundError('Conversation not found');
    }
    const message = toWireMessage(result.message);
    const peer = directPeerId !== undefined ? { directPeerId } : {};
    if (result.kind === 'duplicate' || !fastPath) return { message, duplicate: result.kind === 'duplicate', ...peer };
    const readBefore = { members: fastPath.members, lastSeq: conversation.lastSeq };
    return {
      message,
      duplicate: false,
      direct: await fastPath.direct.deliver(result.message, fastPath.prefetched, readBefore),
      ...peer,
    };
  }

  /**
   * A text send with the device's view of a direct chat: commits right after the view's seq without
   * reading the conversation first, while the two members' connections are read. The commit's meta
   * guard checks the view (both are the chat's members, nothing came after `afterSeq`, nothing queued),
   * so it proves the sender a member and the other the one recipient. Answers undefined when the view
   * did not hold (stale, wrong, not a direct chat, the lease claim refused, or a send this path does
   * not take): nothing was written, and the caller sends it the usual way. `rateClaim` rides in the
   * same transaction, so the sender's rate limit adds no call before the commit either.
   */
  async sendWithView(
    input: SendMessageInput,
    view: DirectChatView,
    rateClaim?: CounterClaim,
  ): Promise<SendMessageResult | undefined> {
    const direct = this.direct;
    const plainText = (input.attachmentIds?.length ?? 0) === 0 && input.replyTo === undefined;
    if (!direct?.covers(2) || !plainText || view.peerId === input.senderId) return undefined;
    const members = [input.senderId, view.peerId] as const;
    const prefetched = direct.prefetch(members);
    const outcome = await this.timeline.commitAfter(view.afterSeq, (seq, at) => ({
      effects: { sentBy: input.senderId, directMembers: members, ...(rateClaim ? { rateClaim } : {}) },
      message: textMessage(input, seq, at, { directDelivery: true }),
    }));
    switch (outcome.kind) {
      case 'duplicate':
        return { message: toWireMessage(outcome.message), duplicate: true, directPeerId: view.peerId };
      case 'stored':
        return {
          message: toWireMessage(outcome.message),
          duplicate: false,
          direct: await direct.deliver(outcome.message, prefetched, { recipients: members }),
          directPeerId: view.peerId,
        };
      default:
        return undefined;
    }
  }

  /**
   * A burst: one membership read, then the messages at consecutive seqs in the order sent (one
   * transaction per `planRun` chunk when uncontended), then the fast path for each. All are the
   * sender's text messages, so the members read before hold for every seq of an unbroken run.
   * Answers in the order sent; a retried clientMessageId answers with its original.
   */
  async sendMany(input: SendBurstInput, admission?: Promise<void>): Promise<SendMessageResult[]> {
    const { conversation, fastPath, membershipAt } = await this.admit(input.conversationId, input.senderId, admission);
    const results = await this.timeline.appendMany(
      input.conversationId,
      conversation,
      input.messages.map(({ clientMessageId, text }) => ({
        send: { senderId: input.senderId, clientMessageId },
        compose: (seq: number, at: string) => ({
          effects: { sentBy: input.senderId, ...lastSendOnMeta(conversation, membershipAt) },
          message: {
            id: messageIds.format(input.conversationId, seq),
            conversationId: input.conversationId,
            seq,
            senderId: input.senderId,
            type: 'text' as const,
            text,
            createdAt: at,
            clientMessageId,
            ...(input.senderDeviceId ? { senderDeviceId: input.senderDeviceId } : {}),
            ...(fastPath ? { directDelivery: true } : {}),
          },
        }),
      })),
    );
    const accepted = results.map((result) => {
      // The sender was removed since the read: the transaction's member check refused the entries.
      if (result.kind === 'effectRejected') throw new NotFoundError('Conversation not found');
      return result;
    });
    const stored = accepted.flatMap((result) => (result.kind === 'stored' ? [result.message] : []));
    // The members read before hold for each seq of the unbroken run right after the read's lastSeq.
    let unbrokenThrough = conversation.lastSeq;
    for (const message of [...stored].sort((a, b) => a.seq - b.seq)) {
      if (message.seq === unbrokenThrough + 1) unbrokenThrough = message.seq;
    }
    const outcomes = fastPath
      ? await fastPath.direct.deliverMany(
          stored.map((message) => ({
            message,
            ...(message.seq <= unbrokenThrough
              ? { readBefore: { members: fastPath.members, lastSeq: message.seq - 1 } }
              : {}),
          })),
          fastPath.prefetched,
        )
      : [];
    const outcomeOf = new Map(stored.map((message, i) => [message.seq, outcomes[i]]));
    return accepted.map(({ kind, message }) => {
      const direct = kind === 'stored' ? outcomeOf.get(message.seq) : undefined;
      return { message: toWireMessage(message), duplicate: kind === 'duplicate', ...(direct ? { direct } : {}) };
    });
  }

  /** The message a reply answers, as it is now: a text message the sender may see (a deleted one is marked so). */
  private async repliedTo(conversation: Conversation, member: Member, input: SendMessageInput): Promise<ReplyRef> {
    return replyRefOf(await visibleTextMessage(this.timeline, conversation, member, input.replyTo ?? 0));
  }

  private admit(conversationId: string, senderId: string, admission?: Promise<void>) {
    return admitMember(this.conversations, this.direct, conversationId, senderId, admission);
  }
}

/** A sender's text message at `seq`, with what this send adds (attachments, a reply, the fast path's flag). */
function textMessage(
  input: SendMessageInput,
  seq: number,
  at: string,
  extra: Pick<StoredMessage, 'attachments' | 'replyTo' | 'directDelivery'>,
): StoredMessage {
  return {
    id: messageIds.format(input.conversationId, seq),
    conversationId: input.conversationId,
    seq,
    senderId: input.senderId,
    type: 'text',
    text: input.text,
    createdAt: at,
    clientMessageId: input.clientMessageId,
    ...extra,
    ...(input.senderDeviceId ? { senderDeviceId: input.senderDeviceId } : {}),
  };
}

/** A direct conversation's uncontended send keeps the sender's last send on the meta item (2 WRU less). */
function lastSendOnMeta(conversation: Conversation, membershipAt: number | undefined): TimelineEffects {
  return conversation.type === 'direct' && membershipAt !== undefined ? { lastSendOnMetaAt: membershipAt } : {};
}
