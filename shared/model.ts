/** Domain types shared by services, repositories and the wire protocol. */
export type ConversationType = 'direct' | 'group';
/** `void` fills a seq whose send was abandoned, so seqs never skip; it is never delivered live. */
export type MessageType = 'text' | 'system' | 'void';
export type MemberRole = 'admin' | 'member';

/** What a member who joins later may read: from their join on (the default) or the whole history. */
export type HistoryVisibility = 'joined' | 'all';

export interface Conversation {
  readonly id: string;
  readonly type: ConversationType;
  readonly name?: string;
  readonly historyVisibility: HistoryVisibility;
  readonly createdBy: string;
  readonly createdAt: string;
  /** Seq of the newest message; 0 before the first one. */
  readonly lastSeq: number;
  /** Server time of the newest timeline entry. */
  readonly lastMessageAt?: string;
  readonly memberCount: number;
}

export interface Member {
  readonly conversationId: string;
  readonly userId: string;
  readonly role: MemberRole;
  readonly joinedAt: string;
  /** Seq of the timeline event that added this member; fan-out and history start there. */
  readonly joinedSeq: number;
  /**
   * Seq of the event that removed them (or that they left by). The row stays so fan-out running
   * behind still serves them every message before it; such a row is no longer a membership.
   */
  readonly leftSeq?: number;
  /** Seq up to which the member has read (their read mark). */
  readonly readSeq?: number;
  /** Seq of the member's latest send: nothing before a reply counts as unread. */
  readonly lastSentSeq?: number;
  /** Seq up to which any of the member's devices has the conversation. */
  readonly deliveredSeq?: number;
  /** [joinedSeq, leftSeq] of earlier memberships of a member who was re-added, for late fan-out. */
  readonly earlierPeriods?: readonly (readonly [number, number])[];
}

/** Did this member belong at `seq`? Their removal event (seq = leftSeq) still counts, so they learn of it. */
export function belongedAt(member: Member, seq: number): boolean {
  const within = (joined: number, left: number | undefined) => joined <= seq && (left === undefined || seq <= left);
  return (
    within(member.joinedSeq, member.leftSeq) ||
    (member.earlierPeriods ?? []).some(([joined, left]) => within(joined, left))
  );
}

/** Delivery and read marks, per member and conversation; they only move forward. */
export type ReceiptKind = 'delivered' | 'read';

/** A member row that still grants membership (not one kept for a member who left). */
export const isCurrentMember = (member: Member): boolean => member.leftSeq === undefined;

/** The first seq a member may read. */
export function visibleFromSeq(conversation: Conversation, member: Member): number {
  return conversation.historyVisibility === 'all' ? 1 : member.joinedSeq;
}

/** What a `system` message records: membership and settings changes, in the timeline like text. */
export type TimelineEvent =
  | {
      readonly kind: 'created';
      readonly actorId: string;
      readonly memberIds: readonly string[];
      readonly name?: string;
    }
  | { readonly kind: 'membersAdded'; readonly actorId: string; readonly userIds: readonly string[] }
  | { readonly kind: 'memberRemoved'; readonly actorId: string; readonly userId: string }
  | { readonly kind: 'memberLeft'; readonly actorId: string; readonly userId: string }
  | { readonly kind: 'renamed'; readonly actorId: string; readonly name: string };

/** A message as clients see it. */
export interface Message {
  readonly id: string;
  readonly conversationId: string;
  readonly seq: number;
  readonly senderId: string;
  readonly type: MessageType;
  readonly text: string;
  /** Server time (ISO 8601) at which the message was stored; never the client's clock. */
  readonly createdAt: string;
  readonly clientMessageId?: string;
  /** Present on `system` messages. */
  readonly event?: TimelineEvent;
}

/** A message as stored: adds what fan-out needs but clients do not see. */
export interface StoredMessage extends Message {
  /** The device that sent it; fan-out skips only this device of the sender. */
  readonly senderDeviceId?: string;
}

export interface Device {
  readonly userId: string;
  readonly deviceId: string;
}

export interface Connection {
  readonly userId: string;
  readonly deviceId: string;
  readonly connectionId: string;
}

/** Strips storage-only fields before a message goes on the wire. */
export function toWireMessage(stored: StoredMessage): Message {
  const { senderDeviceId: _omitted, ...message } = stored;
  return message;
}
