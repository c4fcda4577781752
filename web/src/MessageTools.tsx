/** What a message carries beyond its text (a reply's quote, reactions) and what one can do to it: reply, react, edit, delete. */
import { type FormEvent, type KeyboardEvent, useEffect, useRef, useState } from 'react';
import { quoteText } from './format';
import { PencilIcon, ReplyIcon, SmileIcon, TrashIcon } from './icons';
import type { Message, ReplyRef } from './sdk';
import type { ChatStore } from './store';

/** The picker's emoji: the common few every chat app offers first. */
export const quickReactions = ['👍', '❤️', '😂', '😮', '😢', '🎉'] as const;

/** The quote above a reply: who wrote the message it answers, and its start (or that it was deleted). */
export function ReplyQuote({ store, replyTo }: { readonly store: ChatStore; readonly replyTo: ReplyRef }) {
  const sender = store.nameOf(replyTo.senderId);
  return (
    <blockquote
      className={`quote${replyTo.deleted === true ? ' deleted' : ''}`}
      data-reply-to={replyTo.seq}
      aria-label={`Reply to ${sender}`}
    >
      <span className="quote-sender">{sender}</span>
      <span className="quote-text">{quoteText(replyTo)}</span>
    </blockquote>
  );
}

/** Reactions as chips with counts; pressing one toggles this user's own reaction with that emoji. */
export function Reactions({ store, message }: { readonly store: ChatStore; readonly message: Message }) {
  const reactions = message.reactions ?? [];
  if (reactions.length === 0) return null;
  return (
    <ul className="reactions" aria-label="Reactions">
      {reactions.map((reaction) => {
        const mine = reaction.userIds.includes(store.myId);
        const names = reaction.userIds.map((userId) => store.nameOf(userId)).join(', ');
        return (
          <li key={reaction.emoji}>
            <button
              type="button"
              className={`reaction${mine ? ' mine' : ''}`}
              aria-pressed={mine}
              data-emoji={reaction.emoji}
              title={names}
              aria-label={`${reaction.emoji} ${reaction.count}: ${names}`}
              onClick={() => void store.toggleReaction(message, reaction.emoji).catch(() => undefined)}
            >
              <span aria-hidden="true">{reaction.emoji}</span>
              <span className="count" aria-hidden="true">
                {reaction.count}
              </span>
            </button>
          </li>
        );
      })}
    </ul>
  );
}

type Mode = 'idle' | 'picking' | 'confirmingDelete';

