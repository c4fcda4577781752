import { ulid } from 'ulid';
import { type Clock, epochSeconds } from '../clock';
import { type AttachmentPart, kindOfContentType, media, mediaKeys, mediaKinds } from '../config/media';
import {
  BadRequestError,
  ConflictError,
  NotFoundError,
  PayloadTooLargeError,
  UnsupportedMediaTypeError,
} from '../errors';
import { servedFileName } from '../media/file-name';
import type { DownloadUrlSigner, UploadUrlSigner } from '../media/url-signers';
import { type Attachment, type MessageAttachment, visibleFromSeq } from '../model';
import type { AttachmentRepository } from '../repositories/attachment-repository';
import type { ConversationRepository } from '../repositories/conversation-repository';

export interface DeclaredFile {
  readonly contentType: string;
  readonly size: number;
}

export interface CreateUploadInput extends DeclaredFile {
  readonly uploaderId: string;
  readonly conversationId: string;
  readonly fileName: string;
  /** Videos only: the still the client made, uploaded as a second part. */
  readonly poster?: DeclaredFile;
}

export interface UploadTarget {
  readonly uploadUrl: string;
  readonly uploadHeaders: Readonly<Record<string, string>>;
}

export interface UploadTicket extends UploadTarget {
  readonly attachmentId: string;
  /** When the upload URLs stop working. */
  readonly expiresAt: string;
  readonly poster?: UploadTarget;
}

/** An attachment as its reader sees it; download URLs once it is ready. */
export interface AttachmentView extends MessageAttachment {
  readonly conversationId: string;
  readonly uploaderId: string;
  readonly status: Attachment['status'];
  readonly createdAt: string;
  readonly rejection?: Attachment['rejection'];
  readonly url?: string;
  readonly thumbnailUrl?: string;
  /** When `url` and `thumbnailUrl` stop working; ask again for fresh ones. */
  readonly expiresAt?: string;
}

/** Uploads by members: a pending attachment and presigned PUTs for its parts. */
export class AttachmentUploads {
  constructor(
    private readonly attachments: AttachmentRepository,
    private readonly conversations: ConversationRepository,
    private readonly uploads: UploadUrlSigner,
    private readonly clock: Clock,
  ) {}

  /** Checks kind, type and size (415/413) before anything is written or signed, then membership. */
  async createUpload(input: CreateUploadInput): Promise<UploadTicket> {
    const contentType = normaliseContentType(input.contentType);
    const kind = kindOfContentType(contentType);
    if (kind === undefined) {
      throw new UnsupportedMediaTypeError(`Content type ${contentType} is not accepted`, {
        accepted: Object.fromEntries(
          Object.entries(mediaKinds).map(([name, spec]) => [name, Object.keys(spec.contentTypes)]),
        ),
      });
    }
    const maxBytes = mediaKinds[kind].maxBytes;
    if (input.size > maxBytes) {
      throw new PayloadTooLargeError(`A ${kind} may be at most ${maxBytes} bytes`, { kind, maxBytes });
    }
    const poster = input.poster ? declaredPoster(input.poster) : undefined;
    if (poster && kind !== 'video') throw new BadRequestError('Only a video takes a poster image');

    const { conversation, member } = await this.conversations.getMembership(input.conversationId, input.uploaderId);
    if (!conversation || !member) throw new NotFoundError('Conversation not found');

    const now = this.clock.now();
    const attachmentId = ulid();
    const parts: AttachmentPart[] = poster ? ['original', 'poster'] : ['original'];
    await this.attachments.create(
      {
        id: attachmentId,
        conversationId: input.conversationId,
        uploaderId: input.uploaderId,
        kind,
        // Named for the declared type, which processing must confirm from the bytes or reject.
        fileName: servedFileName(input.fileName, contentType),
        declaredContentType: contentType,
        declaredSize: input.size,
        ...(poster ? { poster } : {}),
        parts,
        processedParts: [],
        status: 'pending',
        createdAt: now.toISOString(),
      },
      epochSeconds(now) + media.unsentRetentionDays * 24 * 60 * 60,
    );

    const sign = async (part: AttachmentPart, file: DeclaredFile): Promise<UploadTarget> => {
      const key = mediaKeys.upload(input.conversationId, attachmentId, part);
      const signed = await this.uploads.presignPut(key, file.contentType, file.size, media.uploadUrlTtlSeconds);
      return { uploadUrl: signed.url, uploadHeaders: signed.headers };
    };
    const [original, posterTarget] = await Promise.all([
      sign('original', { contentType, size: input.size }),
      poster ? sign('poster', poster) : undefined,
    ]);
    return {
      attachmentId,
      ...original,
      expiresAt: new Date(now.getTime() + media.uploadUrlTtlSeconds * 1000).toISOString(),
      ...(posterTarget ? { poster: posterTarget } : {}),
    };
  }
}

/** Reads by those allowed to see an attachment, with signed download URLs once it is ready. */
export class AttachmentReads {
  constructor(
    private readonly attachments: AttachmentRepository,
    private readonly conversations: ConversationRepository,
    private readonly downloads: DownloadUrlSigner,
    private readonly clock: Clock,
  ) {}

