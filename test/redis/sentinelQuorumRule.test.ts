import { expect, test } from "vitest";
import { vouchedMaster } from "../../src/redis/sentinel/SentinelQuorum.js";
import { promotableIn, selectableIn } from "../../src/redis/sentinel/replicaChoice.js";
import type { SentinelAnswer } from "../../src/redis/sentinel/SentinelQuorum.js";

// Which master a Sentinel majority vouches for, from the Sentinels' answers. The answers below
// are those an instance saw in the flapping partition test (round 5 of a failing run): s1 had
// taken part in the failover to n3 (epoch 5) and now sees n3 down, s2 had been cut off with the
// old master n2 and still named it at epoch 4, s3 was beyond the cut.
const now = 1_000_000;
const answer = (master: string, epoch: number, healthy: boolean, age = 100): SentinelAnswer => ({
  at: now - age,
  master,
  epoch,
  replicas: 2,
  healthy,
});

test("a master named at an older epoch than a fresh answer knows is not vouched for, even when the newer master is down", () => {
  const s1 = answer("n3:6379", 5, false);
  const s2 = answer("n2:6379", 4, true);
  expect(vouchedMaster([s1, s2, undefined], now)).toBeUndefined();
});

test("the master of the highest epoch is vouched for when a majority answered and it is up", () => {
  const s1 = answer("n3:6379", 5, true);
  const s2 = answer("n2:6379", 4, true);
  expect(vouchedMaster([s1, s2, undefined], now)?.master).toBe("n3:6379");
  expect(vouchedMaster([s1, s2, answer("n3:6379", 5, true)], now)?.master).toBe("n3:6379");
});

test("no majority of fresh answers, or a split at the highest epoch: no master", () => {
  const old = answer("n3:6379", 5, true, 1_500);
  expect(vouchedMaster([answer("n3:6379", 5, true), old, undefined], now)).toBeUndefined();
  expect(
    vouchedMaster([answer("n3:6379", 5, true), answer("n1:6379", 5, true), undefined], now),
  ).toBeUndefined();
});

test("while the failover's leader still names the old master at the new epoch, the promoted one is vouched for", () => {
  // The leader flags failover_in_progress until the replicas are reconfigured; the others have
  // heard of the promotion already.
  const leader = answer("n1:6379", 5, false);
  const told = answer("n2:6379", 5, true);
  expect(vouchedMaster([leader, told, answer("n1:6379", 4, false)], now)?.master).toBe("n2:6379");
});

// Which replicas Sentinel could promote, from `SENTINEL REPLICAS` answers.
const replica = (fields: Record<string, string>) =>
  new Map(
    Object.entries({
      ip: "10.0.0.2",
      port: "6379",
      flags: "slave",
      "master-link-status": "ok",
      "slave-priority": "100",
      "last-ok-ping-reply": "300",
      ...fields,
    }),
  );

test("a replica Sentinel flags disconnected is still promotable: Sentinel's own CLIENT KILL in a failover drops its links to the replica it promotes", () => {
  // Seen in a SENTINEL FAILOVER run that lost acknowledged writes: the promoted replica was
  // briefly `disconnected`, a write then waited for the other replica only, which still followed
  // the old master. A dead replica is told apart by its refused port (MasterView.probe).
  expect(promotableIn([replica({ flags: "slave,disconnected" })], (a) => a)).toEqual(
    new Set(["10.0.0.2:6379"]),
  );
});

test("replicas down, with their link to the master down, never to be promoted or silent for 5 s are not promotable", () => {
  const ineligible = [
    replica({ flags: "slave,s_down" }),
    replica({ flags: "slave,s_down,o_down" }),
    replica({ "master-link-status": "err" }),
    replica({ "slave-priority": "0" }),
    replica({ "last-ok-ping-reply": "5001" }),
  ];
  expect(promotableIn(ineligible, (a) => a).size).toBe(0);
  expect(promotableIn([replica({})], (a) => `nat-${a}`)).toEqual(new Set(["nat-10.0.0.2:6379"]));
});

test("what Sentinel could select: link down within 10 × down-after counts, as in sentinelSelectReplica", () => {
  const master = new Map([
    ["flags", "master"],
    ["down-after-milliseconds", "1000"],
  ]);
  const selectable = [
    // An old master that rejoined and still reports itself master (no link fields yet).
    replica({ "master-link-status": "err", "master-link-down-time": "0" }),
    replica({ "master-link-status": "err", "master-link-down-time": "10000", port: "6380" }),
    // An entry a failover has just made for the new master: not connected yet, selectable as
    // soon as it is (Sentinel sets its last ping to the entry's creation).
    replica({ flags: "slave,disconnected", "last-ok-ping-reply": "150", port: "6381" }),
  ];
  expect(selectableIn(selectable, master, (a) => a)).toEqual(
    new Set(["10.0.0.2:6379", "10.0.0.2:6380", "10.0.0.2:6381"]),
  );
  const not = [
    replica({ "master-link-status": "err", "master-link-down-time": "10001" }),
    replica({ flags: "slave,s_down" }),
    replica({ flags: "slave,disconnected", "last-ok-ping-reply": "5001" }),
    replica({ "slave-priority": "0" }),
    replica({ "last-ok-ping-reply": "5001" }),
  ];
  expect(selectableIn(not, master, (a) => a).size).toBe(0);
  // While the master is s_down, the limit grows by the time it has been.
  const down = new Map([...master, ["flags", "master,s_down"], ["s-down-time", "3000"]]);
  expect(selectableIn([replica({ "master-link-down-time": "12000" })], down, (a) => a).size).toBe(
    1,
  );
});
