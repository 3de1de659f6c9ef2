import { RateLimiterMemory, RateLimiterRes } from "rate-limiter-flexible";
import { RateLimitedError } from "./errors.js";

export interface RateLimitSettings {
  /** Failed log-ins in a row allowed for one account from one client address, in the window. */
  loginFailuresPerAccountAndIp: number;
  /** Failed log-ins allowed per account from all addresses in the window. */
  loginFailuresPerAccount: number;
  /** Failed log-ins allowed per client address across accounts in the window. */
  loginFailuresPerIp: number;
  /** Sign-ups allowed per client address in the window. */
  signUpsPerIp: number;
  /**
   * Mails with a link (verification, password reset, change of address) allowed per address from one
   * client address in the window; from all clients together, four times as many.
   */
  mailsPerAddress: number;
  /** Password-reset requests allowed per client address, across addresses, in the window. */
  passwordResetsPerIp: number;
  windowSeconds: number;
}

/**
 * Counters that slow password guessing and sign-up floods, after rate-limiter-flexible's guide to
 * protecting a log-in: an attempt is counted before its password is checked and given back when it
 * succeeds. The tight limit is per account and address together, so one guessing address locks out
 * only itself; the looser ones per address and per account stop guessing across many accounts, or
 * from many addresses (which, together, can keep the account's owner out for the window). They live
 * in this process's memory: several instances each count on their own.
 */
export class RateLimits {
  private readonly logInByAccountAndIp: RateLimiterMemory;
  private readonly logInByAccount: RateLimiterMemory;
  private readonly logInByIp: RateLimiterMemory;
  private readonly signUpByIp: RateLimiterMemory;
  private readonly mailByAddressAndIp: RateLimiterMemory;
  private readonly mailByAddress: RateLimiterMemory;
  private readonly resetByIp: RateLimiterMemory;
  private readonly addressChangeByAccount: RateLimiterMemory;

  /** `onRefusal` is told the name of each limit that refuses (the metrics count them). */
  constructor(
    settings: RateLimitSettings,
    private readonly onRefusal: (limit: string) => void = () => {},
  ) {
    const duration = settings.windowSeconds;
    this.logInByAccountAndIp = new RateLimiterMemory({ keyPrefix: "login-account-ip", points: settings.loginFailuresPerAccountAndIp, duration });
    this.logInByAccount = new RateLimiterMemory({ keyPrefix: "login-account", points: settings.loginFailuresPerAccount, duration });
    this.logInByIp = new RateLimiterMemory({ keyPrefix: "login-ip", points: settings.loginFailuresPerIp, duration });
    this.signUpByIp = new RateLimiterMemory({ keyPrefix: "signup-ip", points: settings.signUpsPerIp, duration });
    this.mailByAddressAndIp = new RateLimiterMemory({ keyPrefix: "mail-address-ip", points: settings.mailsPerAddress, duration });
    // Looser, so that one client spending an address's allowance does not stop its owner's resets.
    this.mailByAddress = new RateLimiterMemory({ keyPrefix: "mail-address", points: 4 * settings.mailsPerAddress, duration });
    this.resetByIp = new RateLimiterMemory({ keyPrefix: "reset-ip", points: settings.passwordResetsPerIp, duration });
    this.addressChangeByAccount = new RateLimiterMemory({ keyPrefix: "address-change-account", points: settings.mailsPerAddress, duration });
  }

  /**
   * Counts a log-in attempt for `account` (a stable key: its id, not what was typed) from `ip`, or
   * throws RateLimitedError. The tightest counter goes first, so a refused guesser spends no more of
   * the account's or the address's shared allowance.
   */
  async logInAttempt(account: string, ip: string) {
    await this.consume(this.logInByAccountAndIp, pairKey(account, ip), "Too many failed log-ins");
    await this.consume(this.logInByIp, ip, "Too many failed log-ins from this address");
    await this.consume(this.logInByAccount, account, "Too many failed log-ins for this account");
  }

  /** The attempt was right: the run of failures ends and the attempt is given back. */
  async logInSucceeded(account: string, ip: string) {
    await Promise.all([
      this.logInByAccountAndIp.delete(pairKey(account, ip)),
      this.logInByIp.reward(ip, 1),
      this.logInByAccount.reward(account, 1),
    ]);
  }

  async signUp(ip: string) {
    await this.consume(this.signUpByIp, ip, "Too many sign-ups from this address");
  }

  /**
   * Counts a password-reset request for `email` (lower-cased) from `ip`, whether or not an account
   * has that address, so the limit itself tells nothing about which addresses exist.
   */
  async passwordReset(email: string, ip: string) {
    await this.consume(this.resetByIp, ip, "Too many password resets from your network address");
    await this.mailTo(email, ip);
  }

  /** Counts a mail with a link to `email`, so nobody can flood an inbox. */
  /** A change of address asked by `account`, to `email`: each account may ask as often as one address may be mailed. */
  async addressChange(account: string, email: string, ip: string) {
    await this.consume(this.addressChangeByAccount, account, "Too many changes of address for this account");
    await this.mailTo(email, ip);
  }

  /** A mail with a link to `email`, asked from `ip`. */
  async mailTo(email: string, ip: string) {
    await this.consume(this.mailByAddressAndIp, pairKey(email, ip), "Too many mails to this address");
    await this.consume(this.mailByAddress, email, "Too many mails to this address");
  }

  private async consume(limiter: RateLimiterMemory, key: string, what: string) {
    try {
      await limiter.consume(key);
    } catch (error) {
      if (!(error instanceof RateLimiterRes)) throw error;
      // The limiter's key prefix names the limit (login-account-ip, signup-ip, …): a fixed set.
      this.onRefusal(limiter.keyPrefix);
      const seconds = Math.max(1, Math.ceil(error.msBeforeNext / 1000));
      throw new RateLimitedError(`${what}; try again in ${seconds} seconds.`, seconds);
    }
  }
}

const pairKey = (account: string, ip: string) => `${account}|${ip}`;
