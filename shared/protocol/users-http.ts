/** User profile routes (`/users`): request bodies and path parameters, validated with zod at the edge. */
import * as z from 'zod';
import { limits } from '../config/limits';
import { hasNoBidiControls, hasNoControlsInName, isVisible, isWellFormed, textRuleMessages } from './text-rules';

export const userIdSchema = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[A-Za-z0-9_-]+$/, 'must be a user id');

/** Shown to everyone who sees the user: the rules of shared/protocol/text-rules.ts for names. */
export const profileNameSchema = z
  .string()
  .trim()
  .min(1)
  .max(limits.userProfile.maxNameLength)
  .refine(isWellFormed, textRuleMessages.loneSurrogate)
  .refine(hasNoControlsInName, textRuleMessages.control)
  .refine(hasNoBidiControls, textRuleMessages.bidiControl)
  .refine(isVisible, textRuleMessages.invisible)
  .normalize('NFC');

/** Any case on the wire; the service stores it lowercased (uniqueness ignores case). */
export const usernameSchema = z
  .string()
  .min(limits.userProfile.minUsernameLength)
  .max(limits.userProfile.maxUsernameLength)
  .regex(/^[A-Za-z0-9_.]+$/, 'may hold only letters, digits, "_" and "."');

/**
 * Who may add the user to a group (WhatsApp's setting): anyone, only people they have a direct chat
 * with that they started or wrote in, or nobody. Direct chats are not groups: anyone may start one.
 */
export const groupAddsSettings = ['everyone', 'directChats', 'nobody'] as const;
export type GroupAdds = (typeof groupAddsSettings)[number];
export const groupAddsSchema = z.enum(groupAddsSettings);

export const emailSchema = z.email().max(limits.userProfile.maxEmailLength);

/** E.164: "+", a country code and the number, at most 15 digits (e.g. +14155550123). */
export const phoneSchema = z.e164();

export const createUserBodySchema = z.strictObject({
  name: profileNameSchema,
  username: usernameSchema,
  email: emailSchema.optional(),
  phone: phoneSchema.optional(),
  /** Others see this user's reads (default true); their own devices always do. */
  readReceipts: z.boolean().optional(),
  /** Others see when this user is online and was last seen (default true); their own devices always do. */
  showPresence: z.boolean().optional(),
  /** Push notifications show a short preview of the message (default true), or only who wrote. */
  pushPreview: z.boolean().optional(),
  /** Who may add this user to a group (default `everyone`). */
  groupAdds: groupAddsSchema.optional(),
});

export type CreateUserBody = z.infer<typeof createUserBodySchema>;

/** Any subset of the profile's fields; `null` clears the optional ones. */
export const updateUserBodySchema = z
  .strictObject({
    name: profileNameSchema.optional(),
    username: usernameSchema.optional(),
    email: emailSchema.nullable().optional(),
    phone: phoneSchema.nullable().optional(),
    readReceipts: z.boolean().optional(),
    showPresence: z.boolean().optional(),
    pushPreview: z.boolean().optional(),
    groupAdds: groupAddsSchema.optional(),
  })
  .refine((body) => Object.values(body).some((value) => value !== undefined), 'must change at least one field');

export type UpdateUserBody = z.infer<typeof updateUserBodySchema>;

/** In a user's path, the caller's own id may be written `me` (what people try first). */
export const selfAlias = 'me';

export const userPathSchema = z.object({
  id: userIdSchema.describe(`A user id, or \`${selfAlias}\` for the caller`),
});

/** `GET /users?username=<prefix>`: a username prefix (any case, at least 3 characters) and a page cursor. */
export const searchUsersQuerySchema = z.strictObject({
  username: z
    .string()
    .min(limits.userProfile.minUsernameLength)
    .max(limits.userProfile.maxUsernameLength)
    .regex(/^[A-Za-z0-9_.]+$/, 'may hold only letters, digits, "_" and "."'),
  cursor: z.string().min(1).max(200).optional(),
});
