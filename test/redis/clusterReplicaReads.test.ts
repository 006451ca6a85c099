import { useCluster } from "../support/hooks.js";
import { replicaReadSuite } from "../support/replicaReadSuite.js";

// readFrom "replica" on a 3-shard Cluster (a master and 2 replicas each), one replica of every
// shard lagging: a shard whose only replica lags would hold its writes (confirmed by 1 replica).
const redis = useCluster({ masters: 3, replicasPerMaster: 2 });
replicaReadSuite("a Cluster", redis, async () => {
  const shards = await redis.current.shards();
  return {
    masters: shards.map((shard) => shard.master),
    lagging: shards.flatMap((shard) => shard.replicas.slice(0, 1)),
  };
});
