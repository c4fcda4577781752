/** Domain types shared by services, repositories and the wire protocol. */
import type { AttachmentKind, AttachmentPart } from './config/media';

export type ConversationType = 'direct' | 'group';
/**
 * `void` fills a seq whose send was abandoned, so seqs never skip; it is never delivered live.
 * `edit`, `delete` and `reaction` are changes to an earlier text message (its `targetSeq`): entries of
 * their own, so every device converges through the same delivery, inbox and sync.
 */
export type MessageType = 'text' | 'system' | 'void' | ChangeType;

/** Entries that change an earlier message. They raise no unread count and do not move a conversation up. */
export type ChangeType = 'edit' | 'delete' | 'reaction';

export const changeTypes: readonly ChangeType[] = ['edit', 'delete', 'reaction'];

export const isChange = (message: Pick<Message, 'type'>): boolean =>
  (changeTypes as readonly string[]).includes(message.type);
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
  /** Server time of the newest entry that is not a change (edits, deletes and reactions leave it). */
  readonly lastMessageAt?: string;
  readonly memberCount: number;
  /** Seq of the newest entry that is not a change: what the conversation list shows and counts to. */
  readonly lastMessageSeq?: number;
  /** Seq of the newest change (edit, delete, reaction); absent before the first. */
  readonly lastChangeSeq?: number;
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

/** Who belonged when a message was stored, in any of their membership periods: who gets it. */
export function recipientsAt(message: Pick<Message, 'seq'>, members: readonly Member[]): string[] {
  return members.filter((member) => belongedAt(member, message.seq)).map((member) => member.userId);
}

/** The device a message came from never gets it back; the sender's other devices do. */
export function isSendingDevice(
  message: Pick<StoredMessage, 'senderId' | 'senderDeviceId'>,
  device: Pick<Device, 'userId' | 'deviceId'>,
): boolean {
  return device.userId === message.senderId && device.deviceId === message.senderDeviceId;
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
  /** Media sent with the message (text may then be empty); URLs come from `GET /attachments/{id}`. */
  readonly attachments?: readonly MessageAttachment[];
  /** A reply: the message it answers (history shows that message's current preview, or `deleted`). */
  readonly replyTo?: ReplyRef;
  /** A change (`edit`, `delete`, `reaction`): the seq of the text message it changes. */
  readonly targetSeq?: number;
  /** A `reaction`: the emoji (one grapheme cluster), and whether the reactor took it back. */
  readonly emoji?: string;
  readonly removed?: boolean;
  /** A text message edited since it was sent: when, by server time (its text is the edited one). */
  readonly editedAt?: string;
  /** A deleted text message (a tombstone: no text, attachments, reactions or reply): when and by whom. */
  readonly deletedAt?: string;
  readonly deletedBy?: string;
  /** Reactions on a text message, per emoji, with who reacted (at most `limits.maxReactionKinds`). */
  readonly reactions?: readonly Reaction[];
  /** Seq of the newest change this message already shows: a device skips change events up to it. */
  readonly changedSeq?: number;
}

/** What a reply carries of the message it answers. */
export interface ReplyRef {
  readonly seq: number;
  readonly senderId: string;
  /** The start of its text (`limits.replyPreviewLength` characters); empty once deleted. */
  readonly preview: string;
  /** It carries attachments (a preview of a photo alone is empty). */
  readonly hasAttachments?: boolean;
  /** It was deleted: nothing of it is shown. */
  readonly deleted?: boolean;
}

export interface Reaction {
  readonly emoji: string;
  readonly count: number;
  /** Who reacted with it, in id order. */
  readonly userIds: readonly string[];
}

export type AttachmentStatus = 'pending' | 'ready' | 'rejected';

/** Why processing refused an upload. */
export type AttachmentRejection = 'type_mismatch' | 'unsupported_type' | 'unreadable' | 'size_mismatch';

export interface ThumbnailInfo {
  readonly width: number;
  readonly height: number;
  readonly contentType: string;
}

/** What a message carries for each attachment: enough to lay it out before anything downloads. */
export interface MessageAttachment {
  readonly id: string;
  readonly kind: AttachmentKind;
  /** The uploader's file name, sanitised; used for the download's Content-Disposition. */
  readonly fileName: string;
  /** The type confirmed from the bytes. */
  readonly contentType: string;
  /** Bytes of the stored original (images are re-encoded without metadata). */
  readonly size: number;
  readonly width?: number;
  readonly height?: number;
  /** Present when a thumbnail exists (images, and videos with a poster). */
  readonly thumbnail?: ThumbnailInfo;
}

/** An upload and what processing found in it. */
export interface Attachment {
  readonly id: string;
  readonly conversationId: string;
  readonly uploaderId: string;
  readonly kind: AttachmentKind;
  readonly fileName: string;
  /** What the uploader declared; the presigned PUT binds the upload to it. */
  readonly declaredContentType: string;
  readonly declaredSize: number;
  /** A video's declared poster image, uploaded as the `poster` part. */
  readonly poster?: { readonly contentType: string; readonly size: number };
  /** The parts that must be processed before the attachment is ready. */
  readonly parts: readonly AttachmentPart[];
  readonly processedParts: readonly AttachmentPart[];
  readonly status: AttachmentStatus;
  readonly createdAt: string;
  /** Set once processed: the confirmed type and the stored size. */
  readonly contentType?: string;
  readonly size?: number;
  readonly width?: number;
  readonly height?: number;
  readonly thumbnail?: ThumbnailInfo;
  readonly rejection?: AttachmentRejection;
  /** Seq of the first message that carried it: from then on it is kept, and visible per history rules. */
  readonly sentSeq?: number;
  /** Seq of the deletion of the message that carried it: from then on it is never served. */
  readonly withdrawnSeq?: number;
}

/** A message as stored: adds what fan-out needs but clients do not see. */
export interface StoredMessage extends Message {
  /** The device that sent it; fan-out skips only this device of the sender. */
  readonly senderDeviceId?: string;
  /** The send delivers it directly to online devices and records which took it; fan-out reads that record. */
  readonly directDelivery?: boolean;
}

export interface Device {
  readonly userId: string;
  readonly deviceId: string;
}

/** A device's Web Push subscription: the push service's endpoint and the keys payloads are encrypted to (RFC 8291). */
export interface PushSubscription {
  readonly endpoint: string;
  /** The browser's P-256 public key, uncompressed, base64url. */
  readonly p256dh: string;
  /** The browser's 16-byte authentication secret, base64url. */
  readonly auth: string;
}

export interface Connection {
  readonly userId: string;
  readonly deviceId: string;
  readonly connectionId: string;
  /** When `$connect` recorded it (server time), where a read projects it. */
  readonly connectedAt?: string;
}

/** Strips storage-only fields before a message goes on the wire. */
export function toWireMessage(stored: StoredMessage): Message {
  const { senderDeviceId: _device, directDelivery: _direct, ...message } = stored;
  return message;
}
