import { connect } from "node:net";

/** Whether the machine's Redis answers (CI and the dev machine have one; a fresh machine may not). */
export const redisReachable = await new Promise<boolean>((resolve) => {
  const socket = connect(6379, "127.0.0.1");
  socket.setTimeout(1_000);
  socket.once("connect", () => (socket.destroy(), resolve(true)));
  socket.once("error", () => resolve(false));
  socket.once("timeout", () => (socket.destroy(), resolve(false)));
});
