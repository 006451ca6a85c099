import { scrypt, timingSafeEqual } from "node:crypto";
import { promisify } from "node:util";

const scryptAsync = promisify(scrypt) as (
  password: string,
  salt: string,
  length: number,
) => Promise<Buffer>;

/**
 * The demo's users. Passwords are `<name>-demo-password`, stored only as scrypt hashes
 * (N=16384, r=8, p=1, 32 bytes) with a per-user salt, as a real user table would hold them.
 */
const USERS: Record<string, { salt: string; hash: string }> = {
  alice: { salt: "F2oVpQDuVBUDmN8Bzk23mg", hash: "6LUFw2ivFtJ7u0SZNJLqumAX9RAgpTa0s6shqMzeiW8" },
  bob: { salt: "JxYkdHyrWBUA7yZP1wrd6w", hash: "WTVFvqFmPRjQYkxRlptBVh3XgCLu_D-vtUvpkjiN5KE" },
  carol: { salt: "eSy_KdIyj2ZJHyH4w82svg", hash: "q3WWGNNj1bl1eAUl0HKPlw-nmL-1ANl_6YllOVIEybo" },
  dave: { salt: "avOuHgLfoF7v1mCbRYtWww", hash: "09Wh5vTiMy6IXQKmZX7uONIm1w4TjQSr4e6Dcypx7Fc" },
};

export const DEMO_USERS = Object.keys(USERS);

export function demoPassword(username: string): string {
  return `${username}-demo-password`;
}

/** The username if the password is right, else undefined; takes the same time either way. */
export async function verifyPassword(
  username: string,
  password: string,
): Promise<string | undefined> {
  const known = Object.hasOwn(USERS, username);
  // An unknown name is checked against a real hash anyway, so timing does not tell names apart.
  const user = (known ? USERS[username] : undefined) ?? USERS.alice;
  if (user === undefined) return undefined;
  const hash = await scryptAsync(password, user.salt, 32);
  const matches = timingSafeEqual(hash, Buffer.from(user.hash, "base64url"));
  return matches && known ? username : undefined;
}
