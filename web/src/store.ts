/**
 * The signed-in app's state around one ParleyClient: conversation list, members, profiles, receipt
 * marks, attachment URLs and sends in flight. React reads it through `useStore` (one version number).
 */
import { useSyncExternalStore } from 'react';
import { limits } from '#shared/config/limits';
import { describeEvent } from './format';
import { type Marks, raiseMarks, type TickState, tickState } from './receipts';
import {
  type AttachmentView,
  type ConnectionState,
  type ConversationSummary,
  type ConversationView,
  isChangeEntry,
  type Message,
  ParleyApiError,
  type ParleyClient,
  ParleyServerError,
  type PresenceEvent,
  type ReceiptEvent,
  type ReplyRef,
  type TypingEvent,
  type UserSearchPage,
  type UserView,
} from './sdk';

/** How long "typing…" shows after a typing frame: the sender's window and a little slack for the next. */
const typingShownMs = limits.typingWindowMs + 2_000;

/** Someone found by username: their public profile. */
export type PersonFound = UserSearchPage['users'][number];

export interface PendingAttachment {
  readonly id: string;
  readonly fileName: string;
  readonly kind: 'image' | 'video' | 'file';
}

/** A send not yet accepted by the server (the SDK retries it until it is, or refused). */
export interface PendingMessage {
  readonly clientMessageId: string;
  readonly conversationId: string;
  readonly text: string;
  readonly attachments: readonly PendingAttachment[];
  /** The message it answers, quoted above it while it is sent. */
  readonly replyTo?: ReplyRef;
  readonly createdAt: string;
  status: 'sending' | 'failed';
  error?: string;
}

/** A conversation-list row; `lastMessage` widened to the SDK's (readonly) Message, which live events carry. */
export type ConversationEntry = Omit<ConversationSummary, 'lastMessage'> & { readonly lastMessage?: Message };

export interface OlderState {
  readonly loading: boolean;
  readonly hasMore: boolean;
  readonly error?: string;
}

export interface AttachmentEntry {
  readonly view?: AttachmentView;
  readonly loading: boolean;
  readonly error?: string;
  /** When the signed URLs stop working (ms since epoch). */
  readonly expiresAtMs?: number;
}

const olderPageSize = 30;
const listPageLimit = 100;
const maxListPages = 10;

function errorText(error: unknown): string {
  if (error instanceof ParleyApiError || error instanceof ParleyServerError) return error.message;
  return error instanceof Error ? error.message : String(error);
}

export class ChatStore {
  readonly client: ParleyClient;
  readonly myId: string;

  connection: ConnectionState;
  listLoaded = false;
  listError: string | undefined;
  openConversationId: string | undefined;
  /** The latest line for the screen-reader live region. */
  announcement = '';
  /** A problem worth showing (a refused send, a failed action). */
  notice: string | undefined;

  private version = 0;
  private readonly listeners = new Set<() => void>();
  private readonly unsubscribers: Array<() => void> = [];
  private readonly summaries = new Map<string, ConversationEntry>();
  private readonly details = new Map<string, ConversationView>();
  private readonly detailsLoading = new Map<string, Promise<ConversationView | undefined>>();
  private readonly users = new Map<string, UserView | null>();
  private readonly usersLoading = new Set<string>();
  private readonly marks = new Map<string, Map<string, Marks>>();
  private readonly seeded = new Set<string>();
  private readonly pending = new Map<string, PendingMessage[]>();
  private readonly older = new Map<string, OlderState>();
  private readonly attachments = new Map<string, AttachmentEntry>();
  private readonly presence = new Map<string, PresenceEvent>();
  /** Per conversation, who is typing and until when (ms since epoch). */
  private readonly typists = new Map<string, Map<string, number>>();
  private everConnected = false;
  private refreshTimer: number | undefined;
  private refreshing: Promise<void> | undefined;

  constructor(client: ParleyClient, myId: string) {
    this.client = client;
    this.myId = myId;
    this.connection = client.state;
  }

  // Subscription (useSyncExternalStore).

  readonly subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  readonly getVersion = (): number => this.version;

  private changed(): void {
    this.version++;
    for (const listener of [...this.listeners]) listener();
  }

  // Lifecycle.

