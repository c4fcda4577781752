/**
 * The HTTP API as an OpenAPI 3.1 document, derived from the route catalog (`httpRoutes`) and the
 * contract (http-contract.ts): the same zod schemas the handlers parse with, converted by
 * `z.toJSONSchema` into JSON Schema 2020-12, OpenAPI 3.1's dialect. `npm run openapi` writes it
 * to docs/openapi.json; the local stack serves it at `GET /openapi.json`.
 */
import { z } from 'zod';
import packageJson from '../../package.json' with { type: 'json' };
import { type HttpMethod, httpRoutes } from '../config/functions';
import { type HttpFunctionName, httpContract, type ResponseContract, type RouteContract } from './http-contract';
import { httpResponseSchemas } from './http-responses';

type JsonSchema = z.core.JSONSchema.BaseSchema;
type JsonSchemaOrBoolean = z.core.JSONSchema._JSONSchema;

export interface OpenApiParameter {
  readonly name: string;
  readonly in: 'path' | 'query';
  readonly required: boolean;
  readonly schema: JsonSchemaOrBoolean;
}

export interface OpenApiMediaType {
  readonly schema: JsonSchema;
}

export interface OpenApiResponse {
  readonly description: string;
  readonly content?: Readonly<Record<'application/json', OpenApiMediaType>>;
}

export interface OpenApiOperation {
  readonly operationId: string;
  readonly summary: string;
  readonly description: string;
  readonly tags: readonly string[];
  readonly parameters?: readonly OpenApiParameter[];
  readonly requestBody?: { readonly required: true; readonly content: Record<'application/json', OpenApiMediaType> };
  readonly responses: Readonly<Record<string, OpenApiResponse>>;
}

export type OpenApiPathItem = Partial<Record<Lowercase<HttpMethod>, OpenApiOperation>>;

export interface OpenApiDocument {
  readonly openapi: '3.1.0';
  readonly info: {
    readonly title: string;
    readonly version: string;
    readonly description: string;
    readonly contact: { readonly name: string };
    readonly license: { readonly name: string; readonly identifier: string };
  };
  readonly servers: readonly {
    readonly url: string;
    readonly description: string;
    readonly variables?: Readonly<Record<string, { readonly default: string; readonly description: string }>>;
  }[];
  readonly tags: readonly { readonly name: string; readonly description: string }[];
  readonly jsonSchemaDialect: string;
  readonly security: readonly Record<string, readonly string[]>[];
  readonly paths: Readonly<Record<string, OpenApiPathItem>>;
  readonly components: {
    readonly schemas: Readonly<Record<string, JsonSchema>>;
    readonly securitySchemes: Readonly<Record<string, Record<string, string>>>;
  };
}

/** What z.toJSONSchema emits (`target: 'draft-2020-12'`), stated once for the whole document. */
const jsonSchemaDialect = 'https://json-schema.org/draft/2020-12/schema';
const bearerJwtScheme = 'bearerJwt';
const jsonMediaType = 'application/json';

/** Where `npm run openapi` keeps the document, from the repository root. */
export const openApiDocumentFile = 'docs/openapi.json';

const componentUri = (name: string) => `#/components/schemas/${name}`;

/** OpenAPI keys operations by the lowercase method. */
export const openApiMethodKeys = {
  GET: 'get',
  POST: 'post',
  PUT: 'put',
  PATCH: 'patch',
  DELETE: 'delete',
} as const satisfies { [Method in HttpMethod]: Lowercase<Method> };

export function buildOpenApiDocument(): OpenApiDocument {
  const responseComponents = convertResponseSchemas();
  const paths: Record<string, OpenApiPathItem> = {};
  for (const route of httpRoutes) {
    const operation = operationOf(route, httpContract[route.function], responseComponents.nameOf);
    paths[route.path] = { ...paths[route.path], [openApiMethodKeys[route.method]]: operation };
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'Parley HTTP API',
      version: packageJson.version,
      description:
        'Generated from the zod schemas the handlers validate with (shared/protocol/http-contract.ts); ' +
        'the prose contract is docs/protocol.md. Response objects may gain fields; clients ignore unknown ones. ' +
        'The local stack (`npm start`) serves the same API on port 3000.',
      contact: { name: 'The Parley maintainers (see the repository README)' },
      license: { name: 'Apache License 2.0', identifier: packageJson.license },
    },
    servers: [
      {
        url: 'https://{apiId}.execute-api.{region}.amazonaws.com',
        description: 'A deployment: the stack output HttpApiUrl',
        variables: {
          apiId: { default: 'abc123defg', description: 'The HTTP API id from the stack output' },
          region: { default: 'us-east-1', description: 'The region the stack is deployed in' },
        },
      },
    ],
    tags: [...new Set(httpRoutes.map((route) => tagOf(route.path)))].map((name) => ({
      name,
      description: tagDescriptions[name] ?? name,
    })),
    jsonSchemaDialect,
    // Every route sits behind API Gateway's JWT authorizer.
    security: [{ [bearerJwtScheme]: [] }],
    paths,
    components: {
      schemas: responseComponents.schemas,
      securitySchemes: {
        [bearerJwtScheme]: {
          type: 'http',
          scheme: 'bearer',
          bearerFormat: 'JWT',
          description: 'A Cognito ID token; locally, one from `POST /local/token`',
        },
      },
    },
  };
}

