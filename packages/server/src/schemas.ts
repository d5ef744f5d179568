/** JSON schemas shared by routes; they drive both request validation and the OpenAPI document at /docs. */

export const errorSchema = {
  type: 'object',
  properties: {
    code: { type: 'string', description: 'Stable IIP_ERR_* code (docs/reference/errors.md)' },
    message: { type: 'string' },
    details: { type: 'object', additionalProperties: true },
  },
  required: ['code', 'message'],
} as const;

export const errorResponses = {
  400: errorSchema,
  401: errorSchema,
  403: errorSchema,
  404: errorSchema,
  409: errorSchema,
  413: errorSchema,
  422: errorSchema,
} as const;

const scalarDataTypeProperties = {
  unit: { type: 'string' },
  min: { type: 'number' },
  max: { type: 'number' },
  maxLength: { type: 'integer' },
  trueText: { type: 'string' },
  falseText: { type: 'string' },
  values: { type: 'array', items: { type: 'object', properties: { value: { type: 'string' }, text: { type: 'string' } }, required: ['value'] } },
} as const;

/** The data type of an array's elements (a scalar type). */
const itemDataTypeSchema = {
  type: 'object',
  properties: { type: { type: 'string', enum: ['int', 'float', 'bool', 'string', 'enum'] }, ...scalarDataTypeProperties },
  required: ['type'],
} as const;

// Every field of every data type is listed: responses are serialised by these schemas, and a field left out
// here would silently vanish from the thing model a client reads back.
export const dataTypeSchema = {
  type: 'object',
  properties: {
    type: { type: 'string', enum: ['int', 'float', 'bool', 'string', 'enum', 'array'] },
    ...scalarDataTypeProperties,
    items: itemDataTypeSchema,
    minItems: { type: 'integer' },
    maxItems: { type: 'integer' },
    dimensions: { type: 'array', items: { type: 'integer' }, description: 'Matrix shape, outermost first; values are sent flat, row-major' },
  },
  required: ['type'],
} as const;

const paramSchema = {
  type: 'object',
  properties: { id: { type: 'string' }, name: { type: 'string' }, dataType: dataTypeSchema, required: { type: 'boolean' } },
  required: ['id', 'dataType'],
} as const;

export const thingModelSchema = {
  type: 'object',
  properties: {
    properties: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          id: { type: 'string' },
          name: { type: 'string' },
          description: { type: 'string' },
          dataType: dataTypeSchema,
          access: { type: 'string', enum: ['r', 'rw'] },
        },
        required: ['id', 'dataType', 'access'],
      },
    },
    events: {
      type: 'array',
      items: {
        type: 'object',
        properties: { id: { type: 'string' }, name: { type: 'string' }, description: { type: 'string' }, level: { type: 'string' }, outputs: { type: 'array', items: paramSchema } },
        required: ['id', 'outputs'],
      },
    },
    services: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          id: { type: 'string' },
          name: { type: 'string' },
          description: { type: 'string' },
          inputs: { type: 'array', items: paramSchema },
          outputs: { type: 'array', items: paramSchema },
        },
        required: ['id', 'inputs', 'outputs'],
      },
    },
  },
  required: ['properties', 'events', 'services'],
} as const;

export const productSchema = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    name: { type: 'string' },
    category: { type: 'string' },
    version: { type: 'integer' },
    createdAt: { type: 'integer' },
    model: thingModelSchema,
  },
} as const;

export const deviceSchema = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    name: { type: 'string' },
    product: { type: 'string' },
    tenant: { type: 'string' },
    createdAt: { type: 'integer' },
    attributes: { type: 'object', additionalProperties: { type: 'string' } },
    asset: { type: ['string', 'null'], description: 'The asset it is placed on (null: not on the tree)' },
  },
} as const;

export const issuedDeviceSchema = {
  type: 'object',
  properties: { device: deviceSchema, secret: { type: 'string', description: 'Shown once; only its hash is stored' } },
} as const;

const scalarValueSchema = { anyOf: [{ type: 'number' }, { type: 'string' }, { type: 'boolean' }] } as const;
/** A property value: a scalar, or an array of scalars (array properties, issue 19). */
export const pointValueSchema = { anyOf: [...scalarValueSchema.anyOf, { type: 'array', items: scalarValueSchema }] } as const;