  start(): void {
    if (this.unsubscribers.length > 0) return;
    this.unsubscribers.push(
      this.client.on('message', (message) => this.onMessage(message)),
      this.client.on('messageChanged', (message) => this.onMessageChanged(message)),
      this.client.on('receipt', (receipt) => this.onReceipt(receipt)),
      this.client.on('connection', (state) => this.onConnection(state)),
      this.client.on('presence', (event) => this.onPresence(event)),
      this.client.on('typing', (event) => this.onTyping(event)),
      this.client.on('error', (error) => console.warn('[parley]', error)),
    );
    void this.client.connect().catch(() => undefined);
    void this.refreshConversations();
  }

  stop(): void {
    for (const unsubscribe of this.unsubscribers.splice(0)) unsubscribe();
    window.clearTimeout(this.refreshTimer);
    void this.client.close();
  }

  // Conversation list.

  conversations(): ConversationEntry[] {
    const activity = (summary: ConversationEntry): string => summary.lastMessageAt ?? summary.createdAt;
    return [...this.summaries.values()].sort((a, b) => activity(b).localeCompare(activity(a)));
  }

  summary(conversationId: string): ConversationEntry | undefined {
    return this.summaries.get(conversationId);
  }

  /** Reads every page of the caller's conversations; keeps what the (eventually consistent) listing lags behind on. */
  refreshConversations(): Promise<void> {
    this.refreshing ??= this.readConversationList().finally(() => {
      this.refreshing = undefined;
    });
    return this.refreshing;
  }

  private async readConversationList(): Promise<void> {
    try {
      let cursor: string | undefined;
      for (let page = 0; page < maxListPages; page++) {
        const listing = await this.client.api.listConversations({
          limit: listPageLimit,
          ...(cursor === undefined ? {} : { cursor }),
        });
        for (const summary of listing.conversations) {
          const known = this.summaries.get(summary.id);
          if (known !== undefined && known.lastSeq > summary.lastSeq) continue;
          // The open conversation is being read; the listing may not have seen that read yet.
          const unreadCount = this.isReading(summary.id) ? 0 : summary.unreadCount;
          this.summaries.set(summary.id, { ...summary, unreadCount });
        }
        cursor = listing.cursor;
        if (cursor === undefined) break;
      }
      this.listLoaded = true;
      this.listError = undefined;
    } catch (error) {
      this.listError = errorText(error);
    }
    this.changed();
  }

  private scheduleRefresh(): void {
    window.clearTimeout(this.refreshTimer);
    this.refreshTimer = window.setTimeout(() => void this.refreshConversations(), 300);
  }

  // Conversations, members and profiles.

  conversation(conversationId: string): ConversationView | undefined {
    return this.details.get(conversationId);
  }

  /** Fetches a conversation's members (once, unless forced) and their profiles. */
  loadConversation(conversationId: string, force = false): Promise<ConversationView | undefined> {
    if (!force && this.details.has(conversationId)) return Promise.resolve(this.details.get(conversationId));
    const inFlight = this.detailsLoading.get(conversationId);
    if (inFlight !== undefined) return inFlight;
    const loading = this.client.api
      .getConversation(conversationId)
      .then(
        (view) => {
          this.details.set(conversationId, view);
          for (const member of view.members) this.loadUser(member.userId);
          this.changed();
          return view;
        },
        (error: unknown) => {
          // Not (or no longer) a member: the conversation is gone for this user.
          if (error instanceof ParleyApiError && error.status === 404) this.forget(conversationId);
          return undefined;
        },
      )
      .finally(() => this.detailsLoading.delete(conversationId));
    this.detailsLoading.set(conversationId, loading);
    return loading;
  }

  user(userId: string): UserView | null | undefined {
    return this.users.get(userId);
  }

  loadUser(userId: string): void {
    if (this.users.has(userId) || this.usersLoading.has(userId)) return;
    this.usersLoading.add(userId);
    this.client.api
      .getUser(userId)
      .then(
        (view) => this.users.set(userId, view),
        (error: unknown) => {
          if (error instanceof ParleyApiError && error.status === 404) this.users.set(userId, null);
        },
      )
      .finally(() => {
        this.usersLoading.delete(userId);
        this.changed();
      });
  }

