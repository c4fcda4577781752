/** Writing a message: text, and files that upload (with progress) as soon as they are picked. */
import { type FormEvent, type KeyboardEvent, useEffect, useRef, useState } from 'react';
import { formatSize, quoteText } from './format';
import { PaperclipIcon } from './icons';
import { type Message, ParleyApiError, ParleyUploadError, type ReplyRef } from './sdk';
import type { ChatStore, PendingAttachment } from './store';

const maxAttachments = 10;

interface Upload {
  readonly key: string;
  readonly fileName: string;
  readonly size: number;
  sent: number;
  total: number;
  status: 'uploading' | 'ready' | 'failed';
  attachment?: PendingAttachment;
  error?: string;
}

/** Some systems give no type for common files; the server checks the bytes either way. */
const typesByExtension: Readonly<Record<string, string>> = {
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  png: 'image/png',
  webp: 'image/webp',
  gif: 'image/gif',
  mp4: 'video/mp4',
  mov: 'video/quicktime',
  webm: 'video/webm',
  pdf: 'application/pdf',
  txt: 'text/plain',
  csv: 'text/csv',
  zip: 'application/zip',
  mp3: 'audio/mpeg',
  ogg: 'audio/ogg',
};

function contentTypeOf(file: File): string {
  if (file.type !== '') return file.type;
  const extension = file.name.split('.').pop()?.toLowerCase() ?? '';
  return typesByExtension[extension] ?? 'application/octet-stream';
}

function uploadErrorText(error: unknown): string {
  if (error instanceof ParleyApiError) {
    if (error.status === 415) return 'This type of file cannot be sent';
    if (error.status === 413) return 'This file is too large';
    return error.message;
  }
  if (error instanceof ParleyUploadError && error.reason === 'rejected') {
    return error.rejection === 'type_mismatch' ? 'The file is not what its type says' : 'The file could not be read';
  }
  return error instanceof Error ? error.message : String(error);
}

/** A still from the video (its first frames) to become its thumbnail; undefined when the browser cannot decode it. */
function videoPoster(file: File): Promise<Blob | undefined> {
  return new Promise((resolve) => {
    const url = URL.createObjectURL(file);
    const video = document.createElement('video');
    const finish = (blob: Blob | undefined) => {
      window.clearTimeout(timer);
      URL.revokeObjectURL(url);
      resolve(blob);
    };
    const timer = window.setTimeout(() => finish(undefined), 5000);
    video.muted = true;
    video.preload = 'auto';
    video.onerror = () => finish(undefined);
    video.onloadeddata = () => {
      video.currentTime = Math.min(0.5, video.duration / 2 || 0);
    };
    video.onseeked = () => {
      const canvas = document.createElement('canvas');
      canvas.width = video.videoWidth;
      canvas.height = video.videoHeight;
      const context = canvas.getContext('2d');
      if (context === null || canvas.width === 0) {
        finish(undefined);
        return;
      }
      context.drawImage(video, 0, 0);
      canvas.toBlob((blob) => finish(blob ?? undefined), 'image/jpeg', 0.85);
    };
    video.src = url;
  });
}

/** What the composer quotes while replying (the server stores its own preview with the reply). */
function replyRefOf(message: Message): ReplyRef {
  return {
    seq: message.seq,
    senderId: message.senderId,
    preview: message.text,
    ...((message.attachments?.length ?? 0) > 0 ? { hasAttachments: true } : {}),
  };
}

