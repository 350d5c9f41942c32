// A Hardhat 3 project run against `chameleon dev`:
//
//   ./scripts/dev                                              # in one terminal
//   cd tests/e2e/hardhat && npx hardhat test --network chameleon
//
// CHAMELEON_RPC_URL points it at another node (tests/e2e/test_toolchains.py starts its own).
import { createRequire } from "node:module";

import hardhatEthers from "@nomicfoundation/hardhat-ethers";
import hardhatEthersChaiMatchers from "@nomicfoundation/hardhat-ethers-chai-matchers";
import hardhatMocha from "@nomicfoundation/hardhat-mocha";
import hardhatNetworkHelpers from "@nomicfoundation/hardhat-network-helpers";
import { defineConfig } from "hardhat/config";

const require = createRequire(import.meta.url);

// The network helpers (time, mine, loadFixture, ...) refuse any node whose web3_clientVersion
// does not start with "hardhat", "anvil" or "zksync"; Chameleon's starts with "chameleon/".
// This plugin declares the `chameleon` network a development node: it prefixes the answer
// with "anvil-compatible/" on that network only.
const chameleonIsADevNode = {
  id: "chameleon-dev-node",
  hookHandlers: {
    network: async () => ({
      default: async () => ({
        async onRequest(context, connection, request, next) {
          const response = await next(context, connection, request);
          if (request.method === "web3_clientVersion" && connection.networkName === "chameleon"
              && typeof response.result === "string" && response.result.startsWith("chameleon/")) {
            return { ...response, result: `anvil-compatible/${response.result}` };
          }
          return response;
        },
      }),
    }),
  },
};

export default defineConfig({
  plugins: [chameleonIsADevNode, hardhatEthers, hardhatEthersChaiMatchers, hardhatMocha, hardhatNetworkHelpers],
  solidity: {
    version: "0.8.37",
    // solc-js from node_modules (npm `solc`): Hardhat would otherwise download a compiler.
    path: require.resolve("solc/soljson.js"),
    settings: { evmVersion: "cancun", optimizer: { enabled: true, runs: 200 } },
  },
  networks: {
    chameleon: {
      type: "http",
      url: process.env.CHAMELEON_RPC_URL ?? "http://127.0.0.1:8545",
      chainId: 31337,
      // the dev chain's funded accounts; Hardhat signs locally (eth_sendRawTransaction)
      accounts: { mnemonic: "test test test test test test test test test test test junk" },
    },
  },
});
