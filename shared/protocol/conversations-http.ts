/** Conversation routes (`/conversations`, participants): request bodies, paths and queries, validated with zod at the edge. */
import * as z from 'zod';
import { limits } from '../config/limits';
import { idSchema } from './frames';
import { hasNoBidiControls, hasNoControlsInName, isVisible, isWellFormed, textRuleMessages } from './text-rules';
import { userIdSchema } from './users-http';

/** Shown to every member: well-formed Unicode, like message text. */
/** A group's name as every member sees it: the rules of shared/protocol/text-rules.ts for names. */
const groupNameSchema = z
  .string()
  .trim()
  .min(1)
  .max(limits.maxGroupNameLength)
  .refine(isWellFormed, textRuleMessages.loneSurrogate)
  .refine(hasNoControlsInName, textRuleMessages.control)
  .refine(hasNoBidiControls, textRuleMessages.bidiControl)
  .refine(isVisible, textRuleMessages.invisible)
  .normalize('NFC');

export const createConversationBodySchema = z.object({
  type: z.enum(['direct', 'group']),
  name: groupNameSchema.optional(),
  /** The other members; the creator is added. */
  memberIds: z.array(userIdSchema).max(limits.maxGroupMembers),
  /** Groups: may members who join later read what came before? Default: from their join on. */
  historyVisibility: z.enum(['joined', 'all']).optional(),
});

export type CreateConversationBody = z.infer<typeof createConversationBodySchema>;

export const conversationPathSchema = z.object({ id: idSchema });

export const updateConversationBodySchema = z.object({
  name: groupNameSchema,
});

export const addParticipantsBodySchema = z.object({
  userIds: z.array(userIdSchema).min(1).max(limits.maxGroupMembers),
});

export const participantPathSchema = z.object({ id: idSchema, userId: userIdSchema });

export const listConversationsQuerySchema = z
  .object({
    limit: z
      .string()
      .regex(/^\d{1,3}$/, 'must be a whole number')
      .transform(Number)
      .pipe(z.number().int().min(1).max(100))
      .optional(),
    cursor: z.string().min(1).max(400).optional(),
  })
  .strict();
