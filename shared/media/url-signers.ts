import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { getSignedUrl as getCloudFrontSignedUrl } from '@aws-sdk/cloudfront-signer';
import { getSignedUrl as getS3SignedUrl } from '@aws-sdk/s3-request-presigner';

/** A presigned PUT and the headers the client must send with it (they are part of the signature). */
export interface PresignedUpload {
  readonly url: string;
  readonly headers: Readonly<Record<string, string>>;
}

export interface UploadUrlSigner {
  presignPut(key: string, contentType: string, size: number, expiresInSeconds: number): Promise<PresignedUpload>;
}

export interface DownloadUrlSigner {
  /** A URL for `key` that works until `expiresAt` and for nobody who lacks it. */
  sign(key: string, expiresAt: Date): Promise<string>;
}

/**
 * S3 presigned PUTs that sign the content type and the exact length: S3 refuses any other body
 * with SignatureDoesNotMatch, so the declared size and type are what gets stored.
 */
export class S3UploadSigner implements UploadUrlSigner {
  constructor(
    private readonly s3: S3Client,
    private readonly bucket: string,
  ) {}

  async presignPut(key: string, contentType: string, size: number, expiresInSeconds: number) {
    const url = await getS3SignedUrl(
      this.s3,
      new PutObjectCommand({ Bucket: this.bucket, Key: key, ContentType: contentType, ContentLength: size }),
      { expiresIn: expiresInSeconds, signableHeaders: new Set(['content-type', 'content-length']) },
    );
    // Browsers set Content-Length themselves (and refuse to let scripts set it).
    return { url, headers: { 'content-type': contentType } };
  }
}

export interface CloudFrontKey {
  readonly keyPairId: string;
  /** PEM; loaded once per container from wherever the deployment keeps it. */
  readonly privateKey: () => Promise<string>;
}

/** CloudFront signed URLs (canned policy) under the distribution's base URL; locally, its stand-in's. */
export class CloudFrontDownloadSigner implements DownloadUrlSigner {
  constructor(
    private readonly baseUrl: string,
    private readonly key: CloudFrontKey,
  ) {}

  async sign(key: string, expiresAt: Date): Promise<string> {
    const path = key.split('/').map(encodeURIComponent).join('/');
    return getCloudFrontSignedUrl({
      url: `${this.baseUrl.replace(/\/$/, '')}/${path}`,
      keyPairId: this.key.keyPairId,
      privateKey: await this.key.privateKey(),
      dateLessThan: expiresAt,
    });
  }
}
