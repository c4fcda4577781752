/** Writes the OpenAPI document from the route catalog and the HTTP contract (`npm run openapi`). */
import { writeFileSync } from 'node:fs';
import { buildOpenApiDocument, openApiDocumentFile } from '#shared/protocol/openapi';

const target = new URL(`../${openApiDocumentFile}`, import.meta.url);
writeFileSync(target, `${JSON.stringify(buildOpenApiDocument(), null, 2)}\n`);
console.log(`Wrote ${openApiDocumentFile}`);