  /** A display name; loads the profile on first use and shows a short id until then. */
  readonly nameOf = (userId: string): string => {
    if (userId === this.myId) return 'You';
    const view = this.users.get(userId);
    if (view === undefined) {
      this.loadUser(userId);
      return `User ${userId.slice(0, 8)}`;
    }
    return view === null ? `Unknown user ${userId.slice(0, 8)}` : view.name;
  };

  title(conversationId: string): string {
    const conversation = this.details.get(conversationId) ?? this.summaries.get(conversationId);
    if (conversation === undefined) return 'Conversation';
    if (conversation.type === 'group') return conversation.name ?? 'Group';
    const view = this.details.get(conversationId);
    const other = view?.members.find((member) => member.userId !== this.myId);
    if (other !== undefined) return this.nameOf(other.userId);
    return view === undefined ? 'Direct chat' : 'Just you';
  }

  isAdmin(conversationId: string): boolean {
    const member = this.details.get(conversationId)?.members.find((candidate) => candidate.userId === this.myId);
    return member?.role === 'admin';
  }

  /** People by username prefix, for starting a chat or adding members. */
  async searchPeople(prefix: string): Promise<PersonFound[]> {
    return (await this.client.api.searchUsers(prefix)).users;
  }

  async createDirect(userId: string): Promise<string> {
    const view = await this.client.api.createConversation({ type: 'direct', memberIds: [userId] });
    this.adopt(view);
    return view.id;
  }

  async createGroup(name: string, memberIds: string[]): Promise<string> {
    const view = await this.client.api.createConversation({ type: 'group', name, memberIds });
    this.adopt(view);
    return view.id;
  }

  async addMembers(conversationId: string, userIds: string[]): Promise<void> {
    this.adopt(await this.client.api.addMembers(conversationId, userIds));
  }

  async removeMember(conversationId: string, userId: string): Promise<void> {
    await this.client.api.removeMember(conversationId, userId);
    if (userId === this.myId) this.forget(conversationId);
    else await this.loadConversation(conversationId, true);
  }

  async rename(conversationId: string, name: string): Promise<void> {
    this.adopt(await this.client.api.renameConversation(conversationId, name));
  }

  /** Takes a conversation the API answered into the list right away (the listing catches up later). */
  private adopt(view: ConversationView): void {
    this.details.set(view.id, view);
    for (const member of view.members) this.loadUser(member.userId);
    const { members, ...conversation } = view;
    const known = this.summaries.get(view.id);
    const role = members.find((member) => member.userId === this.myId)?.role ?? 'member';
    this.summaries.set(view.id, {
      ...conversation,
      role,
      unreadCount: known?.unreadCount ?? 0,
      ...(known?.lastMessage === undefined ? {} : { lastMessage: known.lastMessage }),
    });
    this.changed();
  }

  private forget(conversationId: string): void {
    this.summaries.delete(conversationId);
    this.details.delete(conversationId);
    if (this.openConversationId === conversationId) this.openConversationId = undefined;
    this.changed();
  }

  // Presence and typing.

  /** Watches these users' presence (the open direct chat's other member); [] stops. */
  watchPresence(userIds: readonly string[]): void {
    this.client.subscribePresence(userIds);
  }

  presenceOf(userId: string): PresenceEvent | undefined {
    return this.presence.get(userId);
  }

  /** Who else is typing in the conversation now. */
  typingIn(conversationId: string): string[] {
    const now = Date.now();
    return [...(this.typists.get(conversationId) ?? [])].filter(([, until]) => until > now).map(([userId]) => userId);
  }

  /** The user is typing: the SDK sends at most one frame per conversation every 3 s. */
  typing(conversationId: string): void {
    this.client.sendTyping(conversationId);
  }

  private onPresence(event: PresenceEvent): void {
    this.presence.set(event.userId, event);
    this.changed();
  }

  private onTyping(event: TypingEvent): void {
    const typists = this.typists.get(event.conversationId) ?? new Map<string, number>();
    typists.set(event.userId, Date.now() + typingShownMs);
    this.typists.set(event.conversationId, typists);
    this.changed();
    // Re-render once it lapses; a later frame has pushed `until` on and keeps it showing.
    window.setTimeout(() => this.changed(), typingShownMs + 50);
  }

  // The open conversation.

