/**
 * The owner's privacy settings: who may add them to a group (`groupAdds`), whether others see them online
 * (`showPresence`), whether notifications show a preview (`pushPreview`), and turning notifications on for
 * this device (asks the browser then).
 */
import { type FormEvent, useEffect, useState } from 'react';
import { ErrorAlert, messageOf, useAction } from './action';
import { Dialog } from './Dialog';
import { type EnableOutcome, enableNotifications, pushSupported } from './push';
import type { ChatStore } from './store';

type GroupAdds = 'everyone' | 'directChats' | 'nobody';

const choices: readonly { readonly value: GroupAdds; readonly label: string }[] = [
  { value: 'everyone', label: 'Everyone' },
  { value: 'directChats', label: 'People I chat with (a direct chat I started or wrote in)' },
  { value: 'nobody', label: 'Nobody' },
];

export function PrivacySettings({ store, onClose }: { readonly store: ChatStore; readonly onClose: () => void }) {
  const [groupAdds, setGroupAdds] = useState<GroupAdds | undefined>(undefined);
  const [showPresence, setShowPresence] = useState(true);
  const [pushPreview, setPushPreview] = useState(true);
  const [notifications, setNotifications] = useState<EnableOutcome | 'asking' | undefined>(undefined);
  const { busy, error, setError, run } = useAction({ busyAfterSuccess: true });

  // The owner's own profile carries the setting (nobody else's view does).
  useEffect(() => {
    let open = true;
    store.client.api.getUser(store.myId).then(
      (me) => {
        if (!open) return;
        setGroupAdds('groupAdds' in me ? me.groupAdds : 'everyone');
        setShowPresence('showPresence' in me ? me.showPresence : true);
        setPushPreview('pushPreview' in me ? me.pushPreview : true);
      },
      (failure: unknown) => open && setError(messageOf(failure)),
    );
    return () => {
      open = false;
    };
  }, [store, setError]);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    if (groupAdds === undefined) return;
    await run(async () => {
      await store.client.api.updateUser(store.myId, { groupAdds, showPresence, pushPreview });
      onClose();
    });
  };

  return (
    <Dialog title="Privacy" onClose={onClose}>
      <form onSubmit={submit} className="stack">
        <label htmlFor="privacy-group-adds">Who can add me to groups</label>
        <select
          id="privacy-group-adds"
          value={groupAdds ?? 'everyone'}
          disabled={groupAdds === undefined}
          onChange={(event) => setGroupAdds(event.target.value as GroupAdds)}
        >
          {choices.map((choice) => (
            <option key={choice.value} value={choice.value}>
              {choice.label}
            </option>
          ))}
        </select>
        <p className="hint">Anyone can still start a direct chat with you.</p>
        <label className="row">
          <input
            type="checkbox"
            checked={showPresence}
            disabled={groupAdds === undefined}
            onChange={(event) => setShowPresence(event.target.checked)}
          />
          Show when I am online and when I was last seen
        </label>
        <label className="row">
          <input
            type="checkbox"
            checked={pushPreview}
            disabled={groupAdds === undefined}
            onChange={(event) => setPushPreview(event.target.checked)}
          />
          Show a preview of the message in notifications
        </label>
        {pushSupported() ? (
          <div className="row">
            <button
              type="button"
              disabled={notifications === 'asking' || notifications === 'enabled'}
              onClick={() => {
                setNotifications('asking');
                enableNotifications(store.client).then(setNotifications, (failure: unknown) => {
                  setNotifications(undefined);
                  setError(messageOf(failure));
                });
              }}
            >
              {notifications === 'enabled' ? 'Notifications are on for this device' : 'Turn on notifications'}
            </button>
            {notifications === 'denied' ? <p className="hint">The browser blocks notifications for Parley.</p> : null}
          </div>
        ) : null}
        <ErrorAlert error={error} />
        <div className="row end">
          <button type="button" onClick={onClose}>
            Cancel
          </button>
          <button type="submit" className="primary" disabled={busy || groupAdds === undefined}>
            Save
          </button>
        </div>
      </form>
    </Dialog>
  );
}