function operationOf(
  route: (typeof httpRoutes)[number],
  contract: RouteContract,
  componentNameOf: (schema: z.ZodType) => string,
): OpenApiOperation {
  const parameters = [
    ...(contract.path === undefined ? [] : parametersOf(contract.path, 'path')),
    ...(contract.query === undefined ? [] : parametersOf(contract.query, 'query')),
  ];
  const responses: Record<string, OpenApiResponse> = {};
  for (const [status, response] of Object.entries(contract.responses)) {
    responses[status] = responseOf(response, componentNameOf);
  }
  return {
    operationId: operationIdOf(route.function),
    summary: contract.summary,
    description:
      contract.query !== undefined && requestSchemaOf(contract.query).additionalProperties === false
        ? `${contract.description} Unknown query parameters are refused with 400 bad_request.`
        : contract.description,
    tags: [tagOf(route.path)],
    ...(parameters.length > 0 ? { parameters } : {}),
    ...(contract.body === undefined
      ? {}
      : { requestBody: { required: true, content: { [jsonMediaType]: { schema: requestSchemaOf(contract.body) } } } }),
    responses,
  };
}

/** Requests are described as clients send them: before transforms, pipes and defaults apply. */
function requestSchemaOf(schema: z.core.$ZodType): JsonSchema {
  return withoutDialect(z.toJSONSchema(schema, { target: 'draft-2020-12', io: 'input', unrepresentable: 'throw' }));
}

/** A path or query schema is an object (maybe refined and transformed as a whole); each field is one parameter. */
function parametersOf(schema: z.core.$ZodType, location: OpenApiParameter['in']): OpenApiParameter[] {
  const required = new Set(requestSchemaOf(schema).required ?? []);
  return Object.entries(fieldsOf(schema)).map(([name, field]) => ({
    name,
    in: location,
    // OpenAPI: path parameters are always required.
    required: location === 'path' || required.has(name),
    schema: parameterValueSchemaOf(field),
  }));
}

function fieldsOf(schema: z.core.$ZodType): Readonly<Record<string, z.core.$ZodType>> {
  if (schema instanceof z.ZodObject) return schema.shape;
  // `.transform()` on the whole object: its parameters are those of the object it starts from.
  if (schema instanceof z.ZodPipe) return fieldsOf(schema.in);
  throw new Error('A path or query schema must be an object schema');
}

/**
 * OpenAPI describes a parameter by its value, not its text: `limit` is an integer from 1 to 100
 * (the pipe's output), not the digits it arrives as. A value a transform leaves undescribable
 * stays as the string sent.
 */
function parameterValueSchemaOf(field: z.core.$ZodType): JsonSchema {
  try {
    return withoutDialect(z.toJSONSchema(field, { target: 'draft-2020-12', io: 'output', unrepresentable: 'throw' }));
  } catch {
    return requestSchemaOf(field);
  }
}

function responseOf(response: ResponseContract, componentNameOf: (schema: z.ZodType) => string): OpenApiResponse {
  if (response.body === undefined) return { description: response.description };
  return {
    description: response.description,
    content: { [jsonMediaType]: { schema: { $ref: componentUri(componentNameOf(response.body)) } } },
  };
}

/** Every response body, once, under its name in `httpResponseSchemas`; shapes they share become `$ref`s. */
function convertResponseSchemas() {
  const registry = z.registry<{ id: string }>();
  const names = new Map<z.ZodType, string>();
  for (const [name, schema] of Object.entries(httpResponseSchemas)) {
    registry.add(schema, { id: name });
    names.set(schema, name);
  }
  const converted = z.toJSONSchema(registry, {
    target: 'draft-2020-12',
    io: 'output',
    uri: componentUri,
    unrepresentable: 'throw',
    override: leaveObjectsOpen,
  });
  const schemas: Record<string, JsonSchema> = {};
  for (const [name, schema] of Object.entries(converted.schemas)) {
    // `$id` would be a fragment-only URI (not allowed in 2020-12); the component's place names it.
    const { $id: _placeNamesIt, ...rest } = withoutDialect(schema);
    schemas[name] = rest;
  }
  const nameOf = (schema: z.ZodType) => {
    const name = names.get(schema);
    if (name === undefined) throw new Error('A response body must be one of httpResponseSchemas, to be published');
    return name;
  };
  return { schemas, nameOf };
}

/**
 * zod closes every plain object on output (`additionalProperties: false`), but responses may gain
 * fields (docs/protocol.md): only a strict object promises that there are no others.
 */
function leaveObjectsOpen(context: { zodSchema: z.core.$ZodTypes; jsonSchema: JsonSchema }): void {
  const definition = context.zodSchema._zod.def;
  if (definition.type === 'object' && definition.catchall === undefined) delete context.jsonSchema.additionalProperties;
}

/** The dialect is the document's (`jsonSchemaDialect`), not each schema's. */
function withoutDialect(schema: JsonSchema): JsonSchema {
  const { $schema: _statedOnce, ...rest } = schema;
  return rest;
}

/** `httpGetConversation` → `getConversation`. */
function operationIdOf(functionName: HttpFunctionName): string {
  const name = functionName.replace(/^http/, '');
  return name.charAt(0).toLowerCase() + name.slice(1);
}

/** `/users/{id}/conversations` → `users`: routes group by the resource they start from. */
/** What each group of routes (a path's first segment) is about. */
const tagDescriptions: Readonly<Record<string, string>> = {
  conversations: 'Direct and group conversations, their members and their messages',
  messages: 'Single messages and their read receipts',
  users: 'Profiles, finding people, and each user’s conversation list',
  attachments: 'Uploaded images, videos and files',
  'connect-ticket': 'Tickets that open the WebSocket without a token in the URL',
  devices: 'Web Push subscriptions of the caller’s devices',
  push: 'Web Push settings the server publishes',
};

function tagOf(path: string): string {
  return path.split('/')[1] ?? path;
}
