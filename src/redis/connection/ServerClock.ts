import type { Cluster, Redis } from "ioredis";

/**
 * A sample whose round trip took longer than this (the command waited for a reconnection, or for
 * a busy server) is measured again, up to SAMPLES times: the offset is known to within a round
 * trip.
 */
const PRECISE_RTT_MS = 2;
const SAMPLES = 3;

/**
 * How far a Redis server's clock is from this process's, measured with `TIME` once per
 * connection (a failover may lead to a host whose clock differs again).
 *
 * Write deadlines are checked by the server, against its own clock: a deadline this process
 * computed from its clock is converted with the offset first, so a write is judged late only when
 * it is, however far the two clocks disagree (a container or VM without NTP can be minutes off).
 */
export class ServerClock {
  /** Server time less local time, ms. */
  #offset = 0;
  /** The connection epoch the offset was measured on; -1: never. */
  #epoch = -1;

  constructor(
    private readonly connection: Redis | Cluster,
    /** Counts the connection's (re)connections. */
    private readonly epoch: () => number,
  ) {}

  /** Whether the offset was measured on the current connection. */
  get current(): boolean {
    return this.#epoch === this.epoch();
  }

  /** `localMs` (a time from Date.now()) on the server's clock, as of the last measurement. */
  toServer(localMs: number): number {
    return localMs + this.#offset;
  }

  /**
   * Measures the offset on the current connection: the sample with the shortest round trip out of
   * up to three (the first may have waited for the connection to come back).
   *
   * The server read its clock at some moment between sending and receiving; the offset taken is
   * the one that moment being the receipt gives, the smallest possible. Deadlines converted with
   * it fall early, never late, by at most the round trip: the late-write guard may refuse a write
   * that arrives within a millisecond or two of its deadline, and never lets a late one through.
   */
  async measure(): Promise<void> {
    let best = Infinity;
    for (let i = 0; i < SAMPLES && best > PRECISE_RTT_MS; i++) {
      const sent = Date.now();
      const [seconds, micros] = (await this.connection.call("TIME")) as [string, string];
      const received = Date.now();
      const rtt = received - sent;
      if (rtt >= best) continue;
      best = rtt;
      this.#offset = Number(seconds) * 1000 + Math.floor(Number(micros) / 1000) - received;
      // The epoch of the connection that answered: a reconnection in between re-sent the TIME.
      this.#epoch = this.epoch();
    }
  }
}
