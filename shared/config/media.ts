/**
 * Media limits, accepted types and the bucket layout, declared once: the upload handler refuses
 * by them, the processor checks bytes against them, and the CDK bucket (CORS, lifecycle,
 * notification prefix), the CDN's response headers and the local stand-ins are configured from them.
 */
export type AttachmentKind = 'image' | 'video' | 'file';

/** How the processor confirms a declared type from the bytes. */
export type SniffRule =
  /** Magic numbers must name one of these MIME types (file-type's names). */
  | { readonly magic: readonly string[] }
  /** No magic number exists: the bytes must be UTF-8 text without NUL characters. */
  | { readonly text: true };

/** A container format whose structure the processor walks past the magic number (shared/media/container.ts). */
export type ContainerFormat = 'isobmff' | 'ebml';

export type TypeSpec = SniffRule & {
  /** File name extensions of the type, lowercase, the usual one first: a served name always ends with one. */
  readonly extensions: readonly [string, ...string[]];
  readonly container?: ContainerFormat;
};

export interface KindSpec {
  /** Largest accepted upload; one presigned PUT (S3's single PUT allows 5 GB). */
  readonly maxBytes: number;
  readonly contentTypes: Readonly<Record<string, TypeSpec>>;
}

const MiB = 1024 * 1024;

export const mediaKinds = {
  image: {
    maxBytes: 25 * MiB,
    contentTypes: {
      'image/jpeg': { magic: ['image/jpeg'], extensions: ['jpg', 'jpeg'] },
      'image/png': { magic: ['image/png'], extensions: ['png'] },
      'image/webp': { magic: ['image/webp'], extensions: ['webp'] },
      'image/gif': { magic: ['image/gif'], extensions: ['gif'] },
    },
  },
  video: {
    maxBytes: 250 * MiB,
    contentTypes: {
      'video/mp4': { magic: ['video/mp4'], extensions: ['mp4', 'm4v'], container: 'isobmff' },
      'video/quicktime': { magic: ['video/quicktime'], extensions: ['mov', 'qt'], container: 'isobmff' },
      'video/webm': { magic: ['video/webm'], extensions: ['webm'], container: 'ebml' },
    },
  },
  file: {
    maxBytes: 100 * MiB,
    contentTypes: {
      'application/pdf': { magic: ['application/pdf'], extensions: ['pdf'] },
      'application/zip': { magic: ['application/zip'], extensions: ['zip'] },
      'text/plain': { text: true, extensions: ['txt', 'text', 'log', 'md'] },
      'text/csv': { text: true, extensions: ['csv'] },
      'application/vnd.openxmlformats-officedocument.wordprocessingml.document': {
        magic: ['application/vnd.openxmlformats-officedocument.wordprocessingml.document'],
        extensions: ['docx'],
      },
      'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet': {
        magic: ['application/vnd.openxmlformats-officedocument.spreadsheetml.sheet'],
        extensions: ['xlsx'],
      },
      'application/vnd.openxmlformats-officedocument.presentationml.presentation': {
        magic: ['application/vnd.openxmlformats-officedocument.presentationml.presentation'],
        extensions: ['pptx'],
      },
      'audio/mpeg': { magic: ['audio/mpeg'], extensions: ['mp3'] },
      // Opus voice notes are detected as `audio/ogg; codecs=opus`; parameters are ignored when comparing.
      'audio/ogg': { magic: ['audio/ogg'], extensions: ['ogg', 'oga', 'opus'] },
    },
  },
} as const satisfies Record<AttachmentKind, KindSpec>;

export const attachmentKinds = Object.keys(mediaKinds) as AttachmentKind[];

/** The kind a declared content type belongs to, or undefined when no kind accepts it. */
export function kindOfContentType(contentType: string): AttachmentKind | undefined {
  return attachmentKinds.find((kind) => Object.hasOwn(mediaKinds[kind].contentTypes, contentType));
}

/** How an accepted type is checked and named; undefined for a type no kind accepts. */
export function typeSpecFor(contentType: string): TypeSpec | undefined {
  const kind = kindOfContentType(contentType);
  return kind === undefined
    ? undefined
    : (mediaKinds[kind].contentTypes as Readonly<Record<string, TypeSpec>>)[contentType];
}

