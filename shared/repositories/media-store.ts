import {
  CopyObjectCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  NoSuchKey,
  PutObjectCommand,
  PutObjectTaggingCommand,
  type S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import { media } from '../config/media';

/** How a processed object is served: its confirmed type and the download's file name. */
export interface ServedAs {
  readonly contentType: string;
  readonly contentDisposition: string;
  /** The sanitised original file name, kept as object metadata. */
  readonly fileName: string;
}

const unsentTag = `${encodeURIComponent(media.retentionTag.key)}=${encodeURIComponent(media.retentionTag.unsent)}`;
// Processed objects never change under their key (a new upload is a new attachment id).
const cacheControl = 'private, max-age=31536000, immutable';

/** The media bucket: uploads are read and removed, processed objects written tagged `unsent`, then kept. */
export class MediaStore {
  constructor(
    private readonly s3: S3Client,
    readonly bucket: string,
  ) {}

  /** Up to `maxBytes` from the start of the object (all of it when it is smaller), or undefined if it is gone. */
  read(key: string, maxBytes: number): Promise<Uint8Array | undefined> {
    return this.readRange(key, 0, maxBytes);
  }

  /** Up to `length` bytes from `offset` (fewer at the end of the object), or undefined if it is gone. */
  async readRange(key: string, offset: number, length: number): Promise<Uint8Array | undefined> {
    try {
      const result = await this.s3.send(
        new GetObjectCommand({ Bucket: this.bucket, Key: key, Range: `bytes=${offset}-${offset + length - 1}` }),
      );
      return result.Body ? await result.Body.transformToByteArray() : new Uint8Array();
    } catch (error) {
      if (isMissing(error)) return undefined;
      throw error;
    }
  }

  async putProcessed(key: string, data: Uint8Array, servedAs: ServedAs): Promise<void> {
    await this.s3.send(
      new PutObjectCommand({
        Bucket: this.bucket,
        Key: key,
        Body: data,
        ContentLength: data.byteLength,
        ...served(servedAs),
        Tagging: unsentTag,
      }),
    );
  }

  /** A server-side copy (videos and files are not rewritten), served as `servedAs` and tagged `unsent`. */
  async copyProcessed(sourceKey: string, key: string, servedAs: ServedAs): Promise<void> {
    await this.s3.send(
      new CopyObjectCommand({
        Bucket: this.bucket,
        Key: key,
        CopySource: `${this.bucket}/${sourceKey.split('/').map(encodeURIComponent).join('/')}`,
        MetadataDirective: 'REPLACE',
        TaggingDirective: 'REPLACE',
        ...served(servedAs),
        Tagging: unsentTag,
      }),
    );
  }

  async delete(key: string): Promise<void> {
    await this.s3.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key }));
  }

  /** Lifts the `unsent` tag so the lifecycle rule no longer expires the object; false if it is gone. */
  async keep(key: string): Promise<boolean> {
    try {
      await this.s3.send(
        new PutObjectTaggingCommand({
          Bucket: this.bucket,
          Key: key,
          Tagging: { TagSet: [{ Key: media.retentionTag.key, Value: media.retentionTag.kept }] },
        }),
      );
      return true;
    } catch (error) {
      if (isMissing(error)) return false;
      throw error;
    }
  }
}

function served(servedAs: ServedAs) {
  return {
    ContentType: servedAs.contentType,
    ContentDisposition: servedAs.contentDisposition,
    CacheControl: cacheControl,
    // S3 metadata is US-ASCII on the wire: the name travels percent-encoded.
    Metadata: { 'file-name': encodeURIComponent(servedAs.fileName) },
  };
}

function isMissing(error: unknown): boolean {
  return (
    error instanceof NoSuchKey ||
    (error instanceof S3ServiceException && (error.name === 'NoSuchKey' || error.$metadata.httpStatusCode === 404))
  );
}
