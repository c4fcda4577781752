import type { Clock } from '../clock';
import { limits } from '../config/limits';
import { AppError, BadRequestError, ConflictError } from '../errors';
import { messageIds } from '../keys';
import { type ChangeType, type Conversation, type Member, type StoredMessage, toWireMessage } from '../model';
import { hasContent } from '../protocol/text-rules';
import type { ConversationRepository } from '../repositories/conversation-repository';
import type { MessageUpdate } from '../repositories/message-changes';
import type { TimelineEffects } from '../repositories/timeline-effects';
import type { DirectDelivery } from './direct-delivery-service';
import { admitMember } from './member-admission';
import type { SendMessageResult } from './messaging-service';
import { visibleTextMessage } from './replies';
import type { ClientSend, TimelineWriter } from './timeline-writer';

export interface ChangeInput {
  readonly actorId: string;
  /** Absent for changes that come through HTTP: then every device of the actor gets the event too. */
  readonly actorDeviceId?: string;
  readonly conversationId: string;
  /** The seq of the text message to change. */
  readonly seq: number;
  /** With it, a retry answers the change first stored for it instead of making another. */
  readonly clientMessageId?: string;
}

export type ChangeRequest =
  | { readonly kind: 'edit'; readonly text: string }
  | { readonly kind: 'delete' }
  | { readonly kind: 'reaction'; readonly emoji: string; readonly remove: boolean };

/** Why a change was refused, in `details.reason`: stable beside the error code. */
export type ChangeRefusal =
  | 'not_sender'
  | 'edit_window_passed'
  | 'deleted'
  | 'already_reacted'
  | 'not_reacted'
  | 'too_many_reactions';

/** What a change entry does, decided on the message as read. */
interface Decision {
  readonly update: (at: string) => MessageUpdate;
  readonly asAdmin?: boolean;
  readonly withdraw?: readonly string[];
  /** The event's own fields beside its type and target. */
  readonly fields: Pick<StoredMessage, 'text'> & Partial<Pick<StoredMessage, 'emoji' | 'removed'>>;
}

/** A change whose conditions a concurrent change broke is decided again on a fresh read, this often. */
const MAX_ATTEMPTS = 4;

/**
 * Edits, deletes and reactions: each an entry of its own in the conversation's timeline (with its
 * own seq, delivered, parked and synced like any message) that updates the message it names in the
 * same transaction: the entry, the message's update, the actor's membership check and the seq, a
 * constant number of writes whatever the group's size. Changes raise no unread count and leave
 * the conversation where it is in its members' lists.
 */
export class MessageChangeService {
  constructor(
    private readonly conversations: ConversationRepository,
    private readonly timeline: TimelineWriter,
    private readonly clock: Clock,
    private readonly direct?: DirectDelivery,
  ) {}

  /** The sender only, within `limits.editWindowMs` of sending; the text follows the send's rules. */
  edit(input: ChangeInput & { readonly text: string }, admission?: Promise<void>): Promise<SendMessageResult> {
    return this.change(input, { kind: 'edit', text: input.text }, admission);
  }

  /** For everyone: the sender, or an admin of the group. The message becomes a tombstone. */
  delete(input: ChangeInput, admission?: Promise<void>): Promise<SendMessageResult> {
    return this.change(input, { kind: 'delete' }, admission);
  }

  /** Any member: one reaction per emoji per user, at most `limits.maxReactionKinds` emoji per message. */
  react(
    input: ChangeInput & { readonly emoji: string; readonly remove?: boolean },
    admission?: Promise<void>,
  ): Promise<SendMessageResult> {
    return this.change(input, { kind: 'reaction', emoji: input.emoji, remove: input.remove === true }, admission);
  }