  /**
   * A current member sees an attachment once it was sent at a seq their history covers; before
   * that only its uploader does. Everyone else gets the same 404 as for an unknown id, and so does
   * everyone once the message that carried it was deleted.
   */
  async get(callerId: string, attachmentId: string): Promise<AttachmentView> {
    const attachment = await this.attachments.get(attachmentId);
    if (!attachment || attachment.withdrawnSeq !== undefined) throw new NotFoundError('Attachment not found');
    const { conversation, member } = await this.conversations.getMembership(attachment.conversationId, callerId);
    if (!conversation || !member) throw new NotFoundError('Attachment not found');
    const visible =
      attachment.sentSeq === undefined
        ? attachment.uploaderId === callerId
        : attachment.sentSeq >= visibleFromSeq(conversation, member);
    if (!visible) throw new NotFoundError('Attachment not found');

    const view: AttachmentView = {
      ...toMessageAttachment(attachment),
      conversationId: attachment.conversationId,
      uploaderId: attachment.uploaderId,
      status: attachment.status,
      createdAt: attachment.createdAt,
      ...(attachment.rejection ? { rejection: attachment.rejection } : {}),
    };
    if (attachment.status !== 'ready') return view;
    const expiresAt = new Date(this.clock.now().getTime() + media.downloadUrlTtlSeconds * 1000);
    const [url, thumbnailUrl] = await Promise.all([
      this.downloads.sign(mediaKeys.original(attachment.conversationId, attachment.id), expiresAt),
      attachment.thumbnail
        ? this.downloads.sign(mediaKeys.thumbnail(attachment.conversationId, attachment.id), expiresAt)
        : undefined,
    ]);
    return { ...view, url, ...(thumbnailUrl ? { thumbnailUrl } : {}), expiresAt: expiresAt.toISOString() };
  }
}

/** The check a send makes on the attachments it lists, and its writes in the send transaction. */
export class SendableAttachments {
  constructor(
    private readonly attachments: AttachmentRepository,
    private readonly clock: Clock,
  ) {}

  /**
   * What a message may carry: ready attachments of this conversation uploaded by the sender,
   * young enough that the lifecycle rule cannot take them before they are marked kept.
   */
  async resolveForSend(
    conversationId: string,
    senderId: string,
    attachmentIds: readonly string[],
  ): Promise<MessageAttachment[]> {
    if (new Set(attachmentIds).size !== attachmentIds.length) {
      throw new BadRequestError('The same attachment is listed twice');
    }
    const found = new Map((await this.attachments.getMany(attachmentIds)).map((item) => [item.id, item]));
    const oldestSendable = this.clock.now().getTime() - media.sendableForSeconds * 1000;
    return attachmentIds.map((attachmentId) => {
      const attachment = found.get(attachmentId);
      if (
        !attachment ||
        attachment.conversationId !== conversationId ||
        attachment.uploaderId !== senderId ||
        attachment.withdrawnSeq !== undefined
      ) {
        throw new BadRequestError('Unknown attachment', { attachmentId });
      }
      if (attachment.status === 'pending') {
        throw new ConflictError('The attachment is still being processed; send again once it is ready');
      }
      if (attachment.status === 'rejected') {
        throw new BadRequestError('The attachment was rejected', { attachmentId, rejection: attachment.rejection });
      }
      if (attachment.sentSeq === undefined && Date.parse(attachment.createdAt) < oldestSendable) {
        throw new BadRequestError('The upload is too old to send; upload it again', { attachmentId });
      }
      return toMessageAttachment(attachment);
    });
  }
}

/** `Image/JPEG; charset=x` and `image/jpeg` are the same declared type. */
function normaliseContentType(contentType: string): string {
  return (contentType.split(';')[0] ?? '').trim().toLowerCase();
}

function declaredPoster(poster: DeclaredFile): DeclaredFile {
  const contentType = normaliseContentType(poster.contentType);
  if (!(media.poster.contentTypes as readonly string[]).includes(contentType)) {
    throw new UnsupportedMediaTypeError(`A poster must be one of ${media.poster.contentTypes.join(', ')}`, {
      accepted: media.poster.contentTypes,
    });
  }
  if (poster.size > media.poster.maxBytes) {
    throw new PayloadTooLargeError(`A poster may be at most ${media.poster.maxBytes} bytes`, {
      maxBytes: media.poster.maxBytes,
    });
  }
  return { contentType, size: poster.size };
}

export function toMessageAttachment(attachment: Attachment): MessageAttachment {
  return {
    id: attachment.id,
    kind: attachment.kind,
    fileName: attachment.fileName,
    contentType: attachment.contentType ?? attachment.declaredContentType,
    size: attachment.size ?? attachment.declaredSize,
    ...(attachment.width === undefined ? {} : { width: attachment.width }),
    ...(attachment.height === undefined ? {} : { height: attachment.height }),
    ...(attachment.thumbnail ? { thumbnail: attachment.thumbnail } : {}),
  };
}
