import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Worker } from "../../src/jobs/worker.js";
import { queueMail } from "../../src/jobs/outbox.js";
import { messageId } from "../../src/modules/mail/mailer.js";
import { verifyEmailMail } from "../../src/modules/mail/templates.js";
import { graphql } from "../gql/index.js";
import { type TestApi, type TestUser, testApi, testConfig, topLevelError } from "../support/api.js";
import { eventually, testWorker } from "../support/mail.js";
import { type Smtp, startSmtp } from "../support/smtp.js";

const Me = graphql(`
  query AccountMe { viewer { email emailVerified } }
`);
const Someone = graphql(`
  query AccountSomeone($handle: String!) { user(handle: $handle) { email emailVerified } }
`);
const RequestVerification = graphql(`
  mutation AccountRequestVerification {
    requestEmailVerification { __typename ... on MailRequested { message } ... on ValidationError { fieldErrors { field message } } }
  }
`);
const VerifyEmail = graphql(`
  mutation AccountVerifyEmail($input: VerifyEmailInput!) {
    verifyEmail(input: $input) { __typename ... on User { handle } ... on ValidationError { fieldErrors { field message } } }
  }
`);
const RequestReset = graphql(`
  mutation AccountRequestReset($input: RequestPasswordResetInput!) {
    requestPasswordReset(input: $input) { __typename ... on MailRequested { message } ... on ValidationError { fieldErrors { field message } } }
  }
`);
const ResetPassword = graphql(`
  mutation AccountResetPassword($input: ResetPasswordInput!) {
    resetPassword(input: $input) {
      __typename
      ... on PasswordResetDone { endedSessions revokedApiTokens }
      ... on ValidationError { fieldErrors { field message } }
    }
  }
`);
const ChangeEmail = graphql(`
  mutation AccountChangeEmail($input: ChangeEmailInput!) {
    changeEmail(input: $input) { __typename ... on MailRequested { message } ... on ValidationError { fieldErrors { field message } } }
  }
`);
const LogIn = graphql(`
  mutation AccountLogIn($input: LogInInput!) {
    logIn(input: $input) { __typename ... on AuthPayload { accessToken refreshToken } ... on Error { message } }
  }
`);
const Refresh = graphql(`
  mutation AccountRefresh($input: RefreshSessionInput!) {
    refreshSession(input: $input) { __typename ... on Error { message } }
  }
`);
const CreateToken = graphql(`
  mutation AccountCreateToken($input: CreateApiTokenInput!) {
    createApiToken(input: $input) { __typename ... on CreatedApiToken { secret } }
  }
`);

let api: TestApi;
let smtp: Smtp;
let worker: Worker;

beforeAll(async () => {
  api = await testApi();
  smtp = await startSmtp();
  worker = testWorker(api.db, testConfig, smtp.url());
});
afterAll(async () => {
  await worker.stop();
  await smtp.stop();
});

const tokenError = (message: string) => ({ fieldErrors: [{ field: "token", message }] });
const outboxTo = (recipient: string) => api.db.outboxMessage.findMany({ where: { recipient }, orderBy: { id: "asc" } });