  private async change(
    input: ChangeInput,
    request: ChangeRequest,
    admission: Promise<void> | undefined,
  ): Promise<SendMessageResult> {
    const send: ClientSend | undefined =
      input.clientMessageId !== undefined
        ? { senderId: input.actorId, clientMessageId: input.clientMessageId }
        : undefined;
    for (let attempt = 1; ; attempt++) {
      const { conversation, member, fastPath } = await admitMember(
        this.conversations,
        this.direct,
        input.conversationId,
        input.actorId,
        attempt === 1 ? admission : undefined,
      );
      let decision: Decision;
      try {
        const target = await visibleTextMessage(this.timeline, conversation, member, input.seq);
        decision = this.decide(request, target, conversation, member, input.actorId);
      } catch (error) {
        // A retry of a change that went in meets the state it made: answer what it made.
        const original =
          error instanceof AppError && send ? await this.timeline.sentBefore(input.conversationId, send) : undefined;
        if (original) return { message: toWireMessage(original), duplicate: true };
        throw error;
      }
      const result = await this.timeline.append(
        input.conversationId,
        conversation,
        (seq, at) => this.compose(input, request.kind, decision, seq, at, fastPath !== undefined),
        send,
      );
      if (result.kind === 'effectRejected') {
        // The message (or the actor's membership or role) changed since the read: decide again.
        if (attempt < MAX_ATTEMPTS) continue;
        throw new ConflictError('The message is changing; retry');
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
  }

  private decide(
    request: ChangeRequest,
    target: StoredMessage,
    conversation: Conversation,
    member: Member,
    actorId: string,
  ): Decision {
    if (target.deletedAt !== undefined) throw refused('conflict', 'The message was deleted', 'deleted');
    switch (request.kind) {
      case 'edit': {
        if (target.senderId !== actorId) throw refused('forbidden', 'Only the sender edits a message', 'not_sender');
        const now = this.clock.now().getTime();
        const sentFrom = new Date(now - limits.editWindowMs).toISOString();
        if (target.createdAt < sentFrom) {
          throw refused(
            'forbidden',
            `A message can be edited for ${limits.editWindowMs / 60_000} minutes after it was sent`,
            'edit_window_passed',
          );
        }
        const attachmentIds = (target.attachments ?? []).map((attachment) => attachment.id);
        if (!hasContent({ text: request.text, attachmentIds })) {
          throw new BadRequestError('text must hold something visible unless the message carries attachments');
        }
        return {
          update: (at) => ({ kind: 'edit', text: request.text, at, senderId: actorId, sentFrom }),
          fields: { text: request.text },
        };
      }
      case 'delete': {
        const own = target.senderId === actorId;
        const asAdmin = !own && conversation.type === 'group' && member.role === 'admin';
        if (!own && !asAdmin) {
          throw refused('forbidden', 'Only the sender or a group admin deletes a message', 'not_sender');
        }
        const withdraw = (target.attachments ?? []).map((attachment) => attachment.id);
        return {
          update: (at) => ({ kind: 'delete', at, by: actorId, ...(own ? { senderId: actorId } : {}) }),
          ...(asAdmin ? { asAdmin: true } : {}),
          ...(withdraw.length > 0 ? { withdraw } : {}),
          fields: { text: '' },
        };
      }
      case 'reaction': {
        const reactions = target.reactions ?? [];
        const same = reactions.find((reaction) => reaction.emoji === request.emoji);
        const mine = same?.userIds.includes(actorId) ?? false;
        let mode: Extract<MessageUpdate, { kind: 'reaction' }>['mode'];
        if (request.remove) {
          if (!same || !mine) throw refused('conflict', 'No such reaction of yours to take back', 'not_reacted');
          mode = same.count === 1 ? 'removeLast' : 'remove';
        } else if (mine) {
          throw refused('conflict', 'You already reacted with this emoji', 'already_reacted');
        } else if (same) {
          mode = 'add';
        } else if (reactions.length >= limits.maxReactionKinds) {
          throw refused(
            'conflict',
            `A message carries at most ${limits.maxReactionKinds} different emoji`,
            'too_many_reactions',
          );
        } else {
          mode = 'addNew';
        }
        return {
          update: () => ({
            kind: 'reaction',
            emoji: request.emoji,
            userId: actorId,
            mode,
            maxKinds: limits.maxReactionKinds,
          }),
          fields: { text: '', emoji: request.emoji, ...(request.remove ? { removed: true } : {}) },
        };
      }
    }
  }

  private compose(
    input: ChangeInput,
    type: ChangeType,
    decision: Decision,
    seq: number,
    at: string,
    direct: boolean,
  ): { message: StoredMessage; effects: TimelineEffects } {
    return {
      message: {
        id: messageIds.format(input.conversationId, seq),
        conversationId: input.conversationId,
        seq,
        senderId: input.actorId,
        type,
        ...decision.fields,
        createdAt: at,
        targetSeq: input.seq,
        ...(input.clientMessageId !== undefined ? { clientMessageId: input.clientMessageId } : {}),
        ...(input.actorDeviceId ? { senderDeviceId: input.actorDeviceId } : {}),
        ...(direct ? { directDelivery: true } : {}),
      },
      effects: {
        actor: { userId: input.actorId, ...(decision.asAdmin ? { asAdmin: true } : {}) },
        changes: { seq: input.seq, update: decision.update(at) },
        ...(decision.withdraw ? { attachmentsWithdrawn: decision.withdraw } : {}),
      },
    };
  }
}

function refused(code: 'forbidden' | 'conflict', message: string, reason: ChangeRefusal): AppError {
  return new AppError(code, message, { reason });
}