export function Composer(props: {
  readonly store: ChatStore;
  readonly conversationId: string;
  readonly onSent: () => void;
  /** The message the next send answers. */
  readonly replyingTo?: Message | undefined;
  readonly onCancelReply: () => void;
}) {
  const { store, conversationId } = props;
  const [text, setText] = useState('');
  const [uploads, setUploads] = useState<Upload[]>([]);
  const fileInput = useRef<HTMLInputElement>(null);
  const textArea = useRef<HTMLTextAreaElement>(null);

  useEffect(() => {
    textArea.current?.focus();
  }, []);

  // Choosing a message to answer puts the cursor where the answer goes.
  const replySeq = props.replyingTo?.seq;
  useEffect(() => {
    if (replySeq !== undefined) textArea.current?.focus();
  }, [replySeq]);

  const update = (key: string, change: Partial<Upload>) =>
    setUploads((current) => current.map((upload) => (upload.key === key ? { ...upload, ...change } : upload)));

  const startUpload = async (file: File) => {
    const key = crypto.randomUUID();
    const contentType = contentTypeOf(file);
    setUploads((current) => [
      ...current,
      { key, fileName: file.name, size: file.size, sent: 0, total: file.size, status: 'uploading' },
    ]);
    try {
      const poster = contentType.startsWith('video/') ? await videoPoster(file) : undefined;
      const view = await store.client.upload(conversationId, file, {
        fileName: file.name,
        contentType,
        ...(poster === undefined ? {} : { poster: { file: poster, contentType: 'image/jpeg' } }),
        onProgress: (sent, total) => update(key, { sent, total }),
      });
      update(key, { status: 'ready', attachment: { id: view.id, fileName: view.fileName, kind: view.kind } });
    } catch (error) {
      update(key, { status: 'failed', error: uploadErrorText(error) });
    }
  };

  const onFiles = (files: FileList | null) => {
    if (files === null) return;
    const room = maxAttachments - uploads.length;
    for (const file of [...files].slice(0, Math.max(0, room))) void startUpload(file);
    if (fileInput.current !== null) fileInput.current.value = '';
  };

  const ready = uploads.flatMap((upload) => (upload.attachment === undefined ? [] : [upload.attachment]));
  const uploading = uploads.some((upload) => upload.status === 'uploading');
  const canSend = !uploading && (text.trim() !== '' || ready.length > 0);

  const submit = (event?: FormEvent) => {
    event?.preventDefault();
    if (!canSend) return;
    const replyTo = props.replyingTo === undefined ? undefined : replyRefOf(props.replyingTo);
    store.send(conversationId, text.trim(), ready, replyTo);
    if (replyTo !== undefined) props.onCancelReply();
    setText('');
    setUploads([]);
    props.onSent();
    textArea.current?.focus();
  };

  const onKeyDown = (event: KeyboardEvent<HTMLTextAreaElement>) => {
    // Enter sends, Shift+Enter breaks the line; never in the middle of an IME composition.
    if (event.key === 'Enter' && !event.shiftKey && !event.nativeEvent.isComposing) {
      event.preventDefault();
      submit();
    } else if (event.key === 'Escape' && props.replyingTo !== undefined) {
      props.onCancelReply();
    }
  };

  return (
    <form className="composer" onSubmit={submit} aria-label="Send a message">
      {props.replyingTo === undefined ? null : (
        <div className="replying" data-reply-to={props.replyingTo.seq}>
          <div className="replying-text">
            <span className="quote-sender">Replying to {store.nameOf(props.replyingTo.senderId)}</span>
            <span className="quote-text">{quoteText(replyRefOf(props.replyingTo))}</span>
          </div>
          <button type="button" className="icon small" aria-label="Cancel reply" onClick={props.onCancelReply}>
            ×
          </button>
        </div>
      )}
      {uploads.length === 0 ? null : (
        <ul className="uploads" aria-label="Attachments">
          {uploads.map((upload) => (
            <li key={upload.key} className={`upload ${upload.status}`}>
              <span className="file-name">{upload.fileName}</span>
              <span className="muted">{formatSize(upload.size)}</span>
              {upload.status === 'uploading' ? (
                <>
                  <progress max={upload.total} value={upload.sent} aria-label={`Uploading ${upload.fileName}`} />
                  {upload.sent >= upload.total ? <span className="muted">Processing…</span> : null}
                </>
              ) : upload.status === 'ready' ? (
                <span className="ok">Ready</span>
              ) : (
                <span className="error">{upload.error}</span>
              )}
              <button
                type="button"
                className="icon small"
                aria-label={`Remove ${upload.fileName}`}
                onClick={() => setUploads((current) => current.filter((entry) => entry.key !== upload.key))}
              >
                ×
              </button>
            </li>
          ))}
        </ul>
      )}
      <div className="composer-row">
        <input
          ref={fileInput}
          id="composer-files"
          type="file"
          multiple
          // Hidden: the button below opens it, so keyboard and screen-reader users meet one control.
          hidden
          onChange={(event) => onFiles(event.target.files)}
        />
        <button
          type="button"
          className="icon attach"
          aria-label="Attach files"
          title="Attach images, videos or files"
          disabled={uploads.length >= maxAttachments}
          onClick={() => fileInput.current?.click()}
        >
          <PaperclipIcon />
        </button>
        <label htmlFor="composer-text" className="sr-only">
          Message
        </label>
        <textarea
          ref={textArea}
          id="composer-text"
          rows={1}
          placeholder="Write a message"
          maxLength={4000}
          value={text}
          onChange={(event) => {
            setText(event.target.value);
            if (event.target.value !== '') store.typing(props.conversationId);
          }}
          onKeyDown={onKeyDown}
        />
        <button type="submit" className="primary" disabled={!canSend}>
          Send
        </button>
      </div>
    </form>
  );
}