  open(conversationId: string | undefined): void {
    this.openConversationId = conversationId;
    this.notice = undefined;
    this.changed();
  }

  /** The open conversation is on screen: its messages count as read as they arrive. */
  private isReading(conversationId: string): boolean {
    return this.openConversationId === conversationId && document.visibilityState === 'visible';
  }

  olderState(conversationId: string): OlderState {
    return this.older.get(conversationId) ?? { loading: false, hasMore: true };
  }

  async loadOlder(conversationId: string): Promise<void> {
    const state = this.olderState(conversationId);
    if (state.loading || !state.hasMore) return;
    this.older.set(conversationId, { loading: true, hasMore: true });
    this.changed();
    try {
      const page = await this.client.loadOlder(conversationId, olderPageSize);
      this.older.set(conversationId, { loading: false, hasMore: page.hasMore });
    } catch (error) {
      this.older.set(conversationId, { loading: false, hasMore: true, error: errorText(error) });
    }
    this.changed();
  }

  markRead(conversationId: string, upToSeq: number): void {
    this.client.markRead(conversationId, upToSeq);
    const summary = this.summaries.get(conversationId);
    // Edits, deletes and reactions after the last message count for nothing unread.
    const lastCounted = summary?.lastMessageSeq ?? summary?.lastSeq ?? 0;
    if (summary !== undefined && summary.unreadCount > 0 && upToSeq >= lastCounted) {
      this.summaries.set(conversationId, { ...summary, unreadCount: 0 });
      this.changed();
    }
  }

  // Sending.

  pendingOf(conversationId: string): readonly PendingMessage[] {
    return this.pending.get(conversationId) ?? [];
  }

  send(conversationId: string, text: string, attachments: readonly PendingAttachment[] = [], replyTo?: ReplyRef): void {
    const attachmentIds = attachments.map((attachment) => attachment.id);
    const { clientMessageId, accepted } = this.client.send(conversationId, {
      ...(text === '' ? {} : { text }),
      ...(attachmentIds.length === 0 ? {} : { attachmentIds }),
      ...(replyTo === undefined ? {} : { replyTo: replyTo.seq }),
    });
    const pending: PendingMessage = {
      clientMessageId,
      conversationId,
      text,
      attachments,
      ...(replyTo === undefined ? {} : { replyTo }),
      createdAt: new Date().toISOString(),
      status: 'sending',
    };
    this.pending.set(conversationId, [...this.pendingOf(conversationId), pending]);
    this.changed();
    accepted.then(
      () => this.dropPending(pending),
      (error: unknown) => {
        pending.status = 'failed';
        pending.error = errorText(error);
        this.pending.set(conversationId, [...this.pendingOf(conversationId)]);
        this.changed();
      },
    );
  }

  retry(pending: PendingMessage): void {
    this.dropPending(pending);
    this.send(pending.conversationId, pending.text, pending.attachments, pending.replyTo);
  }

  dropPending(pending: PendingMessage): void {
    const rest = this.pendingOf(pending.conversationId).filter((entry) => entry !== pending);
    if (rest.length === 0) this.pending.delete(pending.conversationId);
    else this.pending.set(pending.conversationId, rest);
    this.changed();
  }

  // Changing messages.

  /** The sender may edit a text message for `limits.editWindowMs` after sending it. */
  canEdit(message: Message, now = Date.now()): boolean {
    return (
      message.type === 'text' &&
      message.senderId === this.myId &&
      message.deletedAt === undefined &&
      now - Date.parse(message.createdAt) < limits.editWindowMs
    );
  }

  /** The sender deletes their own; a group's admins delete anyone's. */
  canDelete(message: Message): boolean {
    if (message.type !== 'text' || message.deletedAt !== undefined) return false;
    if (message.senderId === this.myId) return true;
    const type = (this.details.get(message.conversationId) ?? this.summaries.get(message.conversationId))?.type;
    return type === 'group' && this.isAdmin(message.conversationId);
  }

  /** Resolves once the server accepted the edit; a refusal shows as the notice and rejects. */
  editMessage(message: Message, text: string): Promise<void> {
    return this.settle(this.client.editMessage(message.conversationId, message.seq, text).accepted);
  }

  deleteMessage(message: Message): Promise<void> {
    return this.settle(this.client.deleteMessage(message.conversationId, message.seq).accepted);
  }