/** The actions on one message: reply, react (a small picker), edit and delete where allowed. */
export function MessageActions(props: {
  readonly store: ChatStore;
  readonly message: Message;
  readonly onReply: (message: Message) => void;
  readonly onEdit: () => void;
}) {
  const { store, message } = props;
  const [mode, setMode] = useState<Mode>('idle');
  const [busy, setBusy] = useState(false);
  const panel = useRef<HTMLFieldSetElement>(null);
  const reactButton = useRef<HTMLButtonElement>(null);

  // An opened picker or confirmation takes the focus, so the keyboard goes on where the eyes do.
  useEffect(() => {
    const target =
      panel.current?.querySelector<HTMLButtonElement>('[data-autofocus]') ?? panel.current?.querySelector('button');
    if (mode !== 'idle') target?.focus();
  }, [mode]);

  const react = (emoji: string) => {
    setMode('idle');
    void store.toggleReaction(message, emoji).catch(() => undefined);
  };

  const remove = async () => {
    setBusy(true);
    try {
      await store.deleteMessage(message);
    } catch {
      // The store shows why as its notice.
    }
    setBusy(false);
    setMode('idle');
  };

  const onPanelKey = (event: KeyboardEvent<HTMLFieldSetElement>) => {
    if (event.key !== 'Escape') return;
    setMode('idle');
    reactButton.current?.focus();
  };

  return (
    <div className={`message-actions${mode === 'idle' ? '' : ' open'}`}>
      <div className="action-row" role="toolbar" aria-label="Message actions">
        <button type="button" className="small" aria-label="Reply" title="Reply" onClick={() => props.onReply(message)}>
          <ReplyIcon />
        </button>
        <button
          ref={reactButton}
          type="button"
          className="small"
          aria-label="React"
          title="React"
          aria-expanded={mode === 'picking'}
          onClick={() => setMode(mode === 'picking' ? 'idle' : 'picking')}
        >
          <SmileIcon />
        </button>
        {store.canEdit(message) ? (
          <button type="button" className="small" aria-label="Edit" title="Edit" onClick={props.onEdit}>
            <PencilIcon />
          </button>
        ) : null}
        {store.canDelete(message) ? (
          <button
            type="button"
            className="small"
            aria-label="Delete"
            title="Delete for everyone"
            onClick={() => setMode('confirmingDelete')}
          >
            <TrashIcon />
          </button>
        ) : null}
      </div>
      {mode === 'picking' ? (
        <fieldset className="emoji-picker" ref={panel} onKeyDown={onPanelKey}>
          <legend className="sr-only">Pick a reaction</legend>
          {quickReactions.map((emoji) => (
            <button
              key={emoji}
              type="button"
              className="icon"
              aria-label={`React with ${emoji}`}
              onClick={() => react(emoji)}
            >
              {emoji}
            </button>
          ))}
        </fieldset>
      ) : null}
      {mode === 'confirmingDelete' ? (
        <fieldset className="confirm-delete" ref={panel} onKeyDown={onPanelKey}>
          <legend>Delete this message for everyone?</legend>
          <button type="button" className="small danger" disabled={busy} onClick={() => void remove()}>
            Delete for everyone
          </button>
          {/* Cancel, not the destructive choice, is where Enter lands. */}
          <button type="button" className="small" data-autofocus onClick={() => setMode('idle')}>
            Cancel
          </button>
        </fieldset>
      ) : null}
    </div>
  );
}

/** Editing one's own message in place: Enter saves, Escape cancels. */
export function EditForm(props: { readonly store: ChatStore; readonly message: Message; readonly onDone: () => void }) {
  const { store, message, onDone } = props;
  const [text, setText] = useState(message.text);
  const [busy, setBusy] = useState(false);
  const field = useRef<HTMLTextAreaElement>(null);

  useEffect(() => {
    field.current?.focus();
    field.current?.select();
  }, []);

  const unchanged = text.trim() === message.text.trim();
  // A message with attachments may lose its text; one without must keep some.
  const canSave = !busy && !unchanged && (text.trim() !== '' || (message.attachments?.length ?? 0) > 0);

  const save = async (event?: FormEvent) => {
    event?.preventDefault();
    if (unchanged) {
      onDone();
      return;
    }
    if (!canSave) return;
    setBusy(true);
    try {
      await store.editMessage(message, text.trim());
      onDone();
    } catch {
      // The store shows why; the text stays for another try.
      setBusy(false);
    }
  };

  const onKeyDown = (event: KeyboardEvent<HTMLTextAreaElement>) => {
    if (event.key === 'Escape') {
      event.preventDefault();
      onDone();
    } else if (event.key === 'Enter' && !event.shiftKey && !event.nativeEvent.isComposing) {
      event.preventDefault();
      void save();
    }
  };

  return (
    <form className="edit-form" onSubmit={(event) => void save(event)} aria-label="Edit message">
      <textarea
        ref={field}
        aria-label="Edited message"
        rows={2}
        maxLength={4000}
        value={text}
        onChange={(event) => setText(event.target.value)}
        onKeyDown={onKeyDown}
      />
      <div className="edit-buttons">
        <button type="submit" className="small primary" disabled={!canSave && !unchanged}>
          Save
        </button>
        <button type="button" className="small" onClick={onDone}>
          Cancel
        </button>
      </div>
    </form>
  );
}