describe("email verification", () => {
  it("mails a link whose token verifies the address once; emailVerified is the owner's alone", async () => {
    const alice = await api.signUp();
    const bob = await api.signUp();
    expect((await api.execute(Me, {}, { as: alice })).data?.viewer).toEqual({ email: alice.email, emailVerified: false });
    expect((await api.execute(Someone, { handle: alice.handle }, { as: bob })).data?.user).toEqual({ email: null, emailVerified: null });

    const requested = await api.execute(RequestVerification, {}, { as: alice });
    expect(requested.data?.requestEmailVerification.__typename).toBe("MailRequested");
    const received = await smtp.mailTo(alice.email);
    expect(received.mail.subject).toBe("Confirm your email address for Chirp");
    expect(received.mail.from?.value[0]?.address).toBe("no-reply@localhost");
    expect(received.mail.text).toContain(`${testConfig.mail.appUrl}/verify-email#token=${received.token}`);
    expect(received.mail.html).toContain(`href="${testConfig.mail.appUrl}/verify-email#token=${received.token}"`);
    // The Message-ID is the outbox row's id: the idempotency key of the message.
    const row = await eventually(async () => (await outboxTo(alice.email)).find((r) => r.status === "SENT"));
    expect(received.messageId).toBe(messageId(row.id, testConfig.mail.from));
    expect(row).toMatchObject({ status: "SENT", attempts: 1, text: null, html: null });
    // Only the hash is stored.
    expect(await api.db.emailToken.count({ where: { tokenHash: received.token } })).toBe(0);

    const verified = await api.execute(VerifyEmail, { input: { token: received.token! } });
    expect(verified.data?.verifyEmail).toEqual({ __typename: "User", handle: alice.handle });
    expect((await api.execute(Me, {}, { as: alice })).data?.viewer?.emailVerified).toBe(true);

    const again = await api.execute(VerifyEmail, { input: { token: received.token! } });
    expect(again.data?.verifyEmail).toMatchObject(tokenError("This link was already used."));
    const verifiedAlready = await api.execute(RequestVerification, {}, { as: alice });
    expect(verifiedAlready.data?.requestEmailVerification).toMatchObject({ fieldErrors: [{ field: "email", message: "Your address is already verified." }] });
  });

  it("refuses malformed, unknown, replaced and expired tokens, each with its own message", async () => {
    const carol = await api.signUp();
    const malformed = await api.execute(VerifyEmail, { input: { token: "not-a-token" } });
    expect(malformed.data?.verifyEmail).toMatchObject(tokenError("This is not a Chirp link token: copy the whole link from the mail."));
    const unknown = await api.execute(VerifyEmail, { input: { token: `chirp_et_${"A".repeat(43)}` } });
    expect(unknown.data?.verifyEmail).toMatchObject(tokenError("This link is not valid (a newer one replaces it); ask for a new one."));

    await api.execute(RequestVerification, {}, { as: carol });
    const first = await smtp.mailTo(carol.email);
    await api.execute(RequestVerification, {}, { as: carol });
    const second = await smtp.mailTo(carol.email, { skip: 1 });
    const replaced = await api.execute(VerifyEmail, { input: { token: first.token! } });
    expect(replaced.data?.verifyEmail).toMatchObject(tokenError("This link is not valid (a newer one replaces it); ask for a new one."));

    // Its 24 hours pass.
    await api.db.emailToken.updateMany({ where: { userId: carol.dbId }, data: { expiresAt: new Date(Date.now() - 1000) } });
    const expired = await api.execute(VerifyEmail, { input: { token: second.token! } });
    expect(expired.data?.verifyEmail).toMatchObject(tokenError("This link has expired; ask for a new one."));
    expect((await api.execute(Me, {}, { as: carol })).data?.viewer?.emailVerified).toBe(false);
  });

  it("needs a credential that writes", async () => {
    expect(topLevelError(await api.execute(RequestVerification, {})).code).toBe("UNAUTHENTICATED");
  });
});

