import { S3Client, type S3ClientConfig } from '@aws-sdk/client-s3';

/**
 * One S3 client per container. The endpoint comes from the SDK's own configuration
 * (AWS_ENDPOINT_URL_S3 points it at the local S3 stand-in).
 */
export function createS3Client(config: S3ClientConfig = {}): S3Client {
  return new S3Client({
    // Checksums only where S3 demands them: a presigned PUT must not bind the browser to a
    // checksum of an empty body, and S3-compatible stores corrupt streamed uploads otherwise.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    // A custom endpoint (an S3-compatible store on localhost) has no per-bucket host names.
    forcePathStyle: process.env.AWS_ENDPOINT_URL_S3 !== undefined,
    ...config,
  });
}
