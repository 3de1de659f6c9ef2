import { RateLimiterMemory, RateLimiterRes } from "rate-limiter-flexible";
import { RateLimitedError } from "../../errors.js";

export interface RateLimitSettings {
  /** Failed log-ins allowed per account (handle or email) in the window. */
  loginFailuresPerAccount: number;
  /** Failed log-ins allowed per client address in the window. */
  loginFailuresPerIp: number;
  /** Sign-ups allowed per client address in the window. */
  signUpsPerIp: number;
  windowSeconds: number;
}

/**
 * Counters that slow password guessing and sign-up floods. They live in this process's memory:
 * several instances behind a load balancer each count on their own.
 */
export class RateLimits {
  private readonly loginByAccount: RateLimiterMemory;
  private readonly loginByIp: RateLimiterMemory;
  private readonly signUpByIp: RateLimiterMemory;

  constructor(settings: RateLimitSettings) {
    const duration = settings.windowSeconds;
    this.loginByAccount = new RateLimiterMemory({ keyPrefix: "login-account", points: settings.loginFailuresPerAccount, duration });
    this.loginByIp = new RateLimiterMemory({ keyPrefix: "login-ip", points: settings.loginFailuresPerIp, duration });
    this.signUpByIp = new RateLimiterMemory({ keyPrefix: "signup-ip", points: settings.signUpsPerIp, duration });
  }

  /** Throws when the account or the address has used up its failed log-ins. */
  async checkLogIn(account: string, ip: string) {
    const [byAccount, byIp] = await Promise.all([this.loginByAccount.get(account), this.loginByIp.get(ip)]);
    for (const state of [byAccount, byIp]) {
      if (state && state.remainingPoints <= 0) throw tooMany(state, "Too many failed log-ins");
    }
  }

  async logInFailed(account: string, ip: string) {
    await Promise.allSettled([this.loginByAccount.consume(account), this.loginByIp.consume(ip)]);
  }

  async logInSucceeded(account: string) {
    await this.loginByAccount.delete(account);
  }

  async signUp(ip: string) {
    try {
      await this.signUpByIp.consume(ip);
    } catch (error) {
      if (error instanceof RateLimiterRes) throw tooMany(error, "Too many sign-ups from this address");
      throw error;
    }
  }
}

const tooMany = (state: RateLimiterRes, what: string) => {
  const seconds = Math.max(1, Math.ceil(state.msBeforeNext / 1000));
  return new RateLimitedError(`${what}; try again in ${seconds} seconds.`, seconds);
};
