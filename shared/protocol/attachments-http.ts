/** Attachment routes: the declared upload and the attachment path, validated with zod at the edge. */
import * as z from 'zod';
import { idSchema } from './frames';
import { hasNoBidiControls, hasNoControlsInName, isVisible, isWellFormed, textRuleMessages } from './text-rules';

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
  /**
   * Kept, sanitised and ending with an extension of the type, as the download's file name; never part
   * of a storage key. The name rules of text-rules.ts hold: `x.png\u0000.html` and `x\u202Egnp.exe` are refused.
   */
  fileName: z
    .string()
    .min(1)
    .max(1000)
    .refine(isWellFormed, textRuleMessages.loneSurrogate)
    .refine(hasNoControlsInName, textRuleMessages.control)
    .refine(hasNoBidiControls, textRuleMessages.bidiControl)
    .refine(isVisible, textRuleMessages.invisible),
  ...declaredFileShape,
  /** Videos only: a still image the client made, uploaded with the second URL. */
  poster: z.object(declaredFileShape).optional(),
});

export const attachmentPathSchema = z.object({ id: idSchema });
