/**
 * Composition root for the media handlers, apart from wiring.ts so that only they bundle the S3
 * client and the signers. Processing is wired in media-processing-wiring.ts: sharp is installed
 * beside mediaProcess alone, so any other handler importing it would fail at cold start.
 */
import { getSecret } from '@aws-lambda-powertools/parameters/secrets';
import { createS3Client } from '#shared/aws/s3';
import { systemClock } from '#shared/clock';
import { envVars, requireEnv, tableNameFromEnv } from '#shared/config/env';
import { CloudFrontDownloadSigner, S3UploadSigner } from '#shared/media/url-signers';
import { AttachmentRepository } from '#shared/repositories/attachment-repository';
import { ConversationRepository } from '#shared/repositories/conversation-repository';
import { MediaStore } from '#shared/repositories/media-store';
import { AttachmentReads, AttachmentUploads } from '#shared/services/attachment-service';
import { MediaRetentionService } from '#shared/services/media-retention-service';
import { documentClient } from './dynamodb-client';
import { tracer } from './observability';

// Built here rather than taken from wiring.ts, which would bundle every chat service into the media handlers.
export const attachmentRepository = () => new AttachmentRepository(documentClient, tableNameFromEnv('attachments'));
const conversationRepository = () => new ConversationRepository(documentClient, tableNameFromEnv('conversations'));

// Only presigns: kept untraced, as X-Ray's middleware expects a response a presign never has.
const s3 = createS3Client();
// Traced: each object call is a subsegment (a no-op where tracing is off).
const tracedS3 = tracer.captureAWSv3Client(createS3Client());
export const mediaStore = () => new MediaStore(tracedS3, requireEnv(envVars.mediaBucket));

/** The signing key, fetched once per container and cached for its life (it changes only with a redeploy). */
function signingKey(): () => Promise<string> {
  const secretName = requireEnv(envVars.mediaSigningKeySecret);
  return async () => {
    const key = await getSecret(secretName, { maxAge: 24 * 60 * 60 });
    if (typeof key !== 'string' || key === '') throw new Error(`Secret ${secretName} holds no signing key`);
    return key;
  };
}

export const createAttachmentUploads = () =>
  new AttachmentUploads(
    attachmentRepository(),
    conversationRepository(),
    new S3UploadSigner(s3, requireEnv(envVars.mediaBucket)),
    systemClock,
  );

export const createAttachmentReads = () =>
  new AttachmentReads(
    attachmentRepository(),
    conversationRepository(),
    new CloudFrontDownloadSigner(requireEnv(envVars.mediaCdnUrl), {
      keyPairId: requireEnv(envVars.mediaKeyPairId),
      privateKey: signingKey(),
    }),
    systemClock,
  );

export const createMediaRetentionService = () => new MediaRetentionService(mediaStore());
