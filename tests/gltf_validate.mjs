// Validate a .glb/.gltf with the official Khronos glTF validator (npm package gltf-validator).
// Usage: node tests/gltf_validate.mjs FILE.glb   — prints the report JSON; exit 1 on errors.
// The package is looked up in .tools/node_modules (`npm install --prefix .tools gltf-validator`)
// or anywhere Node's normal resolution finds it.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);

function loadValidator() {
  const roots = [resolve(here, "..", ".tools"), process.cwd()];
  for (const root of roots) {
    try {
      return require(require.resolve("gltf-validator", { paths: [root] }));
    } catch { /* try the next root */ }
  }
  return require("gltf-validator");
}

const file = process.argv[2];
if (!file) {
  console.error("usage: node gltf_validate.mjs FILE.glb");
  process.exit(2);
}
const validator = loadValidator();
const report = await validator.validateBytes(new Uint8Array(readFileSync(file)), {
  uri: file,
  maxIssues: 100,
});
console.log(JSON.stringify(report, null, 2));
process.exit(report.issues.numErrors > 0 ? 1 : 0);
