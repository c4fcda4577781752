/** Tick states of one's own messages, from members' delivered and read marks (receipt events). */

export interface Marks {
  readonly delivered: number;
  readonly read: number;
}

export type TickState = 'sending' | 'failed' | 'sent' | 'delivered' | 'read';

export interface MemberSince {
  readonly userId: string;
  /** Members who joined after a message never receive it, so they do not hold its ticks back. */
  readonly joinedSeq: number;
}

/** Raises a member's mark (marks only move forward; read implies delivered). Answers whether it moved. */
export function raiseMarks(
  marks: Map<string, Marks>,
  userId: string,
  kind: 'delivered' | 'read',
  upToSeq: number,
): boolean {
  const current = marks.get(userId) ?? { delivered: 0, read: 0 };
  const read = kind === 'read' ? Math.max(current.read, upToSeq) : current.read;
  const delivered = Math.max(current.delivered, read, kind === 'delivered' ? upToSeq : 0);
  if (read === current.read && delivered === current.delivered) return false;
  marks.set(userId, { delivered, read });
  return true;
}

/** Sent until every other member has it (delivered), read once every other member read it. */
export function tickState(seq: number, others: readonly MemberSince[], marks: ReadonlyMap<string, Marks>): TickState {
  const recipients = others.filter((member) => member.joinedSeq <= seq);
  if (recipients.length === 0) return 'sent';
  const markOf = (userId: string): Marks => marks.get(userId) ?? { delivered: 0, read: 0 };
  if (recipients.every((member) => markOf(member.userId).read >= seq)) return 'read';
  if (recipients.every((member) => markOf(member.userId).delivered >= seq)) return 'delivered';
  return 'sent';
}

export const tickLabels: Readonly<Record<TickState, string>> = {
  sending: 'Sending',
  failed: 'Not sent',
  sent: 'Sent',
  delivered: 'Delivered',
  read: 'Read',
};
