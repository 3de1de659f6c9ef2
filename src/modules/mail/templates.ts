/** A rendered mail: a plain-text part and an HTML part saying the same. */
export interface Mail {
  /** Which template made it, kept on the outbox row for the logs. */
  template: string;
  subject: string;
  text: string;
  html: string;
}

const escapeHtml = (value: string) =>
  value.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!);

interface Parts {
  template: string;
  subject: string;
  greeting: string;
  paragraphs: string[];
  action?: { label: string; url: string };
  footer?: string;
}

/** Every mail has one shape: every value is escaped in the HTML, the link shown in full in the text. */
function render({ template, subject, greeting, paragraphs, action, footer }: Parts): Mail {
  const text = [greeting, ...paragraphs, ...(action ? [`${action.label}: ${action.url}`] : []), ...(footer ? [footer] : [])].join("\n\n");
  const button = action
    ? `<p><a href="${escapeHtml(action.url)}" style="background:#1d9bf0;color:#fff;padding:10px 16px;border-radius:6px;text-decoration:none">${escapeHtml(action.label)}</a></p><p style="color:#555">Or open ${escapeHtml(action.url)}</p>`
    : "";
  const html = [
    `<!doctype html><html><body style="font-family:sans-serif;line-height:1.5">`,
    `<p>${escapeHtml(greeting)}</p>`,
    ...paragraphs.map((p) => `<p>${escapeHtml(p)}</p>`),
    button,
    footer ? `<p style="color:#555;font-size:small">${escapeHtml(footer)}</p>` : "",
    `</body></html>`,
  ].join("");
  return { template, subject, text, html: `${html}\n` };
}

const hours = (seconds: number) => (seconds % 3600 === 0 ? `${seconds / 3600} hour${seconds === 3600 ? "" : "s"}` : `${Math.round(seconds / 60)} minutes`);
const IGNORE = "If you did not ask for this, ignore this mail: nothing changes.";

export const verifyEmailMail = (handle: string, url: string, ttlSeconds: number) =>
  render({
    template: "verify-email",
    subject: "Confirm your email address for Chirp",
    greeting: `Hi @${handle},`,
    paragraphs: [`Confirm that this is your address. The link works once, for ${hours(ttlSeconds)}.`],
    action: { label: "Confirm my address", url },
    footer: IGNORE,
  });

export const changeEmailMail = (handle: string, url: string, ttlSeconds: number) =>
  render({
    template: "change-email",
    subject: "Confirm your new email address for Chirp",
    greeting: `Hi @${handle},`,
    paragraphs: [`You asked to use this address for your Chirp account. It takes effect when you open the link, which works once, for ${hours(ttlSeconds)}.`],
    action: { label: "Use this address", url },
    footer: IGNORE,
  });

export const emailChangedMail = (handle: string, newEmail: string, resetUrl: string) =>
  render({
    template: "email-changed",
    subject: "Your Chirp email address was changed",
    greeting: `Hi @${handle},`,
    paragraphs: [`The email address of your account is now ${newEmail}; mail for the account no longer comes here.`, "If you did not do this, reset your password at once."],
    action: { label: "Reset my password", url: resetUrl },
  });

export const resetPasswordMail = (handle: string, url: string, ttlSeconds: number) =>
  render({
    template: "reset-password",
    subject: "Reset your Chirp password",
    greeting: `Hi @${handle},`,
    paragraphs: [`Someone asked to reset the password of your account. The link works once, for ${hours(ttlSeconds)}, and signs you out everywhere.`],
    action: { label: "Choose a new password", url },
    footer: IGNORE,
  });

/** The client as the mail names it: a user agent is the client's to write, so only its start, quoted. */
const clientName = (userAgent: string | null) => {
  const name = (userAgent ?? "").replace(/\s+/g, " ").trim();
  if (!name) return "an unknown client";
  return `“${name.length > 100 ? `${name.slice(0, 100)}…` : name}”`;
};

export const newDeviceMail = (handle: string, device: { userAgent: string | null; ip: string; at: Date }, resetUrl: string) =>
  render({
    template: "new-device",
    subject: "New log-in to your Chirp account",
    greeting: `Hi @${handle},`,
    paragraphs: [
      `Your account was logged in from a device we had not seen: ${clientName(device.userAgent)}, address ${device.ip}, at ${device.at.toISOString()}.`,
      "If this was you, there is nothing to do. If not, reset your password: it ends every session.",
    ],
    action: { label: "Reset my password", url: resetUrl },
  });