describe("password reset", () => {
  it("answers the same for an address with no account, and mails only an account's", async () => {
    const dave = await api.signUp();
    const known = await api.execute(RequestReset, { input: { email: dave.email.toUpperCase() } });
    const unknown = await api.execute(RequestReset, { input: { email: "nobody-here@example.com" } });
    expect(unknown).toEqual(known);
    expect(known.data?.requestPasswordReset.__typename).toBe("MailRequested");
    await smtp.mailTo(dave.email);
    expect(await outboxTo("nobody-here@example.com")).toEqual([]);
    const malformed = await api.execute(RequestReset, { input: { email: "not an address" } });
    expect(malformed.data?.requestPasswordReset).toMatchObject({ fieldErrors: [{ field: "email", message: "Enter a valid email address" }] });
  });

  it("follows the link: a weak password is refused; a good one ends every session, refresh token and API token", async () => {
    const erin = await api.signUp();
    const token = await api.execute(CreateToken, { input: { name: "script", scopes: ["READ", "WRITE"] } }, { as: erin });
    const pat = token.data?.createApiToken.__typename === "CreatedApiToken" ? token.data.createApiToken.secret : "";
    const phone = await api.execute(LogIn, { input: { login: erin.handle, password: erin.password } });
    expect(phone.data?.logIn.__typename).toBe("AuthPayload");

    await api.execute(RequestReset, { input: { email: erin.email } });
    const received = await smtp.mailTo(erin.email);
    expect(received.mail.subject).toBe("Reset your Chirp password");

    const weak = await api.execute(ResetPassword, { input: { token: received.token!, password: "short" } });
    expect(weak.data?.resetPassword).toMatchObject({ fieldErrors: [{ field: "password", message: "At least 10 characters" }] });

    // Works whatever the Authorization header holds (a stale token of the forgotten session).
    const done = await api.execute(ResetPassword, { input: { token: received.token!, password: "a brand new passphrase" } }, { headers: { authorization: "Bearer stale" } });
    expect(done.data?.resetPassword).toEqual({ __typename: "PasswordResetDone", endedSessions: 2, revokedApiTokens: 1 });

    expect(topLevelError(await api.execute(Me, {}, { as: erin })).code).toBe("UNAUTHENTICATED");
    expect(topLevelError(await api.execute(Me, {}, { as: { token: pat } })).code).toBe("UNAUTHENTICATED");
    expect((await api.execute(Refresh, { input: { refreshToken: erin.refreshToken } })).data?.refreshSession.__typename).toBe("AuthenticationError");
    expect((await api.execute(LogIn, { input: { login: erin.handle, password: erin.password } })).data?.logIn.__typename).toBe("AuthenticationError");
    const newLogIn = await api.execute(LogIn, { input: { login: erin.handle, password: "a brand new passphrase" } });
    expect(newLogIn.data?.logIn.__typename).toBe("AuthPayload");
    const again = await api.execute(ResetPassword, { input: { token: received.token!, password: "yet another passphrase" } });
    expect(again.data?.resetPassword).toMatchObject(tokenError("This link was already used."));
    // Following the link proved the address.
    const session = newLogIn.data?.logIn.__typename === "AuthPayload" ? newLogIn.data.logIn.accessToken : "";
    expect((await api.execute(Me, {}, { as: { token: session } })).data?.viewer?.emailVerified).toBe(true);
  });

  it("refuses an expired reset link and a verification link used as one", async () => {
    const frank = await api.signUp();
    await api.execute(RequestReset, { input: { email: frank.email } });
    const reset = await smtp.mailTo(frank.email);
    await api.execute(RequestVerification, {}, { as: frank });
    const verification = await smtp.mailTo(frank.email, { skip: 1 });
    const crossed = await api.execute(ResetPassword, { input: { token: verification.token!, password: "a brand new passphrase" } });
    expect(crossed.data?.resetPassword).toMatchObject(tokenError("This link is not valid (a newer one replaces it); ask for a new one."));
    await api.db.emailToken.updateMany({ where: { userId: frank.dbId, purpose: "RESET_PASSWORD" }, data: { expiresAt: new Date(Date.now() - 1000) } });
    const expired = await api.execute(ResetPassword, { input: { token: reset.token!, password: "a brand new passphrase" } });
    expect(expired.data?.resetPassword).toMatchObject(tokenError("This link has expired; ask for a new one."));
  });

  it("is rate limited per address and per client address, for addresses with and without an account alike", async () => {
    const limited = await testApi({ ...testConfig, rateLimits: { ...testConfig.rateLimits, mailsPerAddress: 2, passwordResetsPerIp: 5 } });
    const gina = await limited.signUp({ handle: "reset_limited", email: "reset-limited@example.com" });
    const tries = async (email: string, ip: string) => {
      const results = [];
      for (let i = 0; i < 3; i++) results.push(await limited.execute(RequestReset, { input: { email } }, { ip }));
      return results.map((r) => r.data?.requestPasswordReset.__typename ?? r.errors?.[0]?.extensions?.code);
    };
    expect(await tries(gina.email, "198.51.100.7")).toEqual(["MailRequested", "MailRequested", "RATE_LIMITED"]);
    expect(await tries("ghost@example.com", "198.51.100.7")).toEqual(["MailRequested", "MailRequested", "RATE_LIMITED"]);
    // Another client has an allowance of its own for the address (so one client cannot keep the owner
    // from resetting), up to four times the allowance from all clients together.
    expect(await tries(gina.email, "203.0.113.9")).toEqual(["MailRequested", "MailRequested", "RATE_LIMITED"]);
    expect(await tries(gina.email, "203.0.113.10")).toEqual(["MailRequested", "MailRequested", "RATE_LIMITED"]);
    expect(await tries(gina.email, "203.0.113.11")).toEqual(["MailRequested", "MailRequested", "RATE_LIMITED"]);
    expect(await tries(gina.email, "203.0.113.12")).toEqual(["RATE_LIMITED", "RATE_LIMITED", "RATE_LIMITED"]);
    // The client's own allowance ends after five requests, whatever the addresses.
    const other = await limited.execute(RequestReset, { input: { email: "third@example.com" } }, { ip: "198.51.100.7" });
    expect(topLevelError(other)).toMatchObject({ code: "RATE_LIMITED", message: expect.stringContaining("Too many password resets from your network address") });
  });
});

