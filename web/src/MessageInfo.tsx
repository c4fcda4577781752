/** Per-member delivery and read times of one of your messages in a group (GET /messages/{id}/read_receipts). */
import { useEffect, useState } from 'react';
import { Dialog } from './Dialog';
import { formatFullTime } from './format';
import type { Message, MessageReceipts } from './sdk';
import type { ChatStore } from './store';

export function MessageInfoDialog(props: {
  readonly store: ChatStore;
  readonly message: Message;
  readonly onClose: () => void;
}) {
  const { store, message } = props;
  const [receipts, setReceipts] = useState<MessageReceipts | undefined>(undefined);
  const [error, setError] = useState<string | undefined>(undefined);

  useEffect(() => {
    let cancelled = false;
    store.readReceipts(message.id).then(
      (answer) => {
        if (!cancelled) setReceipts(answer);
      },
      (failure: unknown) => {
        if (!cancelled) setError(failure instanceof Error ? failure.message : String(failure));
      },
    );
    return () => {
      cancelled = true;
    };
  }, [store, message.id]);

  return (
    <Dialog title="Message info" onClose={props.onClose}>
      {message.text === '' ? null : <blockquote className="quote">{message.text}</blockquote>}
      {error !== undefined ? (
        <p className="error" role="alert">
          {error}
        </p>
      ) : receipts === undefined ? (
        <p className="muted">Loading…</p>
      ) : receipts.receipts.length === 0 ? (
        <p className="muted">Nobody else was in the group when you sent this.</p>
      ) : (
        <table className="receipts">
          <caption className="sr-only">Who has your message</caption>
          <thead>
            <tr>
              <th scope="col">Member</th>
              <th scope="col">Delivered</th>
              <th scope="col">Read</th>
            </tr>
          </thead>
          <tbody>
            {receipts.receipts.map((row) => (
              <tr key={row.userId} data-user-id={row.userId}>
                <th scope="row">{store.nameOf(row.userId)}</th>
                <td>{row.deliveredAt === null ? '—' : formatFullTime(row.deliveredAt)}</td>
                <td>{row.readAt === null ? '—' : formatFullTime(row.readAt)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </Dialog>
  );
}
