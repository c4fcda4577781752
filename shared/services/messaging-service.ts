import { NotFoundError } from '../errors';
import { messageIds } from '../keys';
import type { Member } from '../model';
import { type Message, type MessageAttachment, toWireMessage } from '../model';
import type { ConversationRepository, MembershipSnapshot } from '../repositories/conversation-repository';
import type { DirectDelivery, DirectDeliveryOutcome } from './direct-delivery-service';
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
}

export interface SendMessageResult {
  readonly message: Message;
  /** True when this clientMessageId was already stored: the answer is the original message. */
  readonly duplicate: boolean;
  /** What the fast path did, when the message took it. */
  readonly direct?: DirectDeliveryOutcome;
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
    const { conversation, fastPath } = await this.admit(input.conversationId, input.senderId, admission);
    const attachmentIds = input.attachmentIds ?? [];
    const attachments =
      attachmentIds.length > 0
        ? await this.attachments.resolveForSend(input.conversationId, input.senderId, attachmentIds)
        : [];

    const result = await this.timeline.append(
      input.conversationId,
      conversation,
      (seq, at) => ({
        // The sender's membership is checked again inside the transaction: a send that waited in
        // the seq queue must not land after the sender's removal.
        effects: {
          sentBy: input.senderId,
          // Each attachment is still ready and the sender's, and from now on kept.
          ...(attachmentIds.length > 0 ? { attachmentsSent: attachmentIds } : {}),
        },
        message: {
          id: messageIds.format(input.conversationId, seq),
          conversationId: input.conversationId,
          seq,
          senderId: input.senderId,
          type: 'text',
          text: input.text,
          createdAt: at,
          clientMessageId: input.clientMessageId,
          ...(attachments.length > 0 ? { attachments } : {}),
          ...(input.senderDeviceId ? { senderDeviceId: input.senderDeviceId } : {}),
          ...(fastPath ? { directDelivery: true } : {}),
        },
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
    if (result.kind === 'duplicate' || !fastPath) return { message, duplicate: result.kind === 'duplicate' };
    const readBefore = { members: fastPath.members, lastSeq: conversation.lastSeq };
    return {
      message,
      duplicate: false,
      direct: await fastPath.direct.deliver(result.message, fastPath.prefetched, readBefore),
    };
  }

  /**
   * A burst: one membership read, then the messages at consecutive seqs in the order sent (one
   * transaction per `planRun` chunk when uncontended), then the fast path for each. All are the
   * sender's text messages, so the members read before hold for every seq of an unbroken run.
   * Answers in the order sent; a retried clientMessageId answers with its original.
   */
  async sendMany(input: SendBurstInput, admission?: Promise<void>): Promise<SendMessageResult[]> {
    const { conversation, fastPath } = await this.admit(input.conversationId, input.senderId, admission);
    const results = await this.timeline.appendMany(
      input.conversationId,
      conversation,
      input.messages.map(({ clientMessageId, text }) => ({
        send: { senderId: input.senderId, clientMessageId },
        compose: (seq: number, at: string) => ({
          effects: { sentBy: input.senderId },
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

  /**
   * Reads membership while `admission` (the sender's rate-limit charge) runs, so nothing is written
   * unless it passes, and refuses a non-member. With the fast path on for this conversation, starts
   * reading the recipients' connections, so they are in hand when the commit lands.
   */
  private async admit(conversationId: string, senderId: string, admission?: Promise<void>) {
    const [, { conversation, member, members }] = await Promise.all([
      admission,
      this.readMembership(conversationId, senderId),
    ]);
    // Same answer for "no such conversation" and "not yours": ids cannot be probed.
    if (!conversation || !member) throw new NotFoundError('Conversation not found');
    const direct = members && this.direct?.covers(conversation.memberCount) ? this.direct : undefined;
    const fastPath =
      direct && members
        ? { direct, members, prefetched: direct.prefetch(members.map((candidate) => candidate.userId)) }
        : undefined;
    return { conversation, fastPath };
  }

  /**
   * With the fast path on, one strongly consistent Query of the conversation's partition gives the
   * members too (for a direct chat cheaper than the two-key BatchGetItem: one read unit, not two).
   */
  private async readMembership(
    conversationId: string,
    userId: string,
  ): Promise<MembershipSnapshot & { readonly members?: readonly Member[] }> {
    if (!this.direct || this.direct.settings.maxMembers === 0) {
      return this.conversations.getMembership(conversationId, userId);
    }
    const { conversation, queue, members } = await this.conversations.getWithMembers(conversationId);
    const member = members.find((candidate) => candidate.userId === userId);
    return {
      ...(conversation && queue ? { conversation: { ...conversation, ...queue } } : {}),
      ...(member ? { member } : {}),
      members,
    };
  }
}
