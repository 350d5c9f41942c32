// Compile Solidity with solc-js through the standard-JSON interface.
// stdin: the standard-JSON input; stdout: the standard-JSON output.
// Imports ("@openzeppelin/...", "./Other.sol") are resolved from the directories listed
// in the SOLC_IMPORT_PATHS environment variable (':'-separated; the repo's node_modules
// and tests/contracts by default).
"use strict";
const fs = require("fs");
const path = require("path");

const root = path.resolve(__dirname, "..", "..");
const importPaths = (process.env.SOLC_IMPORT_PATHS || "")
  .split(":")
  .filter(Boolean)
  .concat([path.join(root, "node_modules"), __dirname]);

let solc;
try {
  solc = require(require.resolve("solc", { paths: [root] }));
} catch (e) {
  process.stderr.write("solc_compile.js: cannot load solc from node_modules: " + e.message + "\n");
  process.exit(3);
}

function findImports(importPath) {
  if (path.isAbsolute(importPath) || importPath.split("/").includes("..")) {
    return { error: "refusing import outside the import paths: " + importPath };
  }
  for (const dir of importPaths) {
    const candidate = path.join(dir, importPath);
    if (fs.existsSync(candidate)) {
      return { contents: fs.readFileSync(candidate, "utf8") };
    }
  }
  return { error: "File not found: " + importPath };
}

if (process.argv.includes("--version")) {
  process.stdout.write(solc.version() + "\n");
} else {
  const input = fs.readFileSync(0, "utf8");
  process.stdout.write(solc.compile(input, { import: findImports }));
}
