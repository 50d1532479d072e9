// Writes src/contract.ts, the TypeScript types of schema/contract.schema.json (the part of JSON Schema
// the contract uses: type, enum, anyOf, $ref, properties, required, items, additionalProperties).
import { readFileSync, writeFileSync } from 'node:fs';

const SCHEMA = 'schema/contract.schema.json';
const OUTPUT = 'src/contract.ts';
const PRIMITIVES = { string: 'string', number: 'number', integer: 'number', boolean: 'boolean', null: 'null' };

function typeOf(schema, indent) {
  if (schema.$ref) return schema.$ref.replace('#/$defs/', '');
  if (schema.enum) return schema.enum.map((value) => JSON.stringify(value)).join(' | ');
  if (schema.anyOf) return schema.anyOf.map((part) => typeOf(part, indent)).join(' | ');
  if (Array.isArray(schema.type)) return schema.type.map((type) => typeOf({ ...schema, type }, indent)).join(' | ');
  if (schema.type === 'array') return `${wrap(typeOf(schema.items, indent))}[]`;
  if (schema.type === 'object') return objectType(schema, indent);
  if (schema.type in PRIMITIVES) return PRIMITIVES[schema.type];
  throw new Error(`${SCHEMA}: no TypeScript for ${JSON.stringify(schema)}`);
}

function wrap(type) {
  return type.includes('|') ? `(${type})` : type;
}

function comment(schema, indent) {
  return schema.description ? `${indent}/** ${schema.description} */\n` : '';
}

function objectType(schema, indent) {
  if (!schema.properties) return `Record<string, ${typeOf(schema.additionalProperties, indent)}>`;
  const required = new Set(schema.required ?? []);
  const inner = `${indent}  `;
  const lines = Object.entries(schema.properties).map(([name, property]) =>
    `${comment(property, inner)}${inner}${name}${required.has(name) ? '' : '?'}: ${typeOf(property, inner)};`);
  return `{\n${lines.join('\n')}\n${indent}}`;
}

const schema = JSON.parse(readFileSync(SCHEMA, 'utf8'));
const parts = Object.entries(schema.$defs).map(([name, definition]) => {
  const declaration = definition.type === 'object' && definition.properties
    ? `export interface ${name} ${objectType(definition, '')}`
    : `export type ${name} = ${typeOf(definition, '')};`;
  return `${comment(definition, '')}${declaration}\n`;
});
writeFileSync(OUTPUT, `// Generated from ${SCHEMA} by scripts/contract-types.mjs (npm run build): do not edit.\n\n${parts.join('\n')}`);