  /** Adds this user's reaction with `emoji`, or takes it back when they already reacted with it. */
  toggleReaction(message: Message, emoji: string): Promise<void> {
    const mine = message.reactions?.some(
      (reaction) => reaction.emoji === emoji && reaction.userIds.includes(this.myId),
    );
    const { accepted } = mine
      ? this.client.unreact(message.conversationId, message.seq, emoji)
      : this.client.react(message.conversationId, message.seq, emoji);
    return this.settle(accepted);
  }

  private async settle(accepted: Promise<Message>): Promise<void> {
    try {
      await accepted;
    } catch (error) {
      this.notice = errorText(error);
      this.changed();
      throw error;
    }
  }

  // Receipts.

  tickOf(message: Message): TickState | undefined {
    if (message.senderId !== this.myId || message.type !== 'text') return undefined;
    const view = this.details.get(message.conversationId);
    if (view === undefined) return 'sent';
    const others = view.members.filter((member) => member.userId !== this.myId);
    return tickState(message.seq, others, this.marks.get(message.conversationId) ?? new Map());
  }

  /** Marks missed while this page was away come from the newest own message's receipts. */
  async seedMarks(conversationId: string, force = false): Promise<void> {
    if (this.seeded.has(conversationId) && !force) return;
    this.seeded.add(conversationId);
    const newestOwn = [...this.client.messages(conversationId)]
      .reverse()
      .find((message) => message.senderId === this.myId && message.type === 'text');
    if (newestOwn === undefined) return;
    try {
      const { receipts } = await this.client.api.readReceipts(newestOwn.id);
      const marks = this.marksOf(conversationId);
      let moved = false;
      for (const row of receipts) {
        if (row.deliveredAt !== null) moved = raiseMarks(marks, row.userId, 'delivered', newestOwn.seq) || moved;
        if (row.readAt !== null) moved = raiseMarks(marks, row.userId, 'read', newestOwn.seq) || moved;
      }
      if (moved) this.changed();
    } catch {
      // Receipts are a nicety; live receipt events still arrive.
      this.seeded.delete(conversationId);
    }
  }

  readReceipts(messageId: string): ReturnType<ParleyClient['api']['readReceipts']> {
    return this.client.api.readReceipts(messageId);
  }

  private marksOf(conversationId: string): Map<string, Marks> {
    let marks = this.marks.get(conversationId);
    if (marks === undefined) {
      marks = new Map();
      this.marks.set(conversationId, marks);
    }
    return marks;
  }

  // Attachments.

  attachment(attachmentId: string): AttachmentEntry | undefined {
    return this.attachments.get(attachmentId);
  }

  /** Fetches fresh signed URLs unless the ones held stay valid for another half minute. */
  async loadAttachment(attachmentId: string, force = false): Promise<void> {
    const entry = this.attachments.get(attachmentId);
    if (entry?.loading === true) return;
    if (!force && entry?.expiresAtMs !== undefined && entry.expiresAtMs - Date.now() > 30_000) return;
    this.attachments.set(attachmentId, { ...entry, loading: true });
    this.changed();
    try {
      const view = await this.client.api.getAttachment(attachmentId);
      const expiresAtMs = view.expiresAt === undefined ? undefined : Date.parse(view.expiresAt);
      this.attachments.set(attachmentId, {
        view,
        loading: false,
        ...(expiresAtMs === undefined ? {} : { expiresAtMs }),
      });
    } catch (error) {
      this.attachments.set(attachmentId, { loading: false, error: errorText(error) });
    }
    this.changed();
  }

  // Events from the SDK.