describe("changing the address", () => {
  it("verifies the new address first, then changes it and tells the old one", async () => {
    const hana = await api.signUp();
    const newEmail = `new-${hana.email}`;
    const wrong = await api.execute(ChangeEmail, { input: { email: newEmail, password: "not the password" } }, { as: hana });
    expect(wrong.data?.changeEmail).toMatchObject({ fieldErrors: [{ field: "password", message: "Wrong password" }] });
    const other = await api.signUp();
    // Another account's address: the same answer as a free one, and no mail to anyone.
    const outboxBefore = await api.db.outboxMessage.count();
    const taken = await api.execute(ChangeEmail, { input: { email: other.email, password: hana.password } }, { as: hana });
    expect(taken.data?.changeEmail.__typename).toBe("MailRequested");
    expect(await api.db.outboxMessage.count()).toBe(outboxBefore);

    await api.execute(RequestReset, { input: { email: hana.email } });
    const oldReset = await smtp.mailTo(hana.email);
    const asked = await api.execute(ChangeEmail, { input: { email: newEmail, password: hana.password } }, { as: hana });
    expect(asked.data?.changeEmail.__typename).toBe("MailRequested");
    const link = await smtp.mailTo(newEmail);
    expect(link.mail.subject).toBe("Confirm your new email address for Chirp");
    expect((await api.execute(Me, {}, { as: hana })).data?.viewer?.email).toBe(hana.email);

    expect((await api.execute(VerifyEmail, { input: { token: link.token! } })).data?.verifyEmail.__typename).toBe("User");
    expect((await api.execute(Me, {}, { as: hana })).data?.viewer).toEqual({ email: newEmail, emailVerified: true });
    const notice = await smtp.mailTo(hana.email, { skip: 1 });
    expect(notice.mail.subject).toBe("Your Chirp email address was changed");
    expect(notice.mail.text).toContain(newEmail);
    // A reset link sent to the old address stops working with it.
    const stale = await api.execute(ResetPassword, { input: { token: oldReset.token!, password: "a brand new passphrase" } });
    expect(stale.data?.resetPassword).toMatchObject(tokenError("This link is not valid (a newer one replaces it); ask for a new one."));
  });

  it("fails whole when another account took the address meanwhile: no change, no notice queued", async () => {
    const ivan = await api.signUp();
    const wanted = `wanted-${ivan.email}`;
    await api.execute(ChangeEmail, { input: { email: wanted, password: ivan.password } }, { as: ivan });
    const link = await smtp.mailTo(wanted);
    await api.signUp({ email: wanted });
    const lost = await api.execute(VerifyEmail, { input: { token: link.token! } });
    expect(lost.errors).toBeUndefined();
    expect(lost.data?.verifyEmail).toMatchObject(tokenError("Another account took this address meanwhile; ask for a change to another one."));
    expect((await api.execute(Me, {}, { as: ivan })).data?.viewer?.email).toBe(ivan.email);
    // The notice to the old address was written in the transaction that failed.
    expect(await outboxTo(ivan.email)).toEqual([]);
  });
});

describe("new-device mail", () => {
  const logIn = (user: TestUser, userAgent: string, ip = "198.51.100.20") =>
    api.execute(LogIn, { input: { login: user.handle, password: user.password } }, { headers: { "user-agent": userAgent }, ip });

  it("mails the account when a user agent or network it had not seen logs in, once per device", async () => {
    const jo = await api.signUp();
    // The sign-up's device (no user agent, 127.0.0.1) is known; so is the same browser on the same /24.
    await api.execute(LogIn, { input: { login: jo.handle, password: jo.password } });
    await logIn(jo, "Firefox/130", "198.51.100.20");
    await logIn(jo, "Firefox/130", "198.51.100.99");
    await logIn(jo, `<b>Evil</b> "agent"`, "203.0.113.5");
    const first = await smtp.mailTo(jo.email);
    const second = await smtp.mailTo(jo.email, { skip: 1 });
    expect(first.mail.subject).toBe("New log-in to your Chirp account");
    expect(first.mail.text).toContain("Firefox/130");
    expect(second.mail.text).toContain(`<b>Evil</b> "agent"`);
    expect(second.mail.html).toContain("&lt;b&gt;Evil&lt;/b&gt; &quot;agent&quot;");
    await logIn(jo, "Firefox/130", "198.51.100.7");
    expect(await api.db.outboxMessage.count({ where: { recipient: jo.email, template: "new-device" } })).toBe(2);
  });

  it("quotes only the start of a user agent, which the client writes", async () => {
    const kim = await api.signUp();
    const pitch = "URGENT: your account is compromised, call +1-555-0100 or visit https://chirp-security.example/login now";
    await logIn(kim, `Mozilla/5.0 (X11; Linux x86_64) ${"x".repeat(60)} ${pitch}`);
    const { mail } = await smtp.mailTo(kim.email);
    expect(mail.text).toContain(`“Mozilla/5.0 (X11; Linux x86_64) ${"x".repeat(60)}`);
    expect(mail.text).not.toContain("chirp-security.example");
    expect(mail.html).not.toContain("chirp-security.example");
  });
});

describe("the outbox", () => {
  it("holds a message only if the transaction that wrote it commits", async () => {
    const failing = api.db.$transaction(async (tx) => {
      await queueMail(tx, "rolled-back@example.com", verifyEmailMail("someone", "http://x.test/#token=t", 3600));
      throw new Error("the change failed");
    });
    await expect(failing).rejects.toThrow("the change failed");
    expect(await outboxTo("rolled-back@example.com")).toEqual([]);
  });
});
