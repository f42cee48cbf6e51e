// Validates each OpenAPI document named on the command line with swagger-parser (schema and
// $refs), printing one line per document; exits 1 if any is invalid. Run by TestOpenAPILint.
import SwaggerParser from "@apidevtools/swagger-parser";

let failed = false;
for (const file of process.argv.slice(2)) {
  try {
    const api = await SwaggerParser.validate(file);
    console.log(`${file}: valid OpenAPI ${api.openapi}`);
  } catch (err) {
    failed = true;
    console.log(`${file}: INVALID: ${err.message}`);
  }
}
process.exit(failed ? 1 : 0);