/** The parts one attachment is uploaded in: the file itself, and for videos a poster image. */
export type AttachmentPart = 'original' | 'poster';

export const media = {
  /** Where uploads land; the processor is notified for this prefix only, and clients may write only here. */
  uploadPrefix: 'uploads/',
  /** Processed objects served to members; only the processor writes here. */
  mediaPrefix: 'media/',
  /** A presigned PUT is valid this long. */
  uploadUrlTtlSeconds: 5 * 60,
  /** A signed download URL (CloudFront, or its local stand-in) is valid this long. */
  downloadUrlTtlSeconds: 15 * 60,
  /** Unsent uploads and their processed objects expire after this (S3 lifecycle, record TTL). */
  unsentRetentionDays: 1,
  /**
   * An upload older than this can no longer be attached: the lifecycle rule deletes unsent objects
   * after a day, and the tag that keeps a sent one must be lifted well before that.
   */
  sendableForSeconds: 20 * 60 * 60,
  maxAttachmentsPerMessage: 10,
  /** Characters of the sanitised file name kept as metadata. */
  maxFileNameLength: 200,
  /** A video's poster: a still the client makes, uploaded as the attachment's second part. */
  poster: {
    maxBytes: 5 * MiB,
    contentTypes: ['image/jpeg', 'image/png', 'image/webp'],
  },
  thumbnail: {
    /** Longest side in pixels; never enlarged. */
    maxDimension: 320,
    contentType: 'image/webp',
    quality: 70,
  },
  /** Tag on processed objects: the lifecycle rule expires `unsent`, sending sets `kept`. */
  retentionTag: { key: 'parley-retention', unsent: 'unsent', kept: 'kept' },
  /** Browsers PUT straight to the bucket: CORS for the upload, on S3 and the local stand-in alike. */
  uploadCors: {
    allowedOrigins: ['*'],
    allowedMethods: ['PUT'],
    allowedHeaders: ['content-type'],
    exposedHeaders: ['etag'],
    maxAgeSeconds: 3000,
  },
} as const;

/**
 * What every answer of the media CDN carries, on CloudFront (its response headers policy, built from
 * this) and the local CDN alike. Browsers take the confirmed type as it is (no sniffing), and a file
 * a browser opens from the media origin runs nothing: the CSP sandboxes it (no scripts, forms,
 * plugins or fetches; only images and media of its own origin), and no page may frame it.
 */
export const mediaResponseHeaders = {
  security: {
    'x-content-type-options': 'nosniff',
    'content-security-policy': "default-src 'none'; img-src 'self'; media-src 'self'; sandbox; frame-ancestors 'none'",
    'x-frame-options': 'DENY',
    'referrer-policy': 'no-referrer',
  },
  /** Web clients fetch() media (and read its name and ranges); credentials are never sent. */
  cors: {
    allowOrigins: ['*'],
    allowMethods: ['GET', 'HEAD'],
    allowHeaders: ['range'],
    exposeHeaders: ['content-length', 'content-range', 'content-disposition', 'etag'],
    maxAgeSeconds: 86400,
  },
} as const;

/** Object keys: unguessable ids under the conversation; the user's file name never appears in them. */
export const mediaKeys = {
  upload: (conversationId: string, attachmentId: string, part: AttachmentPart) =>
    `${media.uploadPrefix}${conversationId}/${attachmentId}/${part}`,
  original: (conversationId: string, attachmentId: string) =>
    `${media.mediaPrefix}${conversationId}/${attachmentId}/original`,
  thumbnail: (conversationId: string, attachmentId: string) =>
    `${media.mediaPrefix}${conversationId}/${attachmentId}/thumbnail`,
  /** Reads an upload key back; undefined for anything else (the processor ignores it). */
  parseUpload(key: string): { conversationId: string; attachmentId: string; part: AttachmentPart } | undefined {
    if (!key.startsWith(media.uploadPrefix)) return undefined;
    const [conversationId, attachmentId, part, ...rest] = key.slice(media.uploadPrefix.length).split('/');
    if (!conversationId || !attachmentId || rest.length > 0) return undefined;
    if (part !== 'original' && part !== 'poster') return undefined;
    return { conversationId, attachmentId, part };
  },
} as const;
