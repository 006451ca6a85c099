import { useSentinel } from "../support/hooks.js";
import { replicaReadSuite } from "../support/replicaReadSuite.js";

// readFrom "replica" on a Sentinel topology (a master, 2 replicas), one replica lagging.
const redis = useSentinel();
replicaReadSuite("Sentinel", redis, async () => {
  const master = await redis.current.currentMaster();
  return {
    masters: [master],
    lagging: redis.current.servers.filter((server) => server !== master).slice(0, 1),
  };
});
