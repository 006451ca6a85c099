import { describe } from "vitest";
import { contract } from "./contract.js";
import { useSingleNodeStores } from "./singleNode.js";

const mode = useSingleNodeStores();

describe("with the default user", () => {
  contract(mode);
});
