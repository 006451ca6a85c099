// The Cluster's key-to-slot rule (cluster-spec.md, "Keys distribution model"): CRC16-XMODEM of
// the key, or of its hash tag (what lies between the first `{` and the next `}`, when that is not
// empty), modulo 16384. ioredis computes it with its own dependency, which it does not export.

const SLOTS = 16384;

/** CRC16-XMODEM (polynomial 0x1021), one table entry per byte value. */
const TABLE = Uint16Array.from({ length: 256 }, (_, byte) => {
  let crc = byte << 8;
  for (let bit = 0; bit < 8; bit++) crc = crc & 0x8000 ? (crc << 1) ^ 0x1021 : crc << 1;
  return crc & 0xffff;
});

function crc16(bytes: Uint8Array): number {
  let crc = 0;
  for (const byte of bytes) crc = ((crc << 8) ^ (TABLE[((crc >> 8) ^ byte) & 0xff] ?? 0)) & 0xffff;
  return crc;
}

/** The part of `key` that decides its slot: its hash tag if it has one, else all of it. */
function hashedPart(key: string): string {
  const open = key.indexOf("{");
  if (open === -1) return key;
  const close = key.indexOf("}", open + 1);
  return close > open + 1 ? key.slice(open + 1, close) : key;
}

/** The Cluster slot of `key`. */
export function keySlot(key: string): number {
  return crc16(Buffer.from(hashedPart(key))) % SLOTS;
}