  private onMessage(message: Message): void {
    // A change shows through `messageChanged` on the message it changes; it raises no count and moves nothing up.
    if (isChangeEntry(message)) {
      if (message.senderId !== this.myId) this.announceChange(message);
      return;
    }
    const conversationId = message.conversationId;
    // Their message is what they were typing.
    this.typists.get(conversationId)?.delete(message.senderId);
    const mine = message.senderId === this.myId;
    const event = message.event;
    if (event !== undefined) {
      const aboutMe = (event.kind === 'memberRemoved' || event.kind === 'memberLeft') && event.userId === this.myId;
      if (aboutMe) {
        this.forget(conversationId);
        this.announce(describeEvent(message, this.nameOf));
        return;
      }
      void this.loadConversation(conversationId, true);
    }
    const summary = this.summaries.get(conversationId);
    if (summary === undefined) {
      // A conversation someone else just started: the listing may not have it yet, so build its entry.
      void this.loadConversation(conversationId).then((view) => {
        if (view === undefined) return;
        // Messages that came while the conversation loaded each apply in turn (by seq, once).
        if (!this.summaries.has(conversationId)) this.adopt(view);
        this.applyToSummary(message, mine);
      });
      this.scheduleRefresh();
    } else {
      this.applyToSummary(message, mine);
    }
    if (!mine) this.announceMessage(message);
  }

  private onMessageChanged(message: Message): void {
    const summary = this.summaries.get(message.conversationId);
    if (summary?.lastMessage?.seq === message.seq) {
      this.summaries.set(message.conversationId, { ...summary, lastMessage: message });
    }
    this.changed();
  }

  private applyToSummary(message: Message, mine: boolean): void {
    const summary = this.summaries.get(message.conversationId);
    if (summary === undefined || message.seq <= (summary.lastMessage?.seq ?? 0)) return;
    const counts = !mine && message.type === 'text' && !this.isReading(message.conversationId);
    const name = message.event?.kind === 'renamed' ? message.event.name : summary.name;
    this.summaries.set(message.conversationId, {
      ...summary,
      ...(name === undefined ? {} : { name }),
      lastSeq: Math.max(summary.lastSeq, message.seq),
      lastMessageSeq: message.seq,
      lastMessageAt: message.createdAt,
      lastMessage: message,
      // A send of one's own clears the count, as the server computes it.
      unreadCount: mine ? 0 : summary.unreadCount + (counts ? 1 : 0),
    });
    this.changed();
  }

  private announceMessage(message: Message): void {
    const sender = this.nameOf(message.senderId);
    const body =
      message.type === 'system'
        ? describeEvent(message, this.nameOf)
        : message.text.trim() !== ''
          ? `${sender}: ${message.text}`
          : `${sender} sent ${message.attachments?.length === 1 ? 'an attachment' : 'attachments'}`;
    const where =
      this.openConversationId === message.conversationId ? '' : ` (in ${this.title(message.conversationId)})`;
    this.announce(`${body}${where}`);
  }

  /** Tells screen-reader users what someone else did to a message, as a sighted user sees it change. */
  private announceChange(change: Message): void {
    const who = this.nameOf(change.senderId);
    const what =
      change.type === 'edit'
        ? 'edited a message'
        : change.type === 'delete'
          ? 'deleted a message'
          : change.removed === true
            ? `took back a ${change.emoji ?? ''} reaction`
            : `reacted ${change.emoji ?? ''}`;
    const where = this.openConversationId === change.conversationId ? '' : ` (in ${this.title(change.conversationId)})`;
    this.announce(`${who} ${what}${where}`);
  }

  private announce(text: string): void {
    this.announcement = text;
    this.changed();
  }

  private onReceipt(receipt: ReceiptEvent): void {
    if (receipt.userId === this.myId) {
      // This user read the conversation on another device.
      const summary = this.summaries.get(receipt.conversationId);
      const lastCounted = summary?.lastMessageSeq ?? summary?.lastSeq ?? 0;
      if (receipt.kind === 'read' && summary !== undefined && receipt.upToSeq >= lastCounted) {
        this.summaries.set(receipt.conversationId, { ...summary, unreadCount: 0 });
        this.changed();
      }
      return;
    }
    if (raiseMarks(this.marksOf(receipt.conversationId), receipt.userId, receipt.kind, receipt.upToSeq)) this.changed();
  }

  private onConnection(state: ConnectionState): void {
    this.connection = state;
    if (state === 'connected') {
      // Back after a gap: the list may have moved, and receipts sent meanwhile were never pushed.
      if (this.everConnected) {
        void this.refreshConversations();
        this.seeded.clear();
        if (this.openConversationId !== undefined) void this.seedMarks(this.openConversationId);
      }
      this.everConnected = true;
    }
    this.changed();
  }
}

export function useStore(store: ChatStore): number {
  return useSyncExternalStore(store.subscribe, store.getVersion);
}
