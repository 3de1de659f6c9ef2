import type { AddressInfo } from "node:net";
import { type ParsedMail, simpleParser } from "mailparser";
import { SMTPServer } from "smtp-server";

export interface Received {
  mail: ParsedMail;
  to: string;
  messageId: string;
  /** The token of the mail's link (after #token=), if it has one. */
  token: string | undefined;
}

/**
 * A real SMTP server on 127.0.0.1 (smtp-server), keeping what it receives parsed by mailparser.
 * `stop()` closes it; `start()` listens again on the same port, as a mail server coming back.
 */
export async function startSmtp() {
  const received: Received[] = [];
  const waiters = new Set<() => void>();
  let server: SMTPServer | null = null;
  let port = 0;

  async function start() {
    if (server) return;
    const created = new SMTPServer({
      authOptional: true,
      disabledCommands: ["AUTH", "STARTTLS"],
      logger: false,
      onData(stream, _session, callback) {
        simpleParser(stream).then((mail) => {
          const text = mail.text ?? "";
          const to = Array.isArray(mail.to) ? mail.to[0]!.text : (mail.to?.text ?? "");
          received.push({ mail, to, messageId: mail.messageId ?? "", token: /#token=([A-Za-z0-9_-]+)/.exec(text)?.[1] });
          for (const check of waiters) check();
          callback();
        }, callback);
      },
    });
    await new Promise<void>((resolve, reject) => {
      created.once("error", reject);
      created.listen(port, "127.0.0.1", () => resolve());
    });
    server = created;
    port = (created.server.address() as AddressInfo).port;
  }

  const stop = () =>
    new Promise<void>((resolve) => {
      if (!server) return resolve();
      server.close(() => resolve());
      server = null;
    });

  /** The next mail to `to` after the first `skip` of them (resolves at once if it arrived already). */
  function mailTo(to: string, { skip = 0, timeoutMs = 10_000 }: { skip?: number; timeoutMs?: number } = {}) {
    return new Promise<Received>((resolve, reject) => {
      const check = () => {
        const found = received.filter((r) => r.to === to)[skip];
        if (!found) return;
        clearTimeout(timer);
        waiters.delete(check);
        resolve(found);
      };
      const timer = setTimeout(() => {
        waiters.delete(check);
        reject(new Error(`no mail #${skip + 1} to ${to} in ${timeoutMs} ms; received: ${received.map((r) => r.to).join(", ")}`));
      }, timeoutMs);
      waiters.add(check);
      check();
    });
  }

  await start();
  return { received, start, stop, mailTo, url: () => `smtp://127.0.0.1:${port}`, port: () => port };
}

export type Smtp = Awaited<ReturnType<typeof startSmtp>>;
