import { type AttachmentPart, type ContainerFormat, media, mediaKeys, typeSpecFor } from '../config/media';
import { type ContainerVerdict, checkContainer } from '../media/container';
import { contentDispositionFor, dispositionForKind, servedFileName } from '../media/file-name';
import { cleanImage, makeThumbnail, UnreadableImageError } from '../media/image';
import { inspectUpload, sniffByteCount } from '../media/inspect';
import type { Attachment, AttachmentRejection } from '../model';
import type { AttachmentRepository, ProcessedPart } from '../repositories/attachment-repository';
import type { MediaStore } from '../repositories/media-store';

/** An object S3 reports as created: its key and size. */
export interface CreatedObject {
  readonly key: string;
  readonly size: number;
}

export type ProcessingOutcome =
  /** Not an upload key: nothing to do. */
  | { readonly kind: 'ignored' }
  /** No pending attachment wants this part (unknown id, a second PUT, after a rejection): the upload is dropped. */
  | { readonly kind: 'discarded'; readonly attachmentId: string }
  /** The upload was already gone (a repeated notification). */
  | { readonly kind: 'gone'; readonly attachmentId: string }
  | { readonly kind: 'rejected'; readonly attachmentId: string; readonly rejection: AttachmentRejection }
  | {
      readonly kind: 'processed';
      readonly attachmentId: string;
      readonly part: AttachmentPart;
      readonly ready: boolean;
    };

/**
 * Turns an upload into served media: the bytes must be what was declared, images are re-encoded
 * without metadata (EXIF, GPS) and get a thumbnail, videos take their thumbnail from the poster
 * part. Outputs go under the media prefix, which no client can write, so a second PUT on a still
 * valid upload URL cannot replace what was checked.
 */
export class MediaProcessingService {
  constructor(
    private readonly attachments: AttachmentRepository,
    private readonly store: MediaStore,
  ) {}

  async process(object: CreatedObject): Promise<ProcessingOutcome> {
    const upload = mediaKeys.parseUpload(object.key);
    if (!upload) return { kind: 'ignored' };
    const { attachmentId, part } = upload;
    const attachment = await this.attachments.get(attachmentId);
    const wanted =
      attachment !== undefined &&
      attachment.conversationId === upload.conversationId &&
      attachment.status === 'pending' &&
      attachment.parts.includes(part) &&
      !attachment.processedParts.includes(part);
    if (!wanted) {
      await this.store.delete(object.key);
      return { kind: 'discarded', attachmentId };
    }

    const declared = part === 'poster' ? attachment.poster : undefined;
    const declaredType = declared?.contentType ?? attachment.declaredContentType;
    const declaredSize = declared?.size ?? attachment.declaredSize;
    if (object.size !== declaredSize) return this.reject(attachment, object.key, 'size_mismatch');

    const wholeImage = part === 'poster' || attachment.kind === 'image';
    const bytes = await this.store.read(object.key, wholeImage ? declaredSize : sniffByteCount);
    if (bytes === undefined) return { kind: 'gone', attachmentId };
    const inspection = await inspectUpload(bytes.subarray(0, sniffByteCount), declaredType);
    if (!inspection.ok) return this.reject(attachment, object.key, inspection.reason);

    // A magic number only says how a file starts: a container is walked past it, and one that does
    // not hold is refused; one too long to walk (a fragmented recording) is served as a download.
    const container = part === 'original' ? typeSpecFor(inspection.contentType)?.container : undefined;
    const verdict = container === undefined ? 'valid' : await this.walk(container, object.key, bytes, declaredSize);
    if (verdict === 'gone') return { kind: 'gone', attachmentId };
    if (verdict === 'malformed') return this.reject(attachment, object.key, 'unreadable');
    const containerVerified = verdict === 'valid';

    let processed: ProcessedPart;
    try {
      processed = await this.writeServed(
        attachment,
        part,
        object.key,
        bytes,
        inspection.contentType,
        containerVerified,
      );
    } catch (error) {
      if (error instanceof UnreadableImageError) return this.reject(attachment, object.key, 'unreadable');
      throw error;
    }
    const updated = await this.attachments.recordPart(attachmentId, processed);
    const complete = updated?.parts.every((needed) => updated.processedParts.includes(needed));
    const ready = complete ? await this.attachments.settle(attachmentId, 'ready') : false;
    await this.store.delete(object.key);
    return { kind: 'processed', attachmentId, part, ready };
  }

  /** The upload's container structure, reading box headers past the head it has; `gone` if the upload vanished. */
  private async walk(
    format: ContainerFormat,
    key: string,
    head: Uint8Array,
    size: number,
  ): Promise<ContainerVerdict | 'gone'> {
    try {
      return await checkContainer(format, head, size, async (offset, length) => {
        const range = await this.store.readRange(key, offset, length);
        if (range === undefined) throw new UploadGoneError();
        return range;
      });
    } catch (error) {
      if (error instanceof UploadGoneError) return 'gone';
      throw error;
    }
  }

  /** Writes the served objects for one part and says what they are. */
  private async writeServed(
    attachment: Attachment,
    part: AttachmentPart,
    uploadKey: string,
    bytes: Uint8Array,
    contentType: string,
    containerVerified: boolean,
  ): Promise<ProcessedPart> {
    const originalKey = mediaKeys.original(attachment.conversationId, attachment.id);
    const thumbnailKey = mediaKeys.thumbnail(attachment.conversationId, attachment.id);
    // Named for the confirmed type (the upload route named it for the declared one, which is the same).
    const fileName = servedFileName(attachment.fileName, contentType);
    const servedAs = {
      contentType,
      contentDisposition: contentDispositionFor(fileName, dispositionForKind(attachment.kind, containerVerified)),
      fileName,
    };
    const thumbnailServedAs = {
      contentType: media.thumbnail.contentType,
      contentDisposition: contentDispositionFor(`${fileName}.thumbnail.webp`, 'inline'),
      fileName,
    };

    if (part === 'poster') {
      const thumbnail = await makeThumbnail(bytes);
      await this.store.putProcessed(thumbnailKey, thumbnail.data, thumbnailServedAs);
      return { part, thumbnail: thumbnailInfo(thumbnail) };
    }
    if (attachment.kind === 'image') {
      const [clean, thumbnail] = await Promise.all([cleanImage(bytes, contentType), makeThumbnail(bytes)]);
      await Promise.all([
        this.store.putProcessed(originalKey, clean.data, servedAs),
        this.store.putProcessed(thumbnailKey, thumbnail.data, thumbnailServedAs),
      ]);
      return {
        part,
        contentType: clean.contentType,
        size: clean.data.byteLength,
        width: clean.width,
        height: clean.height,
        thumbnail: thumbnailInfo(thumbnail),
      };
    }
    // Videos and files are served as uploaded: a server-side copy, no bytes through the function.
    await this.store.copyProcessed(uploadKey, originalKey, servedAs);
    return { part, contentType, size: attachment.declaredSize };
  }

  private async reject(
    attachment: Attachment,
    uploadKey: string,
    rejection: AttachmentRejection,
  ): Promise<ProcessingOutcome> {
    await this.attachments.settle(attachment.id, 'rejected', rejection);
    await this.store.delete(uploadKey);
    return { kind: 'rejected', attachmentId: attachment.id, rejection };
  }
}

/** The upload vanished while its container was walked: another run of a repeated notification took it. */
class UploadGoneError extends Error {
  override readonly name = 'UploadGoneError';
}

function thumbnailInfo(image: { width: number; height: number; contentType: string }) {
  return { width: image.width, height: image.height, contentType: image.contentType };
}
