import { mkdir, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import nodemailer from "nodemailer";
import type { MailConfig } from "../../config.js";
import type { Logger } from "../../logger.js";

/** What the worker hands the mailer: a row of the outbox. */
export interface OutgoingMail {
  id: string;
  template: string;
  recipient: string;
  subject: string;
  text: string | null;
  html: string | null;
}

export interface Mailer {
  /** Resolves once the server accepted the message (or its file is written); rejects otherwise. */
  send(mail: OutgoingMail): Promise<void>;
  close(): void;
}

/** The Message-ID of a message: the outbox row's id, so a resend after a crash carries the same one. */
export const messageId = (id: string, from: string) => `<${id}@${/@([^>\s]+)/.exec(from)?.[1] ?? "chirp.invalid"}>`;

/**
 * Over SMTP when SMTP_URL is set (the configuration requires it in production); otherwise, for
 * development, each message is written as an .eml file into DATA_DIR/mail and its links logged, so
 * a developer can follow them without a mail server.
 */
export function createMailer(config: MailConfig, logger: Logger): Mailer {
  const message = (mail: OutgoingMail) => ({
    from: config.from,
    to: mail.recipient,
    subject: mail.subject,
    text: mail.text ?? "",
    html: mail.html ?? "",
    messageId: messageId(mail.id, config.from),
    headers: { "X-Chirp-Template": mail.template },
  });
  if (config.smtpUrl) {
    // Timeouts well under the outbox lease, so a hung server fails the attempt rather than outliving the claim.
    const transport = nodemailer.createTransport({ url: config.smtpUrl, connectionTimeout: 10_000, greetingTimeout: 10_000, socketTimeout: 20_000 });
    return {
      send: async (mail) => void (await transport.sendMail(message(mail))),
      close: () => transport.close(),
    };
  }
  const transport = nodemailer.createTransport({ streamTransport: true, buffer: true, newline: "unix" });
  return {
    send: async (mail) => {
      const { message: eml } = (await transport.sendMail(message(mail))) as { message: Buffer };
      await mkdir(config.fileDir, { recursive: true });
      const file = join(config.fileDir, `${mail.id}.eml`);
      // Written aside, then renamed: a reader of the folder never sees half a message.
      await writeFile(`${file}.tmp`, eml);
      await rename(`${file}.tmp`, file);
      // Development only (production requires SMTP_URL): the link is what the developer needs.
      const links = (mail.text ?? "").match(/https?:\/\/\S+/g) ?? [];
      logger.info({ mail: { id: mail.id, template: mail.template, file, links } }, `mail written to ${file}`);
    },
    close: () => transport.close(),
  };
}
