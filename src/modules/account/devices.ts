import { isIPv4 } from "node:net";
import type { Config } from "../../config.js";
import { type Tx, queueMail } from "../../jobs/outbox.js";
import { sha256 } from "../auth/credentials.js";
import { newDeviceMail } from "../mail/templates.js";

/**
 * A "device" is a user agent on a network (the client address's IPv4 /24 or IPv6 /48): a browser
 * update or a new network is a new device, a new address from the same provider's block usually
 * is not. Chirp has no cookies to mark a device with, and a client-chosen device id would be
 * whatever an attacker sends; only the hash of the pair is kept.
 */
export function deviceHash(userAgent: string | null, ip: string) {
  return sha256(`${userAgent ?? ""}\n${network(ip)}`);
}

function network(ip: string) {
  const mapped = ip.replace(/^::ffff:/i, "");
  if (isIPv4(mapped)) return mapped.split(".").slice(0, 3).join(".");
  if (!ip.includes(":")) return ip;
  const [head = "", tail = ""] = ip.split("::");
  const left = head ? head.split(":") : [];
  const right = tail ? tail.split(":") : [];
  const groups = ip.includes("::") ? [...left, ...Array<string>(8 - left.length - right.length).fill("0"), ...right] : left;
  return groups.slice(0, 3).map((group) => parseInt(group, 16).toString(16)).join(":");
}

interface DeviceUser {
  id: number;
  handle: string;
  email: string;
}

/**
 * Records the device of a session being started, in its transaction; a device the user had not
 * used before gets a mail to the account's address (unless `notify` is false: a sign-up's first device).
 * Returns whether a mail was queued.
 */
export async function recordDevice(tx: Tx, config: Pick<Config, "mail">, user: DeviceUser, client: { userAgent: string | null; ip: string }, notify: boolean) {
  const { count } = await tx.knownDevice.createMany({ data: [{ userId: user.id, deviceHash: deviceHash(client.userAgent, client.ip) }], skipDuplicates: true });
  if (count === 0 || !notify) return false;
  const mail = newDeviceMail(user.handle, { userAgent: client.userAgent, ip: client.ip, at: new Date() }, `${config.mail.appUrl}/reset-password`);
  await queueMail(tx, user.email, mail);
  return true;
}
