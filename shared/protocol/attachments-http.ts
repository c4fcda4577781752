/** Attachment routes: the declared upload and the attachment path, validated with zod at the edge. */
import * as z from 'zod';
import { idSchema } from './frames';

const declaredFileShape = {
  /** Checked against the accepted types (415) and the kind's size limit (413) by the service. */
  contentType: z
    .string()
    .min(3)
    .max(255)
    .regex(/^[\w.+-]+\/[\w.+-]+(\s*;.*)?$/, 'must be a MIME type'),
  size: z.number().int().min(1, 'an empty file cannot be uploaded').max(Number.MAX_SAFE_INTEGER),
};

export const createAttachmentBodySchema = z.object({
  /** Kept (sanitised) for the download's file name; never part of a storage key. */
  fileName: z.string().min(1).max(1000),
  ...declaredFileShape,
  /** Videos only: a still image the client made, uploaded with the second URL. */
  poster: z.object(declaredFileShape).optional(),
});

export const attachmentPathSchema = z.object({ id: idSchema });
