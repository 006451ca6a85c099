import type { Request, Response } from "express";
import { heldStateOf } from "../requestState.js";

/**
 * `readFrom: "replica"`: the causal token travels in a cookie of its own beside the session's,
 * `<name>.v`. The browser hands back the token of its last acknowledged write; a replica may
 * serve its reads only once it has applied that much of the replication stream.
 */
export class TokenCookie {
  constructor(
    /** The cookie's name: the session cookie's with `.v`. */
    readonly name: string,
  ) {}

  /** The token the request's cookie carries; 0 without one (or a bad one). */
  read(req: Request): number {
    const header = req.headers.cookie;
    if (header === undefined) return 0;
    const { name } = this;
    const at = header.indexOf(`${name}=`);
    if (at === -1 || (at > 0 && header[at - 1] !== " " && header[at - 1] !== ";")) return 0;
    const token = Number.parseInt(header.slice(at + name.length + 1), 10);
    return Number.isSafeInteger(token) && token > 0 ? token : 0;
  }

  /** Sets the cookie to the token of the request's last acknowledged write, if it made one. */
  write(req: Request, res: Response): void {
    if (res.headersSent) return;
    // Read only: a response of a request that wrote nothing makes no state for it.
    const token = heldStateOf(req)?.token;
    if (token === undefined) return;
    const secure = req.secure ? "; Secure" : "";
    res.append("Set-Cookie", `${this.name}=${token}; Path=/; HttpOnly; SameSite=Lax${secure}`);
  }
}
