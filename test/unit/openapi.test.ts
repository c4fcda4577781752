import { readFileSync } from 'node:fs';
import { createConfig, lintFromString } from '@redocly/openapi-core';
import { Validator } from '@seriousme/openapi-schema-validator';
import { describe, expect, it } from 'vitest';
import { httpRoutes } from '#shared/config/functions';
import { buildOpenApiDocument, openApiDocumentFile, openApiMethodKeys } from '#shared/protocol/openapi';

const document = buildOpenApiDocument();

/** As a client would read it: plain JSON, nothing the builder's objects carry beyond it. */
const asJson = (value: unknown): Record<string, unknown> => JSON.parse(JSON.stringify(value));

const parametersNamedBy = (pathTemplate: string) => [...pathTemplate.matchAll(/\{(\w+)\}/g)].map((match) => match[1]);

const operationOf = (route: (typeof httpRoutes)[number]) =>
  document.paths[route.path]?.[openApiMethodKeys[route.method]];

describe('buildOpenApiDocument', () => {
  it("passes redocly's recommended lint with no error and no warning (spectral's oas ruleset agrees, docs/protocol.md)", async () => {
    const config = await createConfig({ extends: ['recommended'] });
    const problems = await lintFromString({ source: JSON.stringify(document), absoluteRef: 'openapi.json', config });

    expect(problems.map((problem) => `${problem.severity} ${problem.ruleId}: ${problem.message}`)).toEqual([]);
  });

  it('documents exactly the routes of httpRoutes, none missing and none extra', () => {
    const documented = Object.entries(document.paths).flatMap(([path, item]) =>
      Object.keys(item).map((method) => `${method.toUpperCase()} ${path}`),
    );

    const routed = httpRoutes.map((route) => `${route.method} ${route.path}`);

    expect(documented.sort()).toEqual(routed.sort());
  });

  it.each(httpRoutes)('declares for $method $path exactly the path parameters its template names', (route) => {
    const declared = (operationOf(route)?.parameters ?? [])
      .filter((parameter) => parameter.in === 'path')
      .map((parameter) => parameter.name);

    expect(declared.sort()).toEqual(parametersNamedBy(route.path).sort());
  });

  it('puts every route behind the bearer JWT scheme and declares its 401', () => {
    const unauthorized = httpRoutes.filter((route) => operationOf(route)?.responses['401'] === undefined);

    expect(document.security).toEqual([{ bearerJwt: [] }]);
    expect(document.components.securitySchemes.bearerJwt).toMatchObject({ type: 'http', scheme: 'bearer' });
    expect(unauthorized).toEqual([]);
  });

  it('points every response body at a published component', () => {
    const references = Object.values(document.paths)
      .flatMap((item) => Object.values(item))
      .flatMap((operation) => Object.values(operation.responses))
      .flatMap((response) => (response.content ? [response.content['application/json'].schema.$ref] : []));

    const components = Object.keys(document.components.schemas).map((name) => `#/components/schemas/${name}`);

    expect(references.length).toBeGreaterThan(0);
    expect(references.filter((reference) => !components.includes(String(reference)))).toEqual([]);
  });

  it('is a valid OpenAPI 3.1 document', async () => {
    const validator = new Validator();

    const result = await validator.validate(asJson(document));

    expect(result.errors).toBeUndefined();
    expect(result.valid).toBe(true);
    expect(validator.version).toBe('3.1');
  });
});

describe(openApiDocumentFile, () => {
  it('is what buildOpenApiDocument() makes now', () => {
    const onDisk = JSON.parse(readFileSync(new URL(`../../${openApiDocumentFile}`, import.meta.url), 'utf8'));

    expect(onDisk, `${openApiDocumentFile} is stale: run \`npm run openapi\``).toEqual(asJson(document));
  });
});
