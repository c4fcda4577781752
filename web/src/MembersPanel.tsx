/** A group's members: everyone sees them and may leave; admins rename, add and remove. */
import { type FormEvent, useState } from 'react';
import { ErrorAlert, useAction } from './action';
import { parseUserIds } from './NewConversation';
import { PeopleSearch } from './PeopleSearch';
import type { ChatStore } from './store';

export function MembersPanel(props: {
  readonly store: ChatStore;
  readonly conversationId: string;
  readonly onClose: () => void;
}) {
  const { store, conversationId } = props;
  const conversation = store.conversation(conversationId);
  const admin = store.isAdmin(conversationId);
  const [adding, setAdding] = useState('');
  const [name, setName] = useState<string | undefined>(undefined);
  const { busy, error, run } = useAction();

  const add = (event: FormEvent) => {
    event.preventDefault();
    const ids = parseUserIds(adding);
    if (ids.length === 0) return;
    void run(async () => {
      await store.addMembers(conversationId, ids);
      setAdding('');
    });
  };

  const rename = (event: FormEvent) => {
    event.preventDefault();
    const newName = (name ?? '').trim();
    if (newName === '') return;
    void run(async () => {
      await store.rename(conversationId, newName);
      setName(undefined);
    });
  };

  const leave = () => {
    if (!window.confirm('Leave this group? You will stop receiving its messages.')) return;
    void run(() => store.removeMember(conversationId, store.myId));
  };

  const members = [...(conversation?.members ?? [])].sort(
    (a, b) =>
      Number(b.role === 'admin') - Number(a.role === 'admin') ||
      store.nameOf(a.userId).localeCompare(store.nameOf(b.userId)),
  );

  return (
    <aside id="members-panel" className="members-panel" aria-labelledby="members-title">
      <div className="panel-header">
        <h3 id="members-title">Members ({members.length})</h3>
        <button type="button" className="icon" aria-label="Close members" onClick={props.onClose}>
          ×
        </button>
      </div>
      {admin ? (
        <form className="stack" onSubmit={rename}>
          <label htmlFor="group-rename">Group name</label>
          <div className="row">
            <input
              id="group-rename"
              maxLength={100}
              value={name ?? conversation?.name ?? ''}
              onChange={(event) => setName(event.target.value)}
            />
            <button type="submit" className="small" disabled={busy || name === undefined}>
              Rename
            </button>
          </div>
        </form>
      ) : null}
      <ul className="members">
        {members.map((member) => {
          const memberName = store.nameOf(member.userId);
          return (
            <li key={member.userId} data-user-id={member.userId}>
              <span className="member-name">
                {memberName}
                {member.role === 'admin' ? <span className="tag">admin</span> : null}
              </span>
              {admin && member.userId !== store.myId ? (
                <button
                  type="button"
                  className="small danger"
                  disabled={busy}
                  aria-label={`Remove ${memberName}`}
                  onClick={() => void run(() => store.removeMember(conversationId, member.userId))}
                >
                  Remove
                </button>
              ) : null}
            </li>
          );
        })}
      </ul>
      {admin ? (
        <PeopleSearch
          store={store}
          id="group-add-find"
          label="Add people"
          exclude={new Set(conversation?.members.map((member) => member.userId) ?? [])}
          onPick={(person) => void run(() => store.addMembers(conversationId, [person.id]))}
        />
      ) : null}
      {admin ? (
        <form className="stack" onSubmit={add}>
          <label htmlFor="group-add-members">Or add by user ids</label>
          <textarea
            id="group-add-members"
            rows={2}
            spellCheck={false}
            value={adding}
            onChange={(event) => setAdding(event.target.value)}
          />
          <button type="submit" className="small" disabled={busy || adding.trim() === ''}>
            Add
          </button>
        </form>
      ) : null}
      <ErrorAlert error={error} />
      <button type="button" className="danger" disabled={busy} onClick={leave}>
        Leave group
      </button>
    </aside>
  );
}
