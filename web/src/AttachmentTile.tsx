/**
 * An attachment in a message: signed URLs are fetched (GET /attachments/{id}) once it scrolls into
 * view and fetched again before they expire; images and video posters show their thumbnail.
 */
import { type RefObject, useEffect, useRef, useState } from 'react';
import { formatSize } from './format';
import { FileIcon, ImageIcon, PlayIcon, VideoIcon } from './icons';
import type { MessageAttachment } from './sdk';
import type { ChatStore, PendingAttachment } from './store';

/** Fetch fresh URLs this long before the held ones expire. */
const refreshMarginMs = 60_000;

function useInView<T extends Element>(): [RefObject<T | null>, boolean] {
  const ref = useRef<T>(null);
  const [inView, setInView] = useState(false);
  useEffect(() => {
    const element = ref.current;
    if (element === null || inView) return;
    const observer = new IntersectionObserver(
      (entries) => {
        if (entries.some((entry) => entry.isIntersecting)) {
          setInView(true);
          observer.disconnect();
        }
      },
      { rootMargin: '200px' },
    );
    observer.observe(element);
    return () => observer.disconnect();
  }, [inView]);
  return [ref, inView];
}

export function AttachmentTile(props: { readonly store: ChatStore; readonly attachment: MessageAttachment }) {
  const { store, attachment } = props;
  const [ref, inView] = useInView<HTMLDivElement>();
  const entry = store.attachment(attachment.id);
  const [failedThumbnail, setFailedThumbnail] = useState<string | undefined>(undefined);

  useEffect(() => {
    if (inView) void store.loadAttachment(attachment.id);
  }, [store, attachment.id, inView]);

  const expiresAtMs = entry?.expiresAtMs;
  useEffect(() => {
    if (!inView || expiresAtMs === undefined) return;
    const timer = window.setTimeout(
      () => void store.loadAttachment(attachment.id, true),
      Math.max(0, expiresAtMs - Date.now() - refreshMarginMs),
    );
    return () => window.clearTimeout(timer);
  }, [store, attachment.id, inView, expiresAtMs]);

  const view = entry?.view;
  const url = view?.url;
  const thumbnailUrl = view?.thumbnailUrl;
  const thumbnail = attachment.thumbnail;
  const label = attachment.kind === 'image' ? 'image' : attachment.kind === 'video' ? 'video' : 'file';

  // A thumbnail that fails to load has most likely expired: ask once for fresh URLs.
  const onThumbnailError = () => {
    if (thumbnailUrl === undefined || failedThumbnail === thumbnailUrl) return;
    setFailedThumbnail(thumbnailUrl);
    void store.loadAttachment(attachment.id, true);
  };

  if (thumbnail !== undefined && (attachment.kind === 'image' || attachment.kind === 'video')) {
    const image =
      thumbnailUrl === undefined ? (
        <span
          className="thumb-placeholder"
          style={{ aspectRatio: `${thumbnail.width} / ${thumbnail.height}` }}
          aria-hidden="true"
        />
      ) : (
        <img
          src={thumbnailUrl}
          alt={attachment.fileName}
          width={thumbnail.width}
          height={thumbnail.height}
          onError={onThumbnailError}
        />
      );
    return (
      <div ref={ref} className={`attachment ${attachment.kind}`} data-attachment-id={attachment.id}>
        {url === undefined ? (
          <span className="thumb" role="img" aria-label={`${attachment.fileName} (loading)`}>
            {image}
          </span>
        ) : (
          <a
            className="thumb"
            href={url}
            target="_blank"
            rel="noopener noreferrer"
            aria-label={`Open ${label} ${attachment.fileName}`}
          >
            {image}
            {attachment.kind === 'video' ? (
              <span className="play">
                <PlayIcon />
              </span>
            ) : null}
          </a>
        )}
        {entry?.error === undefined ? null : <span className="error small-text">{entry.error}</span>}
      </div>
    );
  }

  const text = (
    <>
      <KindIcon kind={attachment.kind} /> <span className="file-name">{attachment.fileName}</span>{' '}
      <span className="muted">{formatSize(attachment.size)}</span>
    </>
  );
  return (
    <div ref={ref} className={`attachment file-tile ${attachment.kind}`} data-attachment-id={attachment.id}>
      {url === undefined ? (
        <span className="file-link">{text}</span>
      ) : (
        <a
          className="file-link"
          href={url}
          target="_blank"
          rel="noopener noreferrer"
          aria-label={`Open ${label} ${attachment.fileName}`}
        >
          {text}
        </a>
      )}
      {entry?.error === undefined ? null : <span className="error small-text">{entry.error}</span>}
    </div>
  );
}

export function PendingAttachmentTile({ attachment }: { readonly attachment: PendingAttachment }) {
  return (
    <div className="attachment file-tile">
      <span className="file-link">
        <KindIcon kind={attachment.kind} /> <span className="file-name">{attachment.fileName}</span>
      </span>
    </div>
  );
}

function KindIcon({ kind }: { readonly kind: 'image' | 'video' | 'file' }) {
  return kind === 'image' ? <ImageIcon /> : kind === 'video' ? <VideoIcon /> : <FileIcon />;
}
