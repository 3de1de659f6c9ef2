import { builder } from "../../builder.js";
import type { Context } from "../../context.js";
import { SIGNS_IN } from "../auth/auth.plugin.js";
import type { Client } from "../auth/auth.service.js";
import { isPrivateTo } from "../auth/viewer.js";
import { changeEmail, requestEmailVerification, requestPasswordReset, resetPassword, verifyEmail } from "./account.service.js";

const client = (ctx: Context): Client => ({ userAgent: ctx.userAgent, ip: ctx.clientIp, rateLimits: ctx.rateLimits });

builder.prismaObjectFields("User", (t) => ({
  emailVerified: t.boolean({
    nullable: true,
    description: "Whether the user followed a link sent to their current email. Only the user sees it.",
    authScopes: isPrivateTo,
    select: { emailVerifiedAt: true },
    resolve: (user) => user.emailVerifiedAt !== null,
  }),
}));

const VerifyEmailInput = builder.inputType("VerifyEmailInput", {
  fields: (t) => ({ token: t.string({ description: "The token of the link in the mail (after #token=)." }) }),
});
const RequestPasswordResetInput = builder.inputType("RequestPasswordResetInput", { fields: (t) => ({ email: t.string() }) });
const ResetPasswordInput = builder.inputType("ResetPasswordInput", {
  fields: (t) => ({
    token: t.string({ description: "The token of the link in the mail (after #token=)." }),
    password: t.string({ description: "At least 10 characters." }),
  }),
});
const ChangeEmailInput = builder.inputType("ChangeEmailInput", {
  fields: (t) => ({
    email: t.string({ description: "The new address: it replaces the current one when the link sent to it is followed." }),
    password: t.string({ description: "The account's password, asked again for this change." }),
  }),
});

const PasswordResetDone = builder.objectRef<{ endedSessions: number; revokedApiTokens: number }>("PasswordResetDone").implement({
  description: "The new password is set; every session and API token of the account has ended. Log in again.",
  fields: (t) => ({
    endedSessions: t.exposeInt("endedSessions"),
    revokedApiTokens: t.exposeInt("revokedApiTokens"),
  }),
});

const MailRequested = builder.objectRef<{ message: string }>("MailRequested").implement({
  description: "A mail with a link is queued (for requestPasswordReset: if an account has the address).",
  fields: (t) => ({ message: t.exposeString("message") }),
});
const requested = (message: string) => () => ({ message });

builder.mutationFields((t) => ({
  requestEmailVerification: t.field({
    type: MailRequested,
    description: "Mails a link that verifies the viewer's address (valid EMAIL_VERIFICATION_TTL seconds, 24 hours; a new request replaces it).",
    authScopes: { writer: true },
    errors: {},
    resolve: (_root, _args, ctx) =>
      requestEmailVerification(ctx.db, ctx.config, ctx.viewer!, client(ctx)).then(requested("A link to verify your address is on its way.")),
  }),
  verifyEmail: t.prismaField({
    type: "User",
    description: "Follows a link of requestEmailVerification or changeEmail. Works whatever the Authorization header holds.",
    extensions: SIGNS_IN,
    errors: {},
    args: { input: t.arg({ type: VerifyEmailInput }) },
    resolve: async (query, _root, { input }, ctx) => {
      const userId = await verifyEmail(ctx.db, ctx.config, input.token);
      return ctx.db.user.findUniqueOrThrow({ ...query, where: { id: userId } });
    },
  }),
  requestPasswordReset: t.field({
    type: MailRequested,
    description:
      "Mails a password-reset link (valid PASSWORD_RESET_TTL seconds, one hour) if an account has the address. The answer is the same whether or not one does. Works whatever the Authorization header holds.",
    extensions: SIGNS_IN,
    errors: {},
    args: { input: t.arg({ type: RequestPasswordResetInput }) },
    resolve: (_root, { input }, ctx) =>
      requestPasswordReset(ctx.db, ctx.config, input, client(ctx)).then(requested("If an account has this address, a link to reset its password is on its way.")),
  }),
  resetPassword: t.field({
    type: PasswordResetDone,
    description: "Sets a new password from a reset link and ends every session and API token of the account. Works whatever the Authorization header holds.",
    extensions: SIGNS_IN,
    errors: {},
    args: { input: t.arg({ type: ResetPasswordInput }) },
    resolve: (_root, { input }, ctx) => resetPassword(ctx.db, input),
  }),
  changeEmail: t.field({
    type: MailRequested,
    description:
      "Mails a link to the new address; the account's address changes when it is followed, and the old one gets a notice. An address another account has gets the same answer, and no mail.",
    authScopes: { writer: true },
    errors: {},
    args: { input: t.arg({ type: ChangeEmailInput }) },
    resolve: (_root, { input }, ctx) =>
      changeEmail(ctx.db, ctx.config, ctx.viewer!, input, client(ctx)).then(requested("A link to confirm the new address is on its way to it.")),
  }),
}));
