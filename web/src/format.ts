/** Plain-text formatting: times, sizes, previews and timeline events. */
import type { Message, ReplyRef } from './sdk';

const timeFormat = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });
const dayFormat = new Intl.DateTimeFormat(undefined, { month: 'short', day: 'numeric' });
const fullFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });

export function formatTime(iso: string): string {
  return timeFormat.format(new Date(iso));
}

/** Today's times as a clock, older ones as a date (conversation list). */
export function formatListTime(iso: string): string {
  const date = new Date(iso);
  return date.toDateString() === new Date().toDateString() ? timeFormat.format(date) : dayFormat.format(date);
}

export function formatFullTime(iso: string): string {
  return fullFormat.format(new Date(iso));
}

export function formatSize(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`;
  if (bytes < 1024 * 1024 * 1024) return `${(bytes / (1024 * 1024)).toFixed(1)} MB`;
  return `${(bytes / (1024 * 1024 * 1024)).toFixed(1)} GB`;
}

export type NameOf = (userId: string) => string;

/** A system message in words, e.g. "Alice added Bob and Carol". */
export function describeEvent(message: Message, nameOf: NameOf): string {
  const event = message.event;
  if (event === undefined) return '';
  const list = (ids: readonly string[]): string => {
    const names = ids.map(nameOf);
    return names.length <= 1 ? (names[0] ?? '') : `${names.slice(0, -1).join(', ')} and ${names.at(-1)}`;
  };
  switch (event.kind) {
    case 'created':
      return event.name === undefined
        ? `${nameOf(event.actorId)} started the conversation`
        : `${nameOf(event.actorId)} created the group “${event.name}”`;
    case 'membersAdded':
      return `${nameOf(event.actorId)} added ${list(event.userIds)}`;
    case 'memberRemoved':
      return `${nameOf(event.actorId)} removed ${nameOf(event.userId)}`;
    case 'memberLeft':
      return `${nameOf(event.userId)} left`;
    case 'renamed':
      return `${nameOf(event.actorId)} renamed the group to “${event.name}”`;
  }
}

/** One line for the conversation list. */
/** What a deleted message (a tombstone) shows instead of its content. */
export const deletedText = 'This message was deleted';

/** A reply's quote of the message it answers: the start of its text, or what it was. */
export function quoteText(replyTo: ReplyRef): string {
  if (replyTo.deleted === true) return deletedText;
  if (replyTo.preview.trim() !== '') return replyTo.preview;
  return replyTo.hasAttachments === true ? 'Attachment' : '';
}

export function previewOf(message: Message | undefined, nameOf: NameOf, myId: string, isGroup: boolean): string {
  if (message === undefined) return 'No messages yet';
  if (message.type === 'system') return describeEvent(message, nameOf);
  if (message.type === 'void') return '';
  const prefix = message.senderId === myId ? 'You: ' : isGroup ? `${nameOf(message.senderId)}: ` : '';
  if (message.deletedAt !== undefined) return `${prefix}${deletedText}`;
  const attachments = message.attachments ?? [];
  if (message.text.trim() !== '') return `${prefix}${message.text}`;
  const first = attachments[0];
  if (first === undefined) return prefix;
  const label = first.kind === 'image' ? 'Photo' : first.kind === 'video' ? 'Video' : `File: ${first.fileName}`;
  return `${prefix}${label}${attachments.length > 1 ? ` +${attachments.length - 1}` : ''}`;
}
